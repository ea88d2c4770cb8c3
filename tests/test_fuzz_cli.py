"""The corrupted files of issue 27, handed to the command lines as a user would: each must end with exit code 2, one
line on stderr that names the file, and nothing written (``tools/convert_mocap.py``, ``demo/vis.py --keypoints``,
``train.py --config`` and ``--evaluate``). The valid versions of the same files go through with exit 0."""

from __future__ import annotations

import json
import pickle
import re
import warnings

import numpy as np
import pytest
import torch
import yaml

import train
from demo import vis
from tests._train_data import one_thread, write_config, write_tiny_h36m  # noqa: F401
from tests.fuzz_inputs import alphapose_entries, checkpoint_bytes, demo_npz_arrays, small_bvh_text
from tools import convert_mocap

pytestmark = pytest.mark.usefixtures("one_thread")
BVH = small_bvh_text(30)
FRAMES_LINE = BVH.splitlines().index("Frames: 30")


def _bvh(value: str | None = None, frames: str | None = None, column: int = 7) -> str:
    lines = BVH.splitlines()
    if frames is not None:
        lines[FRAMES_LINE] = f"Frames: {frames}"
    if value is not None:
        parts = lines[FRAMES_LINE + 2 + 17].split()
        parts[column] = value
        lines[FRAMES_LINE + 2 + 17] = " ".join(parts)
    return "\n".join(lines) + "\n"


def _refusal(capsys, code: int) -> str:
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert err.count("\n") == 0 and err.startswith("error: "), err
    return err


@pytest.mark.parametrize("text, message", [
    (_bvh(value="nan"), r"clip.bvh: line 205: frame 17: value 8 \(LHipJoint Yrotation\) is nan; expected finite"),
    (_bvh(value="inf"), r"clip.bvh: line 205: frame 17: value 8 \(LHipJoint Yrotation\) is inf; expected finite"),
    (_bvh(frames="0"), r"clip.bvh: line 186: 'Frames: 0': the file has no motion; expected at least 1 frame"),
    (_bvh(value="1e300", column=0), r"clip.bvh: frame 17: joint 'pelvis' has a coordinate of 5.64e\+301 mm; "
                                    r"expected a person within 10 km"),
])
def test_convert_mocap_refuses_a_corrupt_bvh_and_writes_nothing(tmp_path, capsys, text, message):
    (tmp_path / "clip.bvh").write_text(text)
    out = tmp_path / "out" / "h36m_mocap.pkl"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # NumPy's RuntimeWarning for inf must not be printed either
        code = convert_mocap.main(["--train", str(tmp_path / "clip.bvh"), "--out", str(out)])
    err = _refusal(capsys, code)
    assert re.search(message, err), err
    assert not out.exists() and not (out.parent.exists() and any(out.parent.iterdir()))


def test_convert_mocap_writes_finite_data_for_the_valid_bvh(tmp_path, capsys):
    (tmp_path / "clip.bvh").write_text(BVH)
    out = tmp_path / "h36m_mocap.pkl"
    assert convert_mocap.main(["--train", str(tmp_path / "clip.bvh"), "--out", str(out)]) == 0
    data = pickle.loads(out.read_bytes())
    assert len(data["train"]["source"]) == 4 * 13  # 29 intervals at 120 fps = 0.242 s -> 13 frames at 50 fps
    assert all(np.isfinite(np.asarray(v)).all() for v in data["train"].values() if np.asarray(v).dtype.kind == "f")


def test_non_finite_output_is_never_written(tmp_path):
    data = {"train": {"joint_2d": np.array([[1.0, np.nan]])}, "test": {"joint_2d": np.zeros((1, 2))}}
    with pytest.raises(ValueError, match=r"NaN or inf in 'train/joint_2d'; nothing was written to \S+x.pkl"):
        convert_mocap.write_pickle(data, str(tmp_path / "x.pkl"))
    assert not list(tmp_path.iterdir())


def _alphapose(tmp_path, k: int = 3, **changes) -> str:
    entries = alphapose_entries(30)
    entries[k].update(changes)
    path = tmp_path / "alphapose-results.json"
    path.write_text(json.dumps(entries))
    return str(path)


def _npz(tmp_path, **changes) -> str:
    arrays = {**demo_npz_arrays(frames=30), **changes}
    path = tmp_path / "in" / "keypoints_2d.npz"
    path.parent.mkdir(exist_ok=True)
    np.savez(path, **arrays)
    return str(path)


