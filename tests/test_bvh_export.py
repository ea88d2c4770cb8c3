"""sct.bvh: joint positions -> BVH -> forward kinematics gives the positions back; an independent parser
from PyPI (bvhio) reads the same; frames without the person; bad input writes nothing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lib.data.sources.bvh import parse_bvh, read_bvh
from lib.data.sources.mocap import bvh_to_world
from lib.utils.skeleton import H36M_JOINT_NAMES, H36M_PARENTS
from sct.bvh import bone_lengths, bvh_text, fill_missing, with_bone_lengths, write_bvh

DATA = Path(__file__).parent / "data" / "cmu_mocap"
CLIPS = ("06_01.bvh.gz", "60_01.bvh.gz", "131_01.bvh")  # three CMU skeleton conventions


def y_up_motion(name: str) -> np.ndarray:
    """A CMU clip as the 17 Human3.6M joints (T, 17, 3) mm, turned from Human3.6M's z up to y up."""
    w = bvh_to_world(DATA / name)
    return np.stack([w[..., 0], w[..., 2], -w[..., 1]], axis=-1)


def fk_joints(text: str) -> np.ndarray:
    """Forward kinematics of a BVH text (the project's own reader), the 17 Human3.6M joints (T, 17, 3)."""
    motion = parse_bvh(text)
    return motion.positions()[:, [motion.index(n) for n in H36M_JOINT_NAMES]]


@pytest.mark.parametrize("clip", CLIPS)
def test_positions_bvh_forward_kinematics_round_trip(clip):
    positions = with_bone_lengths(y_up_motion(clip))  # constant bone lengths: the BVH can hold them exactly
    back = fk_joints(bvh_text(positions, fps=50))
    err = np.linalg.norm(back - positions, axis=-1)
    assert err.max() < 1.0  # mm (measured: 0.0002 mm; the 5 decimals written)


def test_varying_bone_lengths_come_back_at_the_median_lengths():
    raw = y_up_motion("60_01.bvh.gz")  # its converted bones vary by up to 6 mm
    back = fk_joints(bvh_text(raw, fps=50))
    np.testing.assert_allclose(back, with_bone_lengths(raw), atol=1e-3)
    lengths = np.stack([np.linalg.norm(back[:, j] - back[:, p], axis=-1)
                        for j, p in enumerate(H36M_PARENTS) if p >= 0], axis=1)
    np.testing.assert_allclose(lengths, np.broadcast_to(bone_lengths(raw)[1:], lengths.shape), atol=1e-3)


def test_an_independent_parser_reads_the_same_joint_positions(tmp_path):
    bvhio = pytest.importorskip("bvhio")
    positions = with_bone_lengths(y_up_motion("06_01.bvh.gz"))
    path = tmp_path / "person_0.bvh"
    write_bvh(path, positions, fps=50)
    root = bvhio.readAsHierarchy(str(path))
    by_name = {joint.Name: joint for joint, _, _ in root.layout()}
    assert set(H36M_JOINT_NAMES) <= set(by_name)
    for frame in (0, len(positions) // 2, len(positions) - 1):
        root.loadPose(frame)
        got = np.array([list(by_name[n].PositionWorld) for n in H36M_JOINT_NAMES])
        np.testing.assert_allclose(got, positions[frame], atol=0.05)  # bvhio computes in float32


def test_header_channels_and_frame_time():
    text = bvh_text(with_bone_lengths(y_up_motion("06_01.bvh.gz")), fps=25)
    assert "CHANNELS 6 Xposition Yposition Zposition Yrotation Zrotation Xrotation" in text
    assert text.count("CHANNELS 3 Yrotation Zrotation Xrotation") == 20
    assert text.count("End Site") == 5
    assert "\nFrame Time: 0.04000000\n" in text
    motion = parse_bvh(text)
    assert motion.motion.shape == (62, 6 + 3 * 20)


def test_frames_without_the_person_hold_the_last_pose_seen(tmp_path):
    positions = with_bone_lengths(y_up_motion("06_01.bvh.gz"))
    gappy = positions.copy()
    gappy[:3] = np.nan  # not yet seen: the first pose seen
    gappy[10:15] = np.nan  # lost for a while: the last pose seen
    gappy[20, 5] = np.nan  # one joint missing makes the frame unseen too
    path = tmp_path / "gappy.bvh"
    write_bvh(path, gappy, fps=50)
    text = path.read_text()
    assert "nan" not in text.lower() and "inf" not in text.lower()
    back = read_bvh(path).positions()[:, [read_bvh(path).index(n) for n in H36M_JOINT_NAMES]]
    for frames, source in ((range(0, 3), 3), (range(10, 15), 9), ((20,), 19)):
        for f in frames:
            np.testing.assert_allclose(back[f], positions[source], atol=1e-3)
    np.testing.assert_allclose(back[30], positions[30], atol=1e-3)


def test_fill_missing():
    pos = np.arange(4 * 17 * 3, dtype=float).reshape(4, 17, 3)
    pos[0] = pos[2] = np.nan
    filled = fill_missing(pos)
    np.testing.assert_array_equal(filled[[0, 1, 2, 3]], pos[[1, 1, 1, 3]])


def test_bad_input_writes_nothing(tmp_path):
    path = tmp_path / "out.bvh"
    with pytest.raises(ValueError, match="^the person is never seen: no frame has all 17 joints$"):
        write_bvh(path, np.full((5, 17, 3), np.nan), fps=50)
    with pytest.raises(ValueError, match="^the frame rate must be a positive number of frames per second, got 0$"):
        write_bvh(path, y_up_motion("06_01.bvh.gz"), fps=0)
    with pytest.raises(ValueError, match=r"^positions must have shape \(T, 17, 3\)"):
        write_bvh(path, np.zeros((5, 16, 3)), fps=50)
    assert list(tmp_path.iterdir()) == []
