"""tools/export_bvh.py (sct-export-bvh): one BVH per person from a demo keypoints_3d.npz; exit 2 with one
line and no file for bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lib.data.sources.bvh import read_bvh
from lib.data.sources.mocap import bvh_to_world
from lib.utils.skeleton import H36M_JOINT_NAMES
from sct.bvh import with_bone_lengths
from sct.export_bvh import main

DATA = Path(__file__).parent / "data" / "cmu_mocap"


@pytest.fixture(scope="module")
def two_people() -> np.ndarray:
    """Two people (2, 62, 17, 3) world mm, y up, with constant bone lengths."""
    people = []
    for name in ("06_01.bvh.gz", "60_01.bvh.gz"):
        w = bvh_to_world(DATA / name)[:62]
        people.append(with_bone_lengths(np.stack([w[..., 0], w[..., 2], -w[..., 1]], axis=-1)))
    return np.stack(people)


def fk(path: Path) -> np.ndarray:
    motion = read_bvh(path)
    return motion.positions()[:, [motion.index(n) for n in H36M_JOINT_NAMES]]


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_writes_one_bvh_per_person_from_world_poses(tmp_path, capsys, two_people):
    npz = tmp_path / "keypoints_3d.npz"
    np.savez(npz, poses_world_mm=two_people.astype(np.float32), poses_mm=two_people - two_people[..., :1, :])
    np.savez(tmp_path / "keypoints_2d.npz", fps=np.float64(25.0))
    code, out, err = run(capsys, npz, "--out", tmp_path / "bvh")
    assert code == 0, err
    assert out.splitlines() == [f"wrote {tmp_path / 'bvh' / f'person_{p}.bvh'}" for p in (0, 1)]
    for p in range(2):
        path = tmp_path / "bvh" / f"person_{p}.bvh"
        assert read_bvh(path).frame_time == pytest.approx(0.04)  # the fps of keypoints_2d.npz beside it
        np.testing.assert_allclose(fk(path), two_people[p], atol=0.05)  # float32 in the npz


def test_older_npz_without_world_poses_falls_back_to_root_relative(tmp_path, capsys, two_people):
    npz = tmp_path / "keypoints_3d.npz"
    relative = two_people - two_people[..., :1, :]
    camera = np.stack([relative[..., 0], -relative[..., 1], -relative[..., 2]], axis=-1)  # y down, z forward
    np.savez(npz, poses_mm=camera)
    code, out, err = run(capsys, npz, "--fps", "50")
    assert code == 0, err
    assert err.startswith("keypoints_3d.npz has no poses_world_mm (written by an older demo): the BVH root turns")
    assert out.splitlines() == [f"wrote {tmp_path / f'person_{p}.bvh'}" for p in (0, 1)]
    back = np.stack([fk(tmp_path / f"person_{p}.bvh") for p in (0, 1)])
    assert np.ptp(back[..., 0, [0, 2]], axis=1).max() < 1e-6  # each pelvis stays above one point
    assert np.median(back[..., [3, 6], 1].min(-1)) == pytest.approx(80.0)  # lower ankles 80 mm above the floor
    shape = back - back[..., :1, :]
    np.testing.assert_allclose(np.linalg.norm(shape, axis=-1), np.linalg.norm(relative, axis=-1), atol=0.01)
    code, out, _ = run(capsys, npz, "--fps", "50", "--person", "1", "--out", tmp_path / "one")
    assert code == 0 and out.splitlines() == [f"wrote {tmp_path / 'one' / 'person_1.bvh'}"]


@pytest.mark.parametrize("arrays, argv, message", [
    ({"poses_world_mm": np.zeros((0, 10, 17, 3))}, ["--fps", "25"], "holds no person (0 people); nothing to export"),
    ({"poses_world_mm": "people"}, ["--fps", "25"], "poses_world_mm must hold numbers, got <U6"),
    ({"poses_world_mm": np.zeros((2, 5, 16, 3))}, ["--fps", "25"],
     "poses must have shape (P, T, 17, 3), got (2, 5, 16, 3)"),
    ({"other": np.zeros(3)}, ["--fps", "25"], "holds neither poses_world_mm nor poses_mm; give the keypoints_3d.npz"),
    ("nan person", ["--fps", "25"], "person 1 is never seen in any frame; leave it out (--person with the others)"),
    ("missing person", ["--fps", "25"], "person 0 is never seen in any frame"),
    ("ok", [], "no frame rate stored (no fps in it or in keypoints_2d.npz beside it); give --fps"),
    ("ok", ["--fps", "25", "--person", "2"], "no person 2 (it holds 2: 0..1)"),
])
def test_bad_input_exits_2_with_one_line_and_writes_nothing(tmp_path, capsys, two_people, arrays, argv, message):
    npz = tmp_path / "keypoints_3d.npz"
    if arrays == "nan person":
        poses = two_people.copy()
        poses[1] = np.nan
        arrays = {"poses_world_mm": poses}
    elif arrays == "missing person":
        arrays = {"poses_world_mm": two_people, "missing": np.array([[True] * 62, [False] * 62])}
    elif arrays == "ok":
        arrays = {"poses_world_mm": two_people}
    np.savez(npz, **arrays)
    code, out, err = run(capsys, npz, *argv)
    assert code == 2
    assert err.count("\n") == 1 and err.startswith(f"error: {npz}: {message}")
    assert out == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keypoints_3d.npz"]


def test_other_bad_input(tmp_path, capsys):
    code, _, err = run(capsys, tmp_path / "none.npz")
    assert code == 2
    assert err == f"error: {tmp_path / 'none.npz'}: no such file (give the keypoints_3d.npz written by demo/vis.py)\n"
    (tmp_path / "text.npz").write_text("not a zip")
    code, _, err = run(capsys, tmp_path / "text.npz")
    assert code == 2 and err.startswith(f"error: {tmp_path / 'text.npz'}: not an npz file") and err.count("\n") == 1
    code, _, err = run(capsys, tmp_path / "text.npz", "--fps", "0")
    assert code == 2 and err == "error: --fps must be a positive number of frames per second, got 0.0\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["text.npz"]