def _demo(capsys, tmp_path, keypoints: str) -> tuple[int, str]:
    code = vis.main(["--keypoints", keypoints, "--size", "640", "480", "--no-render", "--quiet", "--device", "cpu",
                     "--threads", "1", "--out-dir", str(tmp_path / "out")])
    return code, capsys.readouterr().err.strip()


@pytest.mark.parametrize("make, message", [
    (lambda p: _alphapose(p, keypoints="1,2,3"), r"alphapose-results.json entry 3: the keypoints must hold numbers"),
    (lambda p: _alphapose(p, keypoints=[1e30] * 51), r"entry 3: joint 0 x = 1e\+30 px is beyond ±100000 px"),
    (lambda p: _npz(p, h36m=np.full((1, 30, 17, 3), "abc")), r"keypoints_2d.npz: 'h36m' holds <U3 values"),
    (lambda p: _npz(p, h36m=np.zeros((1, 0, 17, 3), np.float32)), r"keypoints_2d.npz: 'h36m' has shape \(1, 0, 17"),
])
def test_the_demo_refuses_corrupt_keypoint_files_and_writes_nothing(tmp_path, capsys, make, message):
    code, err = _demo(capsys, tmp_path, make(tmp_path))
    assert code == 2 and err.count("\n") == 0 and re.search(message, err), err
    assert not (tmp_path / "out").exists()


def test_the_demo_lifts_the_valid_keypoint_files(tmp_path, capsys):
    code, err = _demo(capsys, tmp_path, _alphapose(tmp_path))
    assert code == 0, err
    with np.load(tmp_path / "out" / "keypoints_3d.npz") as z:
        assert z["poses"].shape == (1, 30, 17, 3) and np.isfinite(z["poses"]).all()


@pytest.mark.parametrize("text, message", [
    ("epochs: [1, 2\nfoo: : bar\n", "c.yaml: line 2, column 4: not valid YAML (expected ',' or ']', but got ':'); "
                                    "expected a YAML mapping of key: value lines"),
    ("dim_feat: 100000000\n", "c.yaml: key 'dim_feat' is 100000000; allowed: an integer [1, 8192]"),
    ("batch_size: 100000\n", "c.yaml: key 'batch_size' is 100000; allowed: an integer [1, 65536]"),
])
def test_train_refuses_a_bad_config_before_building_anything(tmp_path, capsys, monkeypatch, text, message):
    monkeypatch.setattr("lib.model.build_model", lambda *a, **k: pytest.fail("the model was built"))
    path = tmp_path / "c.yaml"
    path.write_text(text)
    err = _refusal(capsys, train.main(["--config", str(path), "-c", str(tmp_path / "ck"), "--device", "cpu"]))
    assert err == f"error: {tmp_path}/{message}"
    assert not (tmp_path / "ck").exists()


@pytest.mark.parametrize("flag", ["--evaluate", "--pretrained", "--resume"])
@pytest.mark.parametrize("damage", ["truncated", "nan weights", "not a checkpoint"])
def test_train_refuses_a_damaged_checkpoint(tmp_path, capsys, damage, flag):
    cfg = write_config(tmp_path / "c.yaml", write_tiny_h36m(tmp_path / "d"))
    ckpt = tmp_path / "best_epoch.bin"
    if damage == "truncated":
        ckpt.write_bytes(checkpoint_bytes()[:-100])
    elif damage == "nan weights":
        state = torch.load(__import__("io").BytesIO(checkpoint_bytes()), weights_only=True)
        next(iter(state["model_pos"].values())).fill_(float("nan"))
        torch.save(state, ckpt)
    else:
        ckpt.write_text(yaml.safe_dump({"model_pos": "weights"}))
    err = _refusal(capsys, train.main(["--config", str(cfg), flag, str(ckpt), "-c", str(tmp_path / "ck"),
                                       "--device", "cpu", "--no-progress", "epochs=1"]))
    assert "best_epoch.bin" in err and ("cannot read checkpoint" in err or "NaN or infinite" in err), err
    assert not (tmp_path / "ck").exists() or not any((tmp_path / "ck").rglob("*.bin"))
    assert not (tmp_path / "ck").exists() or not any((tmp_path / "ck").rglob("*results*"))
