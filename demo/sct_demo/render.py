"""Rendering: the input frame with its 2D skeletons beside one 3D view of everybody in the scene, written
straight to an mp4.

Frames are composed in memory, both panels drawn with OpenCV (:func:`draw_skeleton_2d`, :class:`ScenePanel`),
and each composed frame goes to the video writer; no image files are written. :class:`VideoWriter` encodes
H.264 through imageio-ffmpeg when it is installed and falls back to OpenCV's mp4v encoder otherwise.
"""

from __future__ import annotations

import os

import cv2
import numpy as np

from lib.utils.skeleton import H36M_PARENTS, joint_side

# BGR colours of the person's left side, right side and middle
_LEFT_BGR, _RIGHT_BGR, _MID_BGR = (255, 128, 0), (0, 0, 255), (0, 200, 0)


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


class ScenePanel:
    """All people in one 3D view at their world positions (Y up, mm), on a floor grid of 1 m squares, drawn
    with OpenCV (a few milliseconds a frame, unlike a matplotlib 3D axis).

    The virtual camera looks at the middle of everybody's pelvis positions over the video from behind the
    real camera (the side the video was filmed from), ``elevation`` degrees above the horizontal, far enough
    for 95 % of the positions the people take (plus 0.7 m) to fit in its ``fov`` degrees.
    ``render(poses)`` takes world poses ``(P, 17, 3)`` (NaN: not drawn) and returns ``(height, width, 3)``
    uint8 RGB.
    """

    def __init__(self, poses_world_mm: np.ndarray, camera_height_mm: float, size_wh: tuple[int, int],
                 elevation: float = 20.0, fov: float = 50.0) -> None:
        self.width, self.height = size_wh
        roots = np.asarray(poses_world_mm, dtype=np.float64)[:, :, 0].reshape(-1, 3)
        roots = roots[np.isfinite(roots).all(axis=1)]
        if not len(roots):
            roots = np.zeros((1, 3))
        centre = np.array([np.median(roots[:, 0]), 900.0, np.median(roots[:, 2])])
        # 95 % of the positions (a few misplaced frames must not shrink everybody to dots), plus 0.7 m
        spread = float(np.percentile(np.hypot(roots[:, 0] - centre[0], roots[:, 2] - centre[2]), 95)) + 700.0
        back = np.array([0.0, camera_height_mm, 0.0]) - centre  # towards the real camera
        back[1] = 0.0
        back = back / np.linalg.norm(back) if np.linalg.norm(back) > 1e-6 else np.array([0.0, 0.0, 1.0])
        distance = max(spread / np.tan(np.radians(fov / 2)), 2500.0)
        elev = np.radians(elevation)
        self.eye = centre + distance * (np.cos(elev) * back + np.sin(elev) * np.array([0.0, 1.0, 0.0]))
        forward = (centre - self.eye) / np.linalg.norm(centre - self.eye)
        right = np.cross(forward, [0.0, 1.0, 0.0])
        right /= np.linalg.norm(right)
        down = np.cross(forward, right)
        self.view = np.stack([right, down, forward])  # world -> view camera (x right, y down, z forward)
        self.focal = self.width / 2 / np.tan(np.radians(fov / 2))
        reach = float(np.max(np.hypot(roots[:, 0] - centre[0], roots[:, 2] - centre[2])))  # the grid covers all,
        half = int(np.ceil(min(max(spread, reach), 3 * spread) / 1000.0)) + 1  # up to three times the framing
        cx, cz = np.round(centre[[0, 2]] / 1000.0) * 1000.0
        ticks = np.arange(-half, half + 1) * 1000.0
        self.grid = [(np.array([cx + a, 0.0, cz - half * 1000.0]), np.array([cx + a, 0.0, cz + half * 1000.0]))
                     for a in ticks]
        self.grid += [(np.array([cx - half * 1000.0, 0.0, cz + a]), np.array([cx + half * 1000.0, 0.0, cz + a]))
                      for a in ticks]

    def project(self, points: np.ndarray) -> np.ndarray:
        """World points ``(..., 3)`` mm -> pixels ``(..., 2)`` (NaN behind the view camera)."""
        cam = (np.asarray(points, dtype=np.float64) - self.eye) @ self.view.T
        z = np.where(cam[..., 2] > 1.0, cam[..., 2], np.nan)
        return np.stack([self.focal * cam[..., 0] / z + self.width / 2,
                         self.focal * cam[..., 1] / z + self.height / 2], axis=-1)

    def clip_to_view(self, a: np.ndarray, b: np.ndarray, near: float = 100.0) -> np.ndarray | None:
        """The part ``(2, 3)`` of the world segment ``a``-``b`` at least ``near`` mm in front of the view camera,
        or ``None`` when all of it is behind."""
        za, zb = ((np.stack([a, b]) - self.eye) @ self.view[2]).tolist()
        if za < near and zb < near:
            return None
        if za < near:
            a = a + (b - a) * (near - za) / (zb - za)
        elif zb < near:
            b = b + (a - b) * (near - zb) / (za - zb)
        return np.stack([a, b])

    def render(self, poses: np.ndarray) -> np.ndarray:
        image = np.full((self.height, self.width, 3), 255, np.uint8)
        for a, b in self.grid:
            segment = self.clip_to_view(a, b)
            if segment is not None:
                pa, pb = self.project(segment)
                cv2.line(image, _px(pa), _px(pb), (215, 215, 215), 1, cv2.LINE_AA)
        colours = {"left": _LEFT_BGR[::-1], "right": _RIGHT_BGR[::-1], "mid": _MID_BGR[::-1]}  # RGB image
        # draw the farthest person first so that nearer people are on top
        order = np.argsort([-np.nan_to_num(((p[0] - self.eye) @ self.view[2]), nan=-np.inf) for p in poses])
        for p in order:
            uv = self.project(poses[p])
            if not np.isfinite(uv).all():
                continue
            for child, parent in enumerate(H36M_PARENTS):
                if parent >= 0:
                    cv2.line(image, _px(uv[parent]), _px(uv[child]), colours[joint_side(child)], 2, cv2.LINE_AA)
            cv2.putText(image, str(p), _px(uv[10] - [0, 12]), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (60, 60, 60), 1,
                        cv2.LINE_AA)
        return image

    def close(self) -> None:
        """Nothing to free."""


def _px(point: np.ndarray) -> tuple[int, int]:
    x, y = np.clip(np.asarray(point, dtype=np.float64), -1e5, 1e5)
    return int(round(x)), int(round(y))
