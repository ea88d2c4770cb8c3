"""Motion-capture corpus: the joint maps of the three cgspeed BVH conventions on real clips, the
frame-rate override, the split by subject, bad input, and the shipped lifters trained on it."""

from __future__ import annotations

import gzip
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest

from lib.data.datareader_h36m import validate_h36m_dict
from lib.data.sources.bvh import read_bvh
from lib.data.sources.mocap import MocapMapError, bvh_to_world, map_joints, select_joint_map
from lib.data.sources.mocap_corpus import (
    MocapClip,
    MocapCorpusError,
    describe_clips,
    find_bvh_files,
    load_clip_index,
    parse_fps_overrides,
    rescale_bones,
    split_by_subject,
)
from lib.utils.skeleton import H36M_PARENTS
from tools import convert_mocap as mocap_cli

DATA = Path(__file__).parent / "data" / "cmu_mocap"
REPO = Path(__file__).resolve().parents[1]
# (file, the map its joint names must choose, frames per second of its motion)
CLIPS = [("131_01.bvh", "cmu", 120.0), ("06_01.bvh.gz", "cmu_motionbuilder", 120.0),
         ("60_01.bvh.gz", "cmu_daz", 60.0)]
LIMBS = [(1, 2), (2, 3), (4, 5), (5, 6), (11, 12), (12, 13), (14, 15), (15, 16)]


def limb_lengths(joints: np.ndarray) -> np.ndarray:
    return np.stack([np.linalg.norm(joints[:, a] - joints[:, b], axis=-1) for a, b in LIMBS], axis=1)


@pytest.mark.parametrize("name, expected_map, _fps", CLIPS)
def test_joint_map_on_a_real_clip(name, expected_map, _fps):
    motion = read_bvh(DATA / name)
    map_name, spec = select_joint_map(motion.names, name)
    assert map_name == expected_map
    joints = map_joints(motion, spec) * spec["units_to_mm"]  # the file's own frames, no resampling
    limbs = limb_lengths(joints)
    assert np.ptp(limbs, axis=0).max() < 1e-6 * limbs.max()  # rigid bones: constant over time
    assert 330 < limbs[:, 0].mean() < 480  # a thigh, mm
    right_leg, left_leg = limbs[:, 0] + limbs[:, 1], limbs[:, 2] + limbs[:, 3]
    assert abs(right_leg.mean() / left_leg.mean() - 1) < 0.03
    world = bvh_to_world(DATA / name, spec)  # z up, mm
    up = world[0, 10] - world[0, 0]  # pelvis -> top of the head in the first (standing) frame
    assert up[2] / np.linalg.norm(up) > np.cos(np.deg2rad(20))
    assert 450 < up[2] < 900
    if name != "60_01.bvh.gz":  # walks: the subject's left (r_hip -> l_hip) is left of the way walked
        across = (world[:, 4, :2] - world[:, 1, :2]).mean(axis=0)
        forward = world[-1, 0, :2] - world[0, 0, :2]
        assert np.linalg.norm(forward) > 500
        assert np.cross(forward, across) / np.linalg.norm(forward) / np.linalg.norm(across) > 0.5


def test_drop_first_frames_and_map_names():
    motion = read_bvh(DATA / "06_01.bvh.gz")
    _, spec = select_joint_map(motion.names, "06_01")
    assert spec["drop_first_frames"] == 1 and len(map_joints(motion, spec)) == len(motion.motion) - 1
    with pytest.raises(MocapMapError, match="^clip.bvh: unknown skeleton, no joint map fits"):
        select_joint_map(["Root", "Arm"], "clip.bvh")


def test_frame_rate_override(tmp_path):
    corpus = tmp_path / "corpus"
    (corpus / "acrnn" / "salsa").mkdir(parents=True)
    shutil.copy(DATA / "60_01.bvh.gz", corpus / "acrnn" / "salsa" / "01.bvh.gz")
    shutil.copy(DATA / "60_01.bvh.gz", corpus / "60_01.bvh.gz")
    files = find_bvh_files(corpus)
    index = load_clip_index()
    clips = {c.rel: c for c in describe_clips(corpus, files, index)}
    # the built-in index knows acRNN's salsa/01 is CMU 60_01 at 60 fps; the CMU-named copy has no entry
    assert (clips["acrnn/salsa/01"].subject, clips["acrnn/salsa/01"].fps) == ("60", 60.0)
    assert clips["acrnn/salsa/01"].action == "salsa dance"
    assert (clips["60_01"].subject, clips["60_01"].fps) == ("60", None)
    over = {c.rel: c for c in describe_clips(corpus, files, index, parse_fps_overrides(["60_*=60"]))}
    assert over["60_01"].fps == 60.0
    # 149 frames after the T-pose: 148 intervals; at 60 fps 2.467 s -> 124 frames at 50 fps, at 120 -> 62
    assert len(bvh_to_world(over["60_01"].path, fps=over["60_01"].fps)) == 124
    assert len(bvh_to_world(clips["60_01"].path)) == 62
    for bad in (["salsa/*"], ["salsa/*=0"], ["=60"], ["x=fast"]):
        with pytest.raises(MocapCorpusError, match="PATTERN=FPS"):
            parse_fps_overrides(bad)


