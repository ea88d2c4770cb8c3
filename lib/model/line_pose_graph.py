"""Line Pose Graph (LPG) input: every joint gets the midpoint of the bone to its parent as extra channels.

For joint ``j`` with parent ``p(j)`` the extra channels are ``(x_j + x_p(j)) / 2`` over all input channels
(for SCT: x, y and confidence); the root has no parent and its extra channels equal its own. The joint and
bone channels are concatenated, doubling the channel count, before the joint embedding.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


def bone_midpoints(x: torch.Tensor, parents: Sequence[int]) -> torch.Tensor:
    """Midpoint of each joint's bone to its parent.

    Args:
        x: ``(..., J, C)`` joints.
        parents: length-``J`` parent index per joint; a negative entry marks a root (its midpoint is itself).
    Returns:
        ``(..., J, C)`` midpoints ``(x_j + x_parent(j)) / 2``.
    """
    if len(parents) != x.shape[-2]:
        raise ValueError(f"parent list has {len(parents)} entries but the input has {x.shape[-2]} joints")
    index = [p if p >= 0 else j for j, p in enumerate(parents)]
    return (x + x[..., index, :]) * 0.5


def line_pose_graph(x: torch.Tensor, parents: Sequence[int]) -> torch.Tensor:
    """``(..., J, C)`` joints -> ``(..., J, 2C)``: joint channels followed by bone-midpoint channels."""
    return torch.cat([x, bone_midpoints(x, parents)], dim=-1)


class LinePoseGraph(nn.Module):
    """Module form of :func:`line_pose_graph` for a fixed skeleton (given by its parent list)."""

    def __init__(self, parents: Sequence[int]):
        super().__init__()
        self.parents = tuple(int(p) for p in parents)
        for j, p in enumerate(self.parents):
            if p >= len(self.parents) or p == j:
                raise ValueError(f"invalid parent {p} for joint {j}")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return line_pose_graph(x, self.parents)

    def extra_repr(self) -> str:
        return f"parents={list(self.parents)}"
