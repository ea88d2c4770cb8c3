"""The demo's options and what they resolve to: which files, which 2D backend, which device.

:class:`DemoOptions` holds what the user asked for and is never changed; the functions here return the
resolved paths and choices as new values. Every problem a user can fix is a :class:`DemoError` whose text
is one line saying what is wrong and how to fix it (the CLI prints it and exits with code 2).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import torch

from lib.engine.distributed import resolve_device as resolve_torch_device

from .blazepose import INSTALL_HINT, mediapipe_available
from .darknet import YOLOV3_CFG

DEMO_DIR = Path(__file__).resolve().parent.parent
REPO_ROOT = DEMO_DIR.parent
CHECKPOINT_DIR = Path(__file__).resolve().parent / "checkpoint"
VIDEO_DIR = DEMO_DIR / "video"
OUTPUT_DIR = DEMO_DIR / "output"
WEIGHTS_README = "demo/sct_demo/checkpoint/README.md"
RELEASED_LIFTER = ("checkpoint/best_epoch.bin", "configs/MB_train_h36m.yaml")
SHIPPED_LIFTER = ("checkpoint/mocap/sct/best_epoch.bin", "configs/mocap/sct.yaml")
POSE2D_CHOICES = ("auto", "hrnet", "mediapipe")


class DemoError(Exception):
    """A problem the user can fix; ``str(error)`` is one line saying what and how."""


@dataclass(frozen=True)
class DemoOptions:
    """Everything the demo needs, as the user gave it (read, never written); defaults are the official settings.

    ``checkpoint``/``config`` ``None``: the released ``checkpoint/best_epoch.bin`` with
    ``configs/MB_train_h36m.yaml`` when present, else the shipped real-motion SCT (:func:`resolve_lifter`).
    ``focal``: the camera's focal length in pixels (``None``: the default field of view of
    :func:`sct.placement.default_focal`); ``bvh``: also write one BVH file per person.
    """

    video: str | None = None
    keypoints: str | None = None
    size: tuple[int, int] | None = None
    pose2d: str = "auto"
    checkpoint: str | None = None
    config: str | None = None
    detector_cfg: str = str(YOLOV3_CFG)
    detector_weights: str = str(CHECKPOINT_DIR / "yolov3.weights")
    pose_weights: str = str(CHECKPOINT_DIR / "pose_hrnet_w48_384x288.pth")
    out_dir: str | None = None
    device: str = "auto"
    num_person: int = 1
    fps: float | None = None
    render: bool = True
    det_size: int = 416
    det_conf: float = 0.5
    det_nms: float = 0.4
    det_every: int = 5
    pose_input_wh: tuple[int, int] = (288, 384)
    batch_size: int = 8
    flip: bool = True
    render_height: int = 720
    height_mm: float = 1700.0
    lookahead: int | None = None
    focal: float | None = None
    bvh: bool = False
    progress: bool = True


def check_options(opts: DemoOptions) -> None:
    """:class:`DemoError` (one line) for an option outside its range, before anything is loaded or read."""
    if opts.num_person < 1:
        raise DemoError(f"--num-person must be at least 1, got {opts.num_person}")
    if opts.fps is not None and not opts.fps > 0:
        raise DemoError(f"--fps must be positive, got {opts.fps}")
    if opts.batch_size < 1:
        raise DemoError(f"--batch-size must be at least 1, got {opts.batch_size}")
    if opts.det_size % 32 or opts.det_size < 32:
        raise DemoError(f"--det-size must be a positive multiple of 32, got {opts.det_size}")
    if opts.det_every < 1:
        raise DemoError(f"--det-every must be at least 1, got {opts.det_every}")
    if opts.pose2d not in POSE2D_CHOICES:
        raise DemoError(f"--pose2d must be one of {', '.join(POSE2D_CHOICES)}, got {opts.pose2d}")
    if not opts.height_mm > 0:
        raise DemoError(f"--height must be positive (millimetres), got {opts.height_mm}")
    if opts.size is not None and not (opts.size[0] > 0 and opts.size[1] > 0):
        raise DemoError(f"--size W H must be positive, got {opts.size[0]} {opts.size[1]}")
    if opts.focal is not None and not (math.isfinite(opts.focal) and opts.focal > 0):
        raise DemoError(f"--focal must be a positive focal length in pixels, got {opts.focal}")
    if opts.lookahead is not None and opts.lookahead < 0:
        raise DemoError(f"--lookahead must be a number of frames >= 0, got {opts.lookahead}")


def resolve_video(video: str) -> Path:
    """The video file: ``video`` itself, or a bare file name looked up in ``demo/video/``."""
    path = Path(video)
    if path.is_file():
        return path
    if path.name == video and (VIDEO_DIR / video).is_file():
        return VIDEO_DIR / video
    raise DemoError(f"video not found: {video} (give a path, or put the file in demo/video/)")


def resolve_file(path: str) -> str:
    """``path`` as given when it exists, else relative to the repository root when it exists there (so the
    defaults work from any working directory), else unchanged (the loader then reports it missing)."""
    if os.path.exists(path) or os.path.isabs(path):
        return path
    candidate = REPO_ROOT / path
    return str(candidate) if candidate.exists() else path


def check_files_exist(files: list[tuple[str, str, str]]) -> None:
    """Fail fast, before any model is built, on a file that is not there: ``(path, what, how to fix)``."""
    for path, what, fix in files:
        if not os.path.isfile(path):
            raise DemoError(f"{what} not found: {path}; {fix}")


@dataclass(frozen=True)
class HRNetFiles:
    """Resolved paths of the YOLOv3 cfg and weights and the HRNet weights."""

    detector_cfg: str
    detector_weights: str
    pose_weights: str

    def checks(self) -> list[tuple[str, str, str]]:
        return [
            (self.detector_weights, "YOLOv3 weights",
             f"download yolov3.weights (see {WEIGHTS_README}) or pass --detector-weights"),
            (self.detector_cfg, "Darknet cfg", "pass --detector-cfg or restore demo/sct_demo/data/yolov3.cfg"),
            (self.pose_weights, "HRNet weights",
             f"download pose_hrnet_w48_384x288.pth (see {WEIGHTS_README}) or pass --pose-weights"),
        ]


def hrnet_files(opts: DemoOptions) -> HRNetFiles:
    """The YOLOv3/HRNet files of ``opts``, resolved (:func:`resolve_file`)."""
    return HRNetFiles(resolve_file(opts.detector_cfg), resolve_file(opts.detector_weights),
                      resolve_file(opts.pose_weights))


@dataclass(frozen=True)
class LifterFiles:
    """The lifter's checkpoint and config (resolved paths) and one line saying which lifter."""

    checkpoint: str
    config: str
    line: str


