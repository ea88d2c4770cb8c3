"""The public API ``sct.Lifter``: pretrained lifters, checkpoints that carry their config, shapes, the stream
against the offline computation, and one-line errors for bad input."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch

from lib.engine.trainer import checkpoint_state
from lib.model import MODEL_KEYS, build_model
from lib.utils.checkpoint import save_checkpoint
from lib.utils.config import validate_config
from sct import PRETRAINED, Lifter, coco_to_h36m, scale_to_height, skeleton_height
from tests.tiny_models import tiny_config

ROOT = Path(__file__).resolve().parents[1]
WIDTH, HEIGHT = 1000, 800


@pytest.fixture(scope="module")
def lifter() -> Lifter:
    return Lifter.pretrained("mocap-sct", device="cpu")


def walking_keypoints(num_frames: int, seed: int = 0) -> np.ndarray:
    """A plausible 2D skeleton ``(T, 17, 3)`` in pixels, swaying and walking across the image."""
    rng = np.random.default_rng(seed)
    base = np.array([[0, 0], [-12, 0], [-14, 45], [-15, 90], [12, 0], [14, 45], [15, 90], [0, -25], [0, -50],
                     [0, -60], [0, -75], [18, -48], [26, -25], [30, -2], [-18, -48], [-26, -25], [-30, -2]], float)
    t = np.arange(num_frames)[:, None, None]
    pts = base[None] * 2.0 + np.stack([400 + 2.0 * t[..., 0], 400 + 5 * np.sin(t[..., 0] / 6)], axis=-1)
    pts[:, [3, 13]] += 15 * np.sin(np.arange(num_frames) / 5)[:, None, None]
    pts += rng.normal(scale=1.0, size=pts.shape)
    return np.concatenate([pts, np.full(pts.shape[:-1] + (1,), 0.9)], axis=-1).astype(np.float32)


def test_pretrained_names_and_shapes(lifter):
    assert set(PRETRAINED) == {"mocap-sct", "mocap-dstformer"}
    assert lifter.window == 81 and lifter.stride == 40
    kp = walking_keypoints(130)
    one = lifter.lift(kp, WIDTH, HEIGHT)
    assert one.shape == (130, 17, 3) and one.dtype == np.float32 and np.isfinite(one).all()
    np.testing.assert_allclose(one[:, 0], 0)  # root-relative
    other = walking_keypoints(130, seed=1)
    two = lifter.lift(np.stack([kp, other]), WIDTH, HEIGHT)
    assert two.shape == (2, 130, 17, 3)
    np.testing.assert_allclose(two[0], one, atol=1e-6)
    np.testing.assert_allclose(two[1], lifter.lift(other, WIDTH, HEIGHT), atol=1e-6)
    xy_only = lifter.lift(kp[..., :2], WIDTH, HEIGHT)  # confidence 1 when absent
    assert xy_only.shape == (130, 17, 3)
    for frames in (1, 5):  # shorter than a window: still one pose per frame
        assert lifter.lift(kp[:frames], WIDTH, HEIGHT).shape == (frames, 17, 3)


def test_flip_averages_with_the_mirrored_prediction(lifter):
    kp = walking_keypoints(90)
    plain = lifter.lift(kp, WIDTH, HEIGHT, flip=False)
    mirrored = kp.copy()
    mirrored[..., 0] = WIDTH - mirrored[..., 0]
    left, right = [4, 5, 6, 11, 12, 13], [1, 2, 3, 14, 15, 16]
    mirrored[:, left + right] = mirrored[:, right + left]
    back = lifter.lift(mirrored, WIDTH, HEIGHT, flip=False)
    back[..., 0] *= -1
    back[:, left + right] = back[:, right + left]
    np.testing.assert_allclose(lifter.lift(kp, WIDTH, HEIGHT), (plain + back) / 2, atol=2e-5)


@pytest.mark.parametrize("lookahead, num_frames", [
    pytest.param(0, 100, marks=pytest.mark.slow), (10, 30), pytest.param(40, 100, marks=pytest.mark.slow), (40, 30)])
def test_stream_gives_what_the_offline_lookahead_computation_gives(lifter, lookahead, num_frames):
    kp = walking_keypoints(num_frames, seed=lookahead)
    offline = lifter.lift(kp, WIDTH, HEIGHT, lookahead=lookahead)
    stream = lifter.stream(WIDTH, HEIGHT, lookahead=lookahead)
    got = [stream.push(frame) for frame in kp]
    assert all(p is None for p in got[:lookahead]) and all(p is not None for p in got[lookahead:])
    rest = stream.flush()
    assert rest.shape == (min(lookahead, num_frames), 17, 3)
    streamed = np.concatenate([np.array(got[lookahead:], dtype=np.float32).reshape(-1, 17, 3), rest])
    np.testing.assert_allclose(streamed, offline, atol=1e-5)
    assert stream.flush().shape == (0, 17, 3)  # nothing is owed twice


def test_scale_to_height_gives_millimetres(lifter):
    poses = lifter.lift(walking_keypoints(60), WIDTH, HEIGHT)
    mm, factor = scale_to_height(poses, 1800)
    assert mm.shape == poses.shape and factor.shape == ()
    assert np.median(skeleton_height(mm)) == pytest.approx(1800, rel=1e-6)


def _error(fn) -> str:
    with pytest.raises(ValueError) as info:
        fn()
    message = str(info.value)
    assert "\n" not in message
    return message


def test_bad_inputs_are_one_line_value_errors(lifter):
    kp = walking_keypoints(20)
    assert "(T, 17, 2|3)" in _error(lambda: lifter.lift(kp[:, :16], WIDTH, HEIGHT))
    bad = kp.copy()
    bad[3, 5, 0] = np.nan
    assert _error(lambda: lifter.lift(bad, WIDTH, HEIGHT)).startswith("keypoints hold a non-finite value at index "
                                                                      "(3, 5, 0)")
    bad[3, 5, 0] = np.inf
    assert "non-finite" in _error(lambda: lifter.lift(bad, WIDTH, HEIGHT))
    assert _error(lambda: lifter.lift(kp, 0, HEIGHT)) == "image width must be a positive number of pixels, got 0"
    assert _error(lambda: lifter.lift(kp, WIDTH, -5)) == "image height must be a positive number of pixels, got -5"
    assert "empty" in _error(lambda: lifter.lift(np.zeros((0, 17, 2)), WIDTH, HEIGHT))
    assert "must be an array of numbers" in _error(lambda: lifter.lift([[["a", "b"]] * 17], WIDTH, HEIGHT))
    assert _error(lambda: Lifter.pretrained("h36m-huge")) == (
        "unknown pretrained lifter 'h36m-huge'; choose one of: mocap-sct, mocap-dstformer")
    assert "lookahead must be a whole number of frames from 0 to 80" in _error(lambda: lifter.stream(WIDTH, HEIGHT, 81))
    stream = lifter.stream(WIDTH, HEIGHT)
    assert "frame keypoints must have shape" in _error(lambda: stream.push(np.zeros((16, 2))))
    assert "unknown inference path 'fast'" in _error(lambda: Lifter.pretrained(device="cpu", inference_path="fast"))


def test_a_train_py_checkpoint_needs_no_yaml_and_a_disagreeing_one_is_named(tmp_path):
    cfg = validate_config(tiny_config(maxlen=9))
    model = build_model(cfg)
    optimizer = torch.optim.AdamW(model.parameters())
    path = tmp_path / "latest_epoch.bin"
    save_checkpoint(path, checkpoint_state(model, optimizer, 3, 1e-3, 99.0, cfg))
    lifter = Lifter.from_checkpoint(path, device="cpu")
    assert lifter.window == 9 and lifter.config["dim_feat"] == 16
    x = walking_keypoints(9)
    expected = model.eval()(torch.from_numpy(lifter_inputs(x))[None]).detach().numpy()[0]
    got = lifter.lift(x, WIDTH, HEIGHT, flip=False)
    np.testing.assert_allclose(got, expected - expected[:, :1], atol=1e-5)

    other = tmp_path / "other.yaml"
    other.write_text("dim_feat: 32\ndim_rep: 24\ndepth: 2\nnum_heads: 2\nmlp_ratio: 2\nmaxlen: 9\n"
                     "dct_ratio: 0.6\nfreq_prune_layer: [0, 1]\n")
    message = _error(lambda: Lifter.from_checkpoint(path, other, device="cpu"))
    assert message.startswith(f"{other} does not match the model of {path} (dim_feat: 32 in the config, 16 in the "
                              "checkpoint)")

    released_layout = tmp_path / "released.bin"  # the released files carry no config
    torch.save({"model_pos": {f"module.{k}": v for k, v in model.state_dict().items()}}, released_layout)
    assert "does not carry its model config" in _error(lambda: Lifter.from_checkpoint(released_layout))
    same = tmp_path / "same.yaml"
    same.write_text(other.read_text().replace("dim_feat: 32", "dim_feat: 16"))
    assert Lifter.from_checkpoint(released_layout, same, device="cpu").window == 9
    wrong = _error(lambda: Lifter.from_checkpoint(released_layout, other, device="cpu"))
    assert "does not fit the model" in wrong and str(released_layout) in wrong
    assert _error(lambda: Lifter.from_checkpoint(tmp_path / "none.bin")).startswith("checkpoint not found")


def lifter_inputs(keypoints: np.ndarray) -> np.ndarray:
    from sct.lifter import normalize_keypoints

    return normalize_keypoints(keypoints, WIDTH, HEIGHT)


def test_shipped_checkpoints_carry_the_config_of_their_yaml():
    for name in PRETRAINED:
        lifter = Lifter.pretrained(name, device="cpu")
        obj = torch.load(ROOT / "checkpoint" / "mocap" / name.removeprefix("mocap-") / "best_epoch.bin",
                         weights_only=True)
        assert "model_args" in obj, name
        carried = Lifter.from_checkpoint(ROOT / "checkpoint" / "mocap" / name.removeprefix("mocap-") / "best_epoch.bin",
                                         device="cpu")
        assert {k: carried.config[k] for k in MODEL_KEYS} == {k: lifter.config[k] for k in MODEL_KEYS}


@pytest.mark.slow
def test_readme_python_example_runs():
    text = (ROOT / "README.md").read_text()
    match = re.search(r"## Use from Python\n.*?```python\n(.*?)```", text, re.S)
    assert match, "README.md has no 'Use from Python' section with a python block"
    namespace: dict = {}
    exec(compile(match.group(1), "README.md", "exec"), namespace)  # noqa: S102
    assert namespace["poses_mm"].shape[-2:] == (17, 3)
    assert np.isfinite(namespace["poses_mm"]).all()


def test_coco_converter_is_public():
    coco = walking_keypoints(3)[:, :17, :2]
    h36m, conf = coco_to_h36m(coco, np.ones(coco.shape[:-1]))
    assert h36m.shape == (3, 17, 2) and conf.shape == (3, 17)
