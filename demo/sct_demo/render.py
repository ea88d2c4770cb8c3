"""Rendering: the input frame with its 2D skeletons beside the 3D skeletons, written straight to an mp4.

Frames are composed in memory: the 2D panel is drawn with OpenCV on the frame, the 3D panel on a
matplotlib Agg canvas (``buffer_rgba`` -> numpy), and each composed frame goes to the video writer; no
image files are written. :class:`VideoWriter` encodes H.264 through imageio-ffmpeg when it is installed
and falls back to OpenCV's mp4v encoder otherwise.
"""

from __future__ import annotations

import os

import cv2
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from lib.data.sources.h36m_cameras import load_h36m_cameras
from lib.utils.rotations import quaternion_to_matrix
from lib.utils.skeleton import H36M_PARENTS, joint_side

# the camera whose orientation shows camera-frame poses upright: Human3.6M subject S1, camera 54138969 (the
# choice of the VideoPose3D and MotionBERT demos)
DISPLAY_CAMERA_SUBJECT, DISPLAY_CAMERA_INDEX = "S1", 0

# BGR colours for OpenCV, RGB in [0, 1] for matplotlib
_LEFT_BGR, _RIGHT_BGR, _MID_BGR = (255, 128, 0), (0, 0, 255), (0, 200, 0)
_LEFT_RGB, _RIGHT_RGB, _MID_RGB = (0.0, 0.5, 1.0), (1.0, 0.0, 0.0), (0.0, 0.6, 0.0)


def draw_skeleton_2d(image: np.ndarray, joints: np.ndarray, interpolated: bool = False,
                     thickness: int = 2) -> np.ndarray:
    """Draw Human3.6M joints ``(17, 2+)`` in pixels on a BGR image (in place; returned for chaining).

    Interpolated poses (frames where the person was not detected) are drawn in grey.
    """
    colours = {"left": _LEFT_BGR, "right": _RIGHT_BGR, "mid": _MID_BGR}
    for child, parent in enumerate(H36M_PARENTS):
        if parent < 0:
            continue
        colour = (160, 160, 160) if interpolated else colours[joint_side(child)]
        p = tuple(int(round(v)) for v in joints[parent, :2])
        c = tuple(int(round(v)) for v in joints[child, :2])
        cv2.line(image, p, c, colour, thickness, cv2.LINE_AA)
    for j in range(joints.shape[0]):
        cv2.circle(image, tuple(int(round(v)) for v in joints[j, :2]), thickness + 1, (255, 255, 255), -1,
                   cv2.LINE_AA)
    return image


def display_quaternion() -> np.ndarray:
    """Camera-to-world quaternion ``(w, x, y, z)`` used to show camera-frame poses upright
    (:data:`DISPLAY_CAMERA_SUBJECT`'s camera :data:`DISPLAY_CAMERA_INDEX`)."""
    camera = load_h36m_cameras()[DISPLAY_CAMERA_SUBJECT][DISPLAY_CAMERA_INDEX]
    return np.asarray(camera.orientation, dtype=np.float64).copy()


