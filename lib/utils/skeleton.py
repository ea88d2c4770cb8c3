"""The Human3.6M 17-joint skeleton: joint names, parents, left/right sides, and horizontal flipping."""

from __future__ import annotations

import numpy as np
import torch

H36M_JOINT_NAMES: tuple[str, ...] = (
    "pelvis", "r_hip", "r_knee", "r_ankle", "l_hip", "l_knee", "l_ankle", "spine", "thorax",
    "nose", "head", "l_shoulder", "l_elbow", "l_wrist", "r_shoulder", "r_elbow", "r_wrist",
)
# parent of each joint; -1 marks the root (pelvis)
H36M_PARENTS: tuple[int, ...] = (-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 9, 8, 11, 12, 8, 14, 15)
H36M_LEFT: tuple[int, ...] = (4, 5, 6, 11, 12, 13)
H36M_RIGHT: tuple[int, ...] = (1, 2, 3, 14, 15, 16)


def joint_side(joint: int) -> str:
    """``'left'``, ``'right'`` or ``'mid'``: the side of the body a joint (and the bone to its parent) is on,
    for colouring skeletons."""
    return "left" if joint in H36M_LEFT else "right" if joint in H36M_RIGHT else "mid"


def flip_permutation(num_joints: int = 17,
                     left: tuple[int, ...] = H36M_LEFT,
                     right: tuple[int, ...] = H36M_RIGHT) -> list[int]:
    """Joint order after a horizontal flip: every left joint swaps places with its right partner."""
    perm = list(range(num_joints))
    for lj, rj in zip(left, right, strict=True):
        perm[lj], perm[rj] = rj, lj
    return perm


def flip_pose(pose, left: tuple[int, ...] = H36M_LEFT, right: tuple[int, ...] = H36M_RIGHT):
    """Mirror poses horizontally: negate x and swap left/right joints.

    Works on numpy arrays and torch tensors of shape ``(..., J, C)`` with ``C >= 1`` (x is channel 0;
    y, z and confidence are kept). Returns a new array/tensor; flipping twice gives the input back.
    """
    perm = flip_permutation(pose.shape[-2], left, right)
    if isinstance(pose, torch.Tensor):
        flipped = pose[..., perm, :].clone()
    else:
        flipped = np.array(pose[..., perm, :], copy=True)
    flipped[..., 0] *= -1
    return flipped