def test_split_by_subject():
    clips = [MocapClip(f"/c/{s}_{t}.bvh", f"{s}_{t}", s, "walk", "walk") for s in ("05", "06", "60", "61")
             for t in ("01", "02")]
    splits = split_by_subject(clips, ["06"], ["61"])
    subjects = {k: {c.subject for c in v} for k, v in splits.items()}
    assert subjects == {"train": {"05", "60"}, "test": {"06"}, "validation": {"61"}}
    assert split_by_subject(clips, ["06"], train_subjects=["05"])["train"] == clips[:2]
    with pytest.raises(MocapCorpusError, match=r"/c/06_01.bvh: subject 06 is in both the test and the train"):
        split_by_subject(clips, ["06"], train_subjects=["05", "06"])
    with pytest.raises(MocapCorpusError, match="subject 61 is in both the test and the validation"):
        split_by_subject(clips, ["61"], ["61"])
    with pytest.raises(MocapCorpusError, match="99 have no clip"):
        split_by_subject(clips, ["99"])
    with pytest.raises(MocapCorpusError, match="train split has no clip"):
        split_by_subject(clips, ["05", "06", "60", "61"])


def test_rescale_bones_keeps_directions():
    rng = np.random.default_rng(0)
    joints = rng.normal(size=(3, 17, 3)) * 100
    factors = np.linspace(0.8, 1.2, 17)
    out = rescale_bones(joints, factors)
    np.testing.assert_allclose(out[:, 0], joints[:, 0])
    for j, p in enumerate(H36M_PARENTS):
        if p >= 0:
            np.testing.assert_allclose(out[:, j] - out[:, p], (joints[:, j] - joints[:, p]) * factors[j])


def make_corpus(root: Path) -> Path:
    """Four subjects, three conventions: 131 (3ds Max), 06 (MotionBuilder), 60 (Daz, two clips)."""
    (root / "daz").mkdir(parents=True)
    shutil.copy(DATA / "131_01.bvh", root / "131_01.bvh")
    shutil.copy(DATA / "06_01.bvh.gz", root / "06_01.bvh.gz")
    shutil.copy(DATA / "60_01.bvh.gz", root / "daz" / "60_01.bvh.gz")
    shutil.copy(DATA / "60_01.bvh.gz", root / "daz" / "60_02.bvh.gz")
    return root


def test_convert_corpus_cli(tmp_path, capsys):
    corpus = make_corpus(tmp_path / "corpus")
    out, val_out = tmp_path / "m.pkl", tmp_path / "v.pkl"
    args = ["--root", str(corpus), "--test-subjects", "06", "--val-subjects", "131", "--fps", "daz/*=60",
            "--synthetic-fraction", "0.2", "--out", str(out), "--val-out", str(val_out)]
    assert mocap_cli.main(args) == 0
    printed = capsys.readouterr().out
    assert "train: subjects 60 (2 clips" in printed and "test: subjects 06 (1 clips" in printed
    data, val = pickle.loads(out.read_bytes()), pickle.loads(val_out.read_bytes())
    validate_h36m_dict(data, str(out))
    validate_h36m_dict(val, str(val_out))
    assert data["subjects"] == {"train": ["60"], "test": ["06"]} and val["subjects"]["test"] == ["131"]
    train_src, test_src = set(data["train"]["source"]), set(data["test"]["source"])
    assert not train_src & test_src
    assert {s[:-6] for s in test_src} == {"06_01"}
    assert {s[:-6] for s in train_src if not s.startswith("synthetic/")} == {"daz/60_01", "daz/60_02"}
    # the salsa clips at 60 fps: 124 frames each, 4 cameras; whole synthetic videos (330-420 frames) until
    # they make at least 20 % of the train split: here one
    real = sum(1 for s in data["train"]["source"] if not s.startswith("synthetic/"))
    assert real == 2 * 124 * 4
    synthetic = {s[:-6] for s in train_src if s.startswith("synthetic/")}
    assert len(synthetic) == 1 and 330 * 4 <= len(data["train"]["source"]) - real <= 420 * 4
    assert set(data["test"]["action"]) == {"walk"}  # CMU 06_01 in the built-in clip index
    np.testing.assert_array_equal(val["train"]["joint_2d"], data["train"]["joint_2d"])
    rows = {r["file"]: r for r in data["clips"]}
    assert rows["daz/60_01"]["fps"] == 60.0 and rows["06_01"]["split"] == "test"
    assert rows["06_01"]["body_scale"] == 1.0 and rows["daz/60_01"]["body_scale"] != 1.0