def quaternion_rotate(q: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Rotate points ``(..., 3)`` by the unit quaternion ``q = (w, x, y, z)``."""
    return np.asarray(points, dtype=np.float64) @ quaternion_to_matrix(q).T


class SkeletonPanel3D:
    """A fixed-viewpoint matplotlib 3D view of one or more skeletons, rendered to RGB arrays.

    ``render(poses)`` takes display-frame poses ``(P, 17, 3)`` (z up) and returns ``(size, P * size, 3)``
    uint8 RGB. Axis limits are fixed by ``radius`` around each person's root so the view does not jump.
    """

    def __init__(self, num_person: int, size: int, radius: float, elev: float = 15.0, azim: float = 70.0) -> None:
        self.size = size
        self.fig = Figure(figsize=(num_person * size / 100, size / 100), dpi=100)
        self.canvas = FigureCanvasAgg(self.fig)
        self.axes, self.lines = [], []
        colours = {"left": _LEFT_RGB, "right": _RIGHT_RGB, "mid": _MID_RGB}
        for p in range(num_person):
            ax = self.fig.add_subplot(1, num_person, p + 1, projection="3d")
            ax.view_init(elev=elev, azim=azim)
            ax.set_xlim3d(-radius, radius)
            ax.set_ylim3d(-radius, radius)
            ax.set_zlim3d(0, 2 * radius)
            ax.set_box_aspect((1, 1, 1))
            ax.set_xticklabels([])
            ax.set_yticklabels([])
            ax.set_zticklabels([])
            if num_person > 1:
                ax.set_title(f"person {p}", fontsize=8)
            lines = []
            for child, parent in enumerate(H36M_PARENTS):
                if parent >= 0:
                    (line,) = ax.plot([0, 0], [0, 0], [0, 0], color=colours[joint_side(child)], lw=2)
                    lines.append((line, parent, child))
            self.axes.append(ax)
            self.lines.append(lines)
        self.fig.subplots_adjust(left=0, right=1, bottom=0, top=1, wspace=0)

    def render(self, poses: np.ndarray) -> np.ndarray:
        for p, lines in enumerate(self.lines):
            pose = poses[p]
            for line, parent, child in lines:
                seg = pose[[parent, child]]
                line.set_data_3d(seg[:, 0], seg[:, 1], seg[:, 2])
        self.canvas.draw()
        image = np.asarray(self.canvas.buffer_rgba())[..., :3]
        want = (len(self.lines) * self.size, self.size)
        if (image.shape[1], image.shape[0]) != want:
            image = cv2.resize(image, want, interpolation=cv2.INTER_AREA)
        return np.ascontiguousarray(image)

    def close(self) -> None:
        self.fig.clear()


def to_display_frame(poses_cam: np.ndarray, rotation_q: np.ndarray) -> np.ndarray:
    """Root-relative camera-frame poses ``(..., 17, 3)`` -> display frame: rotated by the camera-to-world
    quaternion, then lifted so that each pose's lowest joint is at z = 0 (feet on the floor)."""
    world = quaternion_rotate(rotation_q, poses_cam)
    world[..., 2] -= world[..., 2].min(axis=-1, keepdims=True)
    return world


class VideoWriter:
    """Write RGB frames ``(H, W, 3)`` uint8 to an mp4: H.264 via imageio-ffmpeg, else mp4v via OpenCV.

    ``H`` and ``W`` must be even (H.264 with yuv420p). ``codec`` tells which encoder is in use.
    """

    def __init__(self, path: str | os.PathLike, fps: float, size_wh: tuple[int, int],
                 prefer_h264: bool = True) -> None:
        self.path = os.fspath(path)
        self.size_wh = size_wh
        self.frames = 0
        self._gen = None
        self._cv = None
        if prefer_h264:
            try:
                import imageio_ffmpeg

                self._gen = imageio_ffmpeg.write_frames(
                    self.path, size_wh, fps=float(fps), codec="libx264", pix_fmt_in="rgb24",
                    pix_fmt_out="yuv420p", macro_block_size=1, ffmpeg_log_level="error",
                    output_params=["-crf", "20", "-f", "mp4"])
                self._gen.send(None)
                self.codec = "h264"
            except (ImportError, RuntimeError, OSError):
                self._gen = None
        if self._gen is None:
            self._cv = cv2.VideoWriter(self.path, cv2.VideoWriter_fourcc(*"mp4v"), float(fps), size_wh)
            if not self._cv.isOpened():
                raise OSError(f"cannot open a video writer for {self.path}")
            self.codec = "mp4v"

    def write(self, frame_rgb: np.ndarray) -> None:
        if frame_rgb.shape[:2] != (self.size_wh[1], self.size_wh[0]):
            raise ValueError(f"frame of shape {frame_rgb.shape} does not match the video size {self.size_wh}")
        if self._gen is not None:
            self._gen.send(np.ascontiguousarray(frame_rgb, dtype=np.uint8))
        else:
            self._cv.write(cv2.cvtColor(frame_rgb, cv2.COLOR_RGB2BGR))
        self.frames += 1

    def close(self) -> None:
        if self._gen is not None:
            self._gen.close()
            self._gen = None
        if self._cv is not None:
            self._cv.release()
            self._cv = None


def panel_layout(frame_wh: tuple[int, int], num_person: int, max_height: int = 720) -> tuple[int, int, int]:
    """``(height, frame_panel_width, total_width)`` of the composed video; all even numbers."""
    w, h = frame_wh
    height = min(max_height, h)
    height -= height % 2
    height = max(height, 64)
    frame_w = max(2, int(round(w * height / h)))
    frame_w -= frame_w % 2
    return height, frame_w, frame_w + num_person * height
