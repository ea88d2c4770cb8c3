"""The 17-joint skeletons of Human3.6M and MPI-INF-3DHP: joint names, parents, left/right sides, the
conversion between the two joint orders, and horizontal flipping."""

from __future__ import annotations

from dataclasses import dataclass

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

# MPI-INF-3DHP's 17 joints in the order of the de-facto npz files (P-STMO's conversion of the dataset).
MPI_INF_3DHP_JOINT_NAMES: tuple[str, ...] = (
    "head_top", "neck", "r_shoulder", "r_elbow", "r_wrist", "l_shoulder", "l_elbow", "l_wrist",
    "r_hip", "r_knee", "r_ankle", "l_hip", "l_knee", "l_ankle", "pelvis", "spine", "head",
)
# Human3.6M joint i is MPI-INF-3DHP joint H36M_FROM_MPI_INF_3DHP[i] (pelvis, hips, ..., thorax <- neck,
# nose <- head, head <- head top, shoulders, ...); every joint has exactly one partner.
H36M_FROM_MPI_INF_3DHP: tuple[int, ...] = (14, 8, 9, 10, 11, 12, 13, 15, 1, 16, 0, 5, 6, 7, 2, 3, 4)
MPI_INF_3DHP_FROM_H36M: tuple[int, ...] = tuple(int(i) for i in np.argsort(H36M_FROM_MPI_INF_3DHP))
# the Human3.6M tree carried over through the joint correspondence
MPI_INF_3DHP_PARENTS: tuple[int, ...] = tuple(
    -1 if H36M_PARENTS[MPI_INF_3DHP_FROM_H36M[j]] < 0
    else H36M_FROM_MPI_INF_3DHP[H36M_PARENTS[MPI_INF_3DHP_FROM_H36M[j]]]
    for j in range(17))
MPI_INF_3DHP_LEFT: tuple[int, ...] = (5, 6, 7, 11, 12, 13)
MPI_INF_3DHP_RIGHT: tuple[int, ...] = (2, 3, 4, 8, 9, 10)


@dataclass(frozen=True)
class Skeleton:
    """What the training and the test-time flip need of a joint order: parents (-1 at the root), the
    left/right partners, and the root joint that root-relative poses are measured from."""

    name: str
    joint_names: tuple[str, ...]
    parents: tuple[int, ...]
    left: tuple[int, ...]
    right: tuple[int, ...]

    @property
    def root(self) -> int:
        return self.parents.index(-1)

    @property
    def num_joints(self) -> int:
        return len(self.parents)


H36M_SKELETON = Skeleton("h36m", H36M_JOINT_NAMES, H36M_PARENTS, H36M_LEFT, H36M_RIGHT)
MPI_INF_3DHP_SKELETON = Skeleton("mpi_inf_3dhp", MPI_INF_3DHP_JOINT_NAMES, MPI_INF_3DHP_PARENTS,
                                 MPI_INF_3DHP_LEFT, MPI_INF_3DHP_RIGHT)
SKELETONS: dict[str, Skeleton] = {s.name: s for s in (H36M_SKELETON, MPI_INF_3DHP_SKELETON)}


def mpi_inf_3dhp_to_h36m(pose):
    """``(..., 17, C)`` in MPI-INF-3DHP's joint order -> the same joints in Human3.6M's order (a copy)."""
    return pose[..., list(H36M_FROM_MPI_INF_3DHP), :]


def h36m_to_mpi_inf_3dhp(pose):
    """Inverse of :func:`mpi_inf_3dhp_to_h36m`: ``(..., 17, C)`` Human3.6M order -> MPI-INF-3DHP order."""
    return pose[..., list(MPI_INF_3DHP_FROM_H36M), :]


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