def bad_bvh(text_from: Path, cut) -> str:
    with gzip.open(text_from, "rt") as fh:
        return cut(fh.read())


@pytest.mark.parametrize("case, message", [
    ("empty", "empty folder"),
    ("unknown", "unknown skeleton"),
    ("channels", "holds 95 values, the hierarchy declares 96 channels"),
    ("truncated", "'Frames: 150' but only 100 frame lines"),
    ("both", "subject 06 is in both"),
])
def test_convert_corpus_bad_input(tmp_path, capsys, case, message):
    corpus = make_corpus(tmp_path / "corpus")
    broken = corpus / "06_02.bvh"
    lines = bad_bvh(DATA / "06_01.bvh.gz", str.splitlines)
    motion_at = lines.index("MOTION")
    if case == "empty":
        shutil.rmtree(corpus)
        corpus.mkdir()
    elif case == "unknown":
        head = "HIERARCHY\nROOT Base\n{\nOFFSET 0 0 0\nCHANNELS 3 Xposition Yposition Zposition\n}\n"
        broken.write_text(head + "MOTION\nFrames: 2\nFrame Time: 0.01\n0 0 0\n1 1 1\n")
    elif case == "channels":
        lines[motion_at + 5] = " ".join(lines[motion_at + 5].split()[:-1])
        broken.write_text("\n".join(lines) + "\n")
    elif case == "truncated":
        broken.write_text("\n".join(lines[: motion_at + 3 + 100]) + "\n")
    args = ["--root", str(corpus), "--test-subjects", "06", "--out", str(tmp_path / "m.pkl")]
    if case == "both":
        args += ["--train-subjects", "06", "60"]
    assert mocap_cli.main(args) == 2
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip() and not ln.startswith("mocap clips")]
    assert len(err) == 1 and err[0].startswith("error: ") and message in err[0]  # one line, no traceback
    if case in ("unknown", "channels", "truncated", "both"):
        assert "06_0" in err[0]  # names the file
    assert not (tmp_path / "m.pkl").exists()


# P1 / P2 (mm) of the shipped lifters on the sample below (held-out CMU clips 06_01 and 131_01, 1,868 frames),
# measured 2026-12-07 with this test's commands; a change of the lifter or of the evaluation moves them
SHIPPED_SAMPLE_ERRORS = {"sct": (89.4, 61.8), "dstformer": (90.4, 66.4)}


@pytest.mark.slow
@pytest.mark.parametrize("name", ["sct", "dstformer"])
def test_shipped_mocap_lifter_evaluates(tmp_path, name):
    """The committed checkpoint loads into its config's model and gives its documented error on a small
    converted sample of real motion (two held-out-style clips), within 1.5 mm."""
    from lib.data.convert_h36m import convert_h36m
    from lib.engine.trainer import TrainOptions, run
    from lib.utils.config import load_config

    config = REPO / "configs" / "mocap" / f"{name}.yaml"
    shipped = REPO / "checkpoint" / "mocap" / name / "best_epoch.bin"
    assert shipped.stat().st_size <= 25 * 2**20
    corpus = make_corpus(tmp_path / "corpus")
    assert mocap_cli.main(["--root", str(corpus), "--test-subjects", "06", "131", "--fps", "daz/*=60",
                           "--out", str(tmp_path / "sample.pkl")]) == 0
    cfg = load_config(config)
    convert_h36m(str(tmp_path), "sample.pkl", tmp_path / "clips" / "MOCAP", clip_len=cfg.clip_len,
                 stride=cfg.data_stride, fmt="npy")
    overrides = [f"dt_root={tmp_path}", "dt_file=sample.pkl", f"data_root={tmp_path / 'clips'}/"]
    common = dict(config=str(config), device="cpu", workers=0, overrides=overrides, progress=False)
    result = run(TrainOptions(evaluate=str(shipped), **common), log=lambda *a: None).result
    assert set(result.per_action) == {"walk"} and result.num_frames == 1868
    p1, p2 = SHIPPED_SAMPLE_ERRORS[name]
    assert result.p1 == pytest.approx(p1, abs=1.5) and result.p2 == pytest.approx(p2, abs=1.5)
