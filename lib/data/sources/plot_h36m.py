"""Draw a few frames of a Human3.6M-layout pickle so a person can check the data by eye."""

from __future__ import annotations

import os

import numpy as np

from ...utils.skeleton import H36M_PARENTS, joint_side
from ..datareader_h36m import video_ranges


def _bone_color(j: int) -> str:
    return {"left": "tab:blue", "right": "tab:red", "mid": "0.3"}[joint_side(j)]


def plot_h36m_frames(data: dict, path: str | os.PathLike, split: str = "train", n_videos: int = 4) -> None:
    """Save a PNG: for ``n_videos`` videos of ``split`` (spread over the file, first camera each), the
    middle frame's detections (dots, size = confidence) over the projected skeleton (top row), and the
    same skeleton seen from the side, depth against height (bottom row)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    part = data[split]
    ranges = video_ranges(part["source"])
    if not ranges:
        raise ValueError(f"the '{split}' split has no frames to plot")
    picks = [ranges[i] for i in np.linspace(0, len(ranges) - 1, min(n_videos, len(ranges))).astype(int)]
    fig, axes = plt.subplots(2, len(picks), figsize=(3.2 * len(picks), 6.4), squeeze=False)
    for col, (start, end) in enumerate(picks):
        f = (start + end) // 2
        pose = np.asarray(part["joint3d_image"][f])
        det = np.asarray(part["joint_2d"][f])
        conf = np.asarray(part["confidence"][f]).reshape(-1) if "confidence" in part else np.ones(17)
        top, side = axes[0, col], axes[1, col]
        for j, p in enumerate(H36M_PARENTS):
            if p < 0:
                continue
            top.plot(pose[[p, j], 0], pose[[p, j], 1], color=_bone_color(j), lw=2)
            side.plot(pose[[p, j], 2], pose[[p, j], 1], color=_bone_color(j), lw=2)
        top.scatter(det[:, 0], det[:, 1], s=40 * conf, c="k", zorder=3)
        title = str(part["source"][f])
        if "action" in part:
            title += f"\n{part['action'][f]}"
        top.set_title(f"{title}\nframe {f - start}", fontsize=8)
        for ax in (top, side):
            ax.set_aspect("equal")
            ax.invert_yaxis()
            ax.tick_params(labelsize=6)
        side.set_xlabel("depth (px scale)", fontsize=7)
    fig.suptitle("top: detections (dots) over projected joints; bottom: side view", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
