"""Stage 5 of the demo: what it writes, each writer taking plain data.

* ``keypoints_2d.npz``: ``h36m`` ``(P, T, 17, 3)`` and (unless re-lifting an npz without it) ``coco``
  ``(P, T, 17, 3)`` (x, y pixels, score), ``boxes`` ``(P, T, 5)`` (x1, y1, x2, y2, score; NaN where not
  seen), ``missing`` ``(P, T)`` bool (frames filled by interpolation), ``width``, ``height``, ``fps``,
  joint names;
* ``keypoints_3d.npz``: ``poses`` ``(P, T, 17, 3)`` root-relative, in the camera frame (x right, y down,
  z forward; the lifter's units); ``poses_mm`` the same in millimetres (each person's median skeleton
  height = ``height_mm``), ``mm_per_unit`` ``(P,)``; ``poses_camera_mm`` placed in the camera frame;
  ``poses_world_mm`` in the world frame (Y up, floor at y = 0); ``camera_to_world_rotation`` ``(3, 3)`` and
  ``camera_height_mm`` (``X_world = R @ X_camera + (0, camera_height_mm, 0)``); ``focal_px``, ``height_mm``,
  ``fps``, ``missing``, joint names;
* ``person_<p>.bvh`` (``--bvh``): :func:`sct.bvh.write_bvh` of each person's world-frame joints;
* ``<video name>.mp4``: the input with its 2D skeletons beside one 3D view of everybody in the scene.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from lib.utils.skeleton import H36M_JOINT_NAMES
from sct.bvh import write_bvh

from .keypoint_files import PersonKeypoints
from .keypoints import COCO_KEYPOINT_NAMES
from .render import ScenePanel, VideoWriter, draw_skeleton_2d, panel_layout
from .scene import SceneMotion
from .sources import iter_frames


def _write_npz(path: Path, **arrays) -> None:
    with open(path, "wb") as fh:
        np.savez_compressed(fh, **arrays)


def write_keypoints_2d(path: Path, kp: PersonKeypoints, width: int, height: int, fps: float) -> None:
    arrays = dict(h36m=kp.h36m.astype(np.float32), boxes=kp.boxes.astype(np.float32), missing=~kp.present,
                  width=np.int64(width), height=np.int64(height), fps=np.float64(fps),
                  h36m_joint_names=np.array(H36M_JOINT_NAMES), coco_joint_names=np.array(COCO_KEYPOINT_NAMES))
    if kp.coco is not None:
        arrays["coco"] = kp.coco.astype(np.float32)
    _write_npz(path, **arrays)


def write_keypoints_3d(path: Path, scene: SceneMotion, missing: np.ndarray, fps: float) -> None:
    _write_npz(path, poses=scene.poses.astype(np.float32), poses_mm=scene.poses_mm,
               mm_per_unit=np.asarray(scene.mm_per_unit, dtype=np.float64), poses_camera_mm=scene.poses_camera_mm,
               poses_world_mm=scene.poses_world_mm, camera_to_world_rotation=scene.camera_to_world.astype(np.float64),
               camera_height_mm=np.float64(scene.camera_height_mm), focal_px=np.float64(scene.focal_px),
               height_mm=np.float64(scene.height_mm), fps=np.float64(fps), missing=missing,
               joint_names=np.array(H36M_JOINT_NAMES))


def write_bvh_files(folder: Path, scene: SceneMotion, fps: float) -> list[Path]:
    """``person_<p>.bvh`` for every person (world frame, millimetres, ``fps``); returns the paths."""
    paths = []
    for p, motion in enumerate(scene.poses_world_mm):
        path = folder / f"person_{p}.bvh"
        write_bvh(path, motion, fps)
        paths.append(path)
    return paths


def seen_span(present: np.ndarray) -> np.ndarray:
    """``(P, T)`` bool: the frames from each person's first frame seen to their last (gaps inside are filled
    by interpolation and drawn grey; before and after, the person is not drawn at all)."""
    present = np.asarray(present, dtype=bool)
    t = np.arange(present.shape[1])
    first = np.where(present.any(axis=1), present.argmax(axis=1), present.shape[1])
    last = present.shape[1] - 1 - present[:, ::-1].argmax(axis=1)
    return (t[None] >= first[:, None]) & (t[None] <= last[:, None])


def render_video(video: Path, out_path: Path, h36m_2d: np.ndarray, missing: np.ndarray, scene: SceneMotion,
                 fps: float, frame_wh: tuple[int, int], render_height: int, progress: bool = True) -> int:
    """Compose, per frame, the input with its 2D skeletons (grey where interpolated; nothing before a person's
    first or after their last frame seen) beside one :class:`render.ScenePanel` of everybody at their world
    positions, and encode it. Returns frames written."""
    num_frames = scene.poses_world_mm.shape[1]
    height, frame_w, _ = panel_layout(frame_wh, 1, render_height)
    scene_w = height * 4 // 3
    scene_w -= scene_w % 2
    seen = seen_span(~np.asarray(missing, dtype=bool))
    world = np.where(seen[..., None, None], scene.poses_world_mm, np.nan)  # nobody drawn before or after a track
    panel = ScenePanel(world, scene.camera_height_mm, (scene_w, height))
    scale = height / frame_wh[1]
    writer = VideoWriter(out_path, fps, (frame_w + scene_w, height))
    try:
        with tqdm(total=num_frames, desc="render video", unit="frame", disable=not progress) as bar:
            for t, frame in enumerate(iter_frames(video)):
                if t >= num_frames:
                    break
                left = cv2.resize(frame, (frame_w, height), interpolation=cv2.INTER_AREA)
                for p in range(len(h36m_2d)):
                    if seen[p, t]:
                        draw_skeleton_2d(left, h36m_2d[p, t, :, :2] * scale, interpolated=bool(missing[p, t]))
                right = panel.render(world[:, t])
                writer.write(np.concatenate([cv2.cvtColor(left, cv2.COLOR_BGR2RGB), right], axis=1))
                bar.update(1)
    finally:
        writer.close()
    return writer.frames
