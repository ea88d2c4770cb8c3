import pytest
import torch

from lib.model.line_pose_graph import LinePoseGraph, bone_midpoints, line_pose_graph
from lib.utils.skeleton import H36M_PARENTS


def test_h36m_midpoints_by_hand():
    x = torch.arange(17 * 3, dtype=torch.float32).reshape(1, 1, 17, 3)
    out = line_pose_graph(x, H36M_PARENTS)
    assert out.shape == (1, 1, 17, 6)
    torch.testing.assert_close(out[..., :3], x)
    mid = out[0, 0, :, 3:]
    # root keeps its own values; r_knee (2) with r_hip (1); l_wrist (13) with l_elbow (12); head (10) with nose (9)
    torch.testing.assert_close(mid[0], x[0, 0, 0])
    torch.testing.assert_close(mid[2], (x[0, 0, 2] + x[0, 0, 1]) / 2)
    torch.testing.assert_close(mid[13], (x[0, 0, 13] + x[0, 0, 12]) / 2)
    torch.testing.assert_close(mid[10], (x[0, 0, 10] + x[0, 0, 9]) / 2)
    torch.testing.assert_close(mid[14], torch.tensor([(14 * 3 + 8 * 3) / 2 + i for i in range(3)]))


def test_any_skeleton():
    parents = [-1, 0, 1, 0]  # a chain and a branch
    x = torch.tensor([[0.0, 0], [2, 0], [2, 4], [-2, 2]])
    expected = torch.tensor([[0.0, 0], [1, 0], [2, 2], [-1, 1]])
    torch.testing.assert_close(bone_midpoints(x, parents), expected)
    torch.testing.assert_close(LinePoseGraph(parents)(x)[:, 2:], expected)


def test_bad_parent_lists():
    with pytest.raises(ValueError, match="3 joints"):
        bone_midpoints(torch.zeros(3, 2), [-1, 0])
    with pytest.raises(ValueError, match="invalid parent"):
        LinePoseGraph([-1, 1])