def resolve_lifter(opts: DemoOptions) -> LifterFiles:
    """Which lifter: without ``--checkpoint`` the released ``checkpoint/best_epoch.bin`` (config
    ``configs/MB_train_h36m.yaml``) when present, else the shipped real-motion SCT
    ``checkpoint/mocap/sct/best_epoch.bin`` with ``configs/mocap/sct.yaml``. ``--config`` alone keeps the
    default checkpoint choice. :class:`DemoError` when a file is missing."""
    if opts.checkpoint is None:
        released, shipped = resolve_file(RELEASED_LIFTER[0]), resolve_file(SHIPPED_LIFTER[0])
        if os.path.isfile(released):
            checkpoint, default_config, which = released, RELEASED_LIFTER[1], "the released SCT"
        elif os.path.isfile(shipped):
            checkpoint, default_config, which = shipped, SHIPPED_LIFTER[1], "the shipped real-motion SCT"
        else:
            raise DemoError(f"no SCT checkpoint: neither {RELEASED_LIFTER[0]} (the released model, see README.md) "
                            f"nor the shipped {SHIPPED_LIFTER[0]} is present; pass --checkpoint and --config")
        config = resolve_file(opts.config or default_config)
        line = f"lifter: {which} ({checkpoint}, config {config})"
    else:
        checkpoint = resolve_file(opts.checkpoint)
        config = resolve_file(opts.config or RELEASED_LIFTER[1])
        line = f"lifter: {checkpoint} (config {config})"
    check_files_exist([(config, "config", "pass --config with the config the checkpoint was trained with"),
                       (checkpoint, "SCT checkpoint", "download the SCT checkpoint (see README.md) or pass "
                        "--checkpoint")])
    return LifterFiles(checkpoint, config, line)


def choose_pose2d(opts: DemoOptions) -> tuple[str, str]:
    """The 2D backend (``hrnet`` or ``mediapipe``) and one line saying which and why."""
    files = hrnet_files(opts)
    if opts.pose2d == "hrnet":
        check_files_exist(files.checks())
        return "hrnet", "2D keypoints: YOLOv3 + HRNet-W48"
    if opts.pose2d == "mediapipe":
        if not mediapipe_available():
            raise DemoError(f"--pose2d mediapipe: mediapipe is not installed; {INSTALL_HINT}")
        return "mediapipe", "2D keypoints: MediaPipe BlazePose behind OpenCV's HOG people detector (offline)"
    if all(os.path.isfile(path) for path, _, _ in files.checks()):
        return "hrnet", "2D keypoints: YOLOv3 + HRNet-W48 (--pose2d auto: their weights are present)"
    if mediapipe_available():
        return "mediapipe", ("2D keypoints: MediaPipe BlazePose behind OpenCV's HOG people detector (--pose2d auto: "
                             "no YOLOv3/HRNet weights, mediapipe installed)")
    raise DemoError(f"no 2D backend: the YOLOv3/HRNet weights are missing (see {WEIGHTS_README}) and mediapipe is "
                    "not installed (make demo-offline); or give your own 2D keypoints with --keypoints FILE")


def resolve_device(name: str) -> torch.device:
    """:func:`lib.engine.distributed.resolve_device`, with its errors as :class:`DemoError`."""
    try:
        return resolve_torch_device(name)
    except ValueError as exc:
        raise DemoError(str(exc)) from exc


def default_out_dir(video: Path | None, keypoints: str | None) -> Path:
    """``demo/output/<video name>``, or for keypoints without video ``demo/output/<file name>`` (a demo
    ``keypoints_2d.npz`` gives ``<its folder>_relifted``, so the folder it is read from is not replaced)."""
    if video is not None:
        return OUTPUT_DIR / video.stem
    path = Path(keypoints)
    name = f"{path.resolve().parent.name}_relifted" if path.name == "keypoints_2d.npz" else path.stem or path.name
    return OUTPUT_DIR / name
