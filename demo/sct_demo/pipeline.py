"""The video demo as a line of stages, each taking and returning plain data:

1-2. people and their 2D keypoints (:mod:`sources`: YOLOv3 + HRNet-W48, HOG + MediaPipe BlazePose, or a
     keypoints file) -> :class:`keypoint_files.PersonKeypoints`;
3.   :class:`sct.Lifter` (overlapping windows, or the stream with ``--lookahead``) -> root-relative 3D poses;
4.   placement in the scene (:mod:`scene`: camera frame, world frame) -> :class:`scene.SceneMotion`;
5.   writers (:mod:`writers`: npz files, BVH, the rendered video), into a temporary folder moved into place
     at the end (nothing half-written).

:func:`run_demo` is what ``demo/vis.py`` calls; :func:`run_webcam` lifts one person live. Options
(:class:`options.DemoOptions`) are read, never written. Every problem a user can fix is a
:class:`options.DemoError` with a one-line message; the CLI prints it and exits with code 2.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from lib.utils.atomic_io import atomic_directory
from sct import Lifter

from .darknet import PersonDetector
from .keypoint_files import PersonKeypoints
from .keypoints import KeypointEstimator
from .live import BlazePoseFrameKeypoints, HRNetFrameKeypoints, LiveError, latency_line, run_live, write_live_npz
from .options import (
    OUTPUT_DIR,
    DemoError,
    DemoOptions,
    LifterFiles,
    check_files_exist,
    check_options,
    choose_pose2d,
    default_out_dir,
    hrnet_files,
    resolve_device,
    resolve_lifter,
    resolve_video,
)
from .scene import SceneMotion, place_people
from .sources import (
    keypoints_from_file,
    keypoints_hrnet,
    keypoints_mediapipe,
    load_detector,
    load_pose_estimator,
    video_info,
)
from .writers import render_video, write_bvh_files, write_keypoints_2d, write_keypoints_3d


@dataclass
class DemoModels:
    """The networks of the demo, loaded and on their device; the YOLOv3/HRNet pair only for that backend."""

    detector: PersonDetector | None
    estimator: KeypointEstimator | None
    lifter: Lifter
    lifter_line: str = ""


def load_lifter(files: LifterFiles, opts: DemoOptions, device: torch.device | str = "cpu") -> Lifter:
    """The lifter of ``files`` as an :class:`sct.Lifter` on ``device``; its problems (corrupt file, a config
    that does not fit) as :class:`DemoError`."""
    try:
        return Lifter.from_checkpoint(files.checkpoint, files.config, device=device, batch_size=opts.batch_size)
    except ValueError as exc:
        raise DemoError(f"{exc}; pass --checkpoint and the --config it was trained with (see README.md)") from exc


def load_models(opts: DemoOptions, device: torch.device, pose2d: str = "hrnet") -> DemoModels:
    """Check that every file is there, then load the lifter and, for ``pose2d == "hrnet"``, the detector and
    HRNet (cheapest first)."""
    lifter_files = resolve_lifter(opts)
    files = hrnet_files(opts)
    if pose2d == "hrnet":
        check_files_exist(files.checks())
    lifter = load_lifter(lifter_files, opts, device)
    if pose2d != "hrnet":
        return DemoModels(None, None, lifter, lifter_files.line)
    return DemoModels(load_detector(opts, files, device), load_pose_estimator(opts, files, device), lifter,
                      lifter_files.line)


def read_people(opts: DemoOptions, models: DemoModels, backend: str, video: Path | None, frame_count: int,
                times: dict[str, float]) -> PersonKeypoints:
    """Stages 1-2: the people and their 2D keypoints from ``backend`` (``file``, ``hrnet`` or ``mediapipe``)."""
    if backend == "file":
        start = time.perf_counter()
        kp = keypoints_from_file(opts, video)
        times["2D"] = time.perf_counter() - start
        return kp
    if backend == "hrnet":
        return keypoints_hrnet(video, models.detector, models.estimator, opts, frame_count, times)
    return keypoints_mediapipe(video, opts, frame_count, times)


def run_demo(opts: DemoOptions, models: DemoModels | None = None, log=print) -> dict[str, Path]:
    """Run the whole demo; returns the paths written (``out_dir``, ``keypoints_2d``, ``keypoints_3d``, ``video``,
    ``bvh``). ``models`` (from :func:`load_models`) lets several videos share the loaded networks; by default
    they are loaded from ``opts``. ``log`` gets the one-line messages (which 2D source and lifter, timing)."""
    check_options(opts)
    if opts.video is None and opts.keypoints is None:
        raise DemoError("give --video, or --keypoints FILE (with --video or --size W H), or --webcam N")
    video = resolve_video(opts.video) if opts.video else None
    device = resolve_device(opts.device)
    width, height, in_fps, frame_count = video_info(video) if video is not None else (0, 0, float("nan"), 0)

    # choose the 2D source and load every model first, so that a missing file fails before any long work
    if opts.keypoints is not None:
        backend, source_line = "file", f"2D keypoints: read from {opts.keypoints}"
    elif models is not None:
        backend = "hrnet" if models.detector is not None else choose_pose2d(opts)[0]
        source_line = f"2D keypoints: {backend}"
    else:
        backend, source_line = choose_pose2d(opts)
    if models is None:
        models = load_models(opts, device, backend)
        log(models.lifter_line)
    log(source_line)

    times = {"detection": 0.0, "2D": 0.0, "lifting": 0.0, "placement": 0.0, "rendering": 0.0}
    cpu_start = time.process_time()
    kp = read_people(opts, models, backend, video, frame_count, times)
    if video is None:
        if opts.size is None and kp.size is None:
            raise DemoError(f"{opts.keypoints} does not say the frame size; give --video or --size W H")
        width, height = opts.size or kp.size
        in_fps = kp.fps if kp.fps is not None else float("nan")
    fps = opts.fps or (in_fps if in_fps and math.isfinite(in_fps) and in_fps > 0 else 25.0)

    start = time.perf_counter()
    poses = lift_people(models.lifter, kp.h36m, width, height, opts, fps, log)
    times["lifting"] = time.perf_counter() - start
    start = time.perf_counter()
    scene = place(poses, kp.h36m, (width, height), opts)
    times["placement"] = time.perf_counter() - start
    times["cpu"] = time.process_time() - cpu_start
    written = write_outputs(opts, video, kp, scene, (width, height), fps, times)
    log(timing_summary(times, kp.present.shape[1]))
    return written


def place(poses: np.ndarray, h36m: np.ndarray, size: tuple[int, int], opts: DemoOptions) -> SceneMotion:
    """Stage 4: :func:`scene.place_people`, its input errors as :class:`DemoError`."""
    try:
        return place_people(poses, h36m, size, opts.focal, opts.height_mm)
    except ValueError as exc:
        raise DemoError(str(exc)) from exc


def write_outputs(opts: DemoOptions, video: Path | None, kp: PersonKeypoints, scene: SceneMotion,
                  size: tuple[int, int], fps: float, times: dict[str, float]) -> dict[str, Path]:
    """Stage 5: every writer into a temporary folder, moved to the output folder when all are done."""
    final = Path(opts.out_dir) if opts.out_dir else default_out_dir(video, opts.keypoints)
    missing = ~kp.present
    with atomic_directory(final) as tmp:
        write_keypoints_2d(tmp / "keypoints_2d.npz", kp, size[0], size[1], fps)
        write_keypoints_3d(tmp / "keypoints_3d.npz", scene, missing, fps)
        written = {"keypoints_2d": final / "keypoints_2d.npz", "keypoints_3d": final / "keypoints_3d.npz"}
        if opts.bvh:
            written["bvh"] = [final / p.name for p in write_bvh_files(tmp, scene, fps)]
        if opts.render and video is not None:
            start = time.perf_counter()
            render_video(video, tmp / f"{video.stem}.mp4", kp.h36m, missing, scene, fps, size, opts.render_height,
                         opts.progress)
            times["rendering"] = time.perf_counter() - start
            written["video"] = final / f"{video.stem}.mp4"
    written["out_dir"] = final
    return written


def run_webcam(opts: DemoOptions, source: int | str, log=print, max_frames: int | None = None) -> dict[str, Path]:
    """Lift one person live from camera ``source`` (or a video file, which is how it is tested): the 2D
    backend frame by frame, :class:`sct.LiftingStream` with ``opts.lookahead`` (default 0: causal). Writes
    ``keypoints_3d.npz`` (:func:`live.write_live_npz`) and logs the latency; returns the paths written."""
    check_options(opts)
    device = resolve_device(opts.device)
    backend, source_line = choose_pose2d(opts)
    models = load_models(opts, device, backend)
    log(models.lifter_line)
    log(source_line)
    if backend == "hrnet":
        keypoints_of = HRNetFrameKeypoints(models.detector, models.estimator, opts.flip)
    else:
        keypoints_of = BlazePoseFrameKeypoints(opts.det_every)
    lookahead = opts.lookahead or 0
    try:
        result = run_live(source, models.lifter, keypoints_of, lookahead=lookahead, flip=opts.flip,
                          height_mm=opts.height_mm, max_frames=max_frames, fps=opts.fps)
    except (LiveError, ValueError) as exc:
        raise DemoError(str(exc)) from exc
    out_dir = Path(opts.out_dir) if opts.out_dir else OUTPUT_DIR / (f"webcam{source}" if isinstance(source, int)
                                                                    else Path(str(source)).stem)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_live_npz(out_dir / "keypoints_3d.npz", result, opts.height_mm, lookahead)
    log(latency_line(result, lookahead, str(models.lifter.device)))
    return {"keypoints_3d": out_dir / "keypoints_3d.npz", "out_dir": out_dir}


def lift_people(lifter: Lifter, h36m: np.ndarray, width: float, height: float, opts: DemoOptions, fps: float,
                log=print) -> np.ndarray:
    """Stage 3: every person's 2D keypoints ``(P, T, 17, 3)`` -> root-relative 3D ``(P, T, 17, 3)``.

    By default offline, overlapping windows blended (:meth:`sct.Lifter.lift`). With ``opts.lookahead`` = k
    each person goes frame by frame through :meth:`sct.Lifter.stream`, as a live camera would, and one line
    gives the latency: k frames of look-ahead plus the compute time per pushed frame."""
    num_person, num_frames = h36m.shape[:2]
    if opts.lookahead is None:
        poses = np.zeros((num_person, num_frames, 17, 3), dtype=np.float32)
        for p in tqdm(range(num_person), desc="lift to 3D", unit="person", disable=not opts.progress):
            poses[p] = lifter.lift(h36m[p], width, height, flip=opts.flip)
        return poses
    out, push_ms = [], []
    with tqdm(total=num_person * num_frames, desc="lift to 3D (stream)", unit="frame",
              disable=not opts.progress) as bar:
        for p in range(num_person):
            try:
                stream = lifter.stream(width, height, lookahead=opts.lookahead, flip=opts.flip)
            except ValueError as exc:
                raise DemoError(f"--lookahead: {exc}") from exc
            person = []
            for frame in h36m[p]:
                begin = time.perf_counter()
                pose = stream.push(frame)
                push_ms.append((time.perf_counter() - begin) * 1e3)
                if pose is not None:
                    person.append(pose)
                bar.update(1)
            person.extend(stream.flush())
            out.append(np.stack(person))
    log(f"streaming latency: {opts.lookahead} frames of look-ahead ({opts.lookahead / fps * 1e3:.0f} ms at "
        f"{fps:g} fps) + {np.median(push_ms):.1f} ms to lift each pushed frame (median; "
        f"{np.percentile(push_ms, 95):.1f} ms 95th percentile, {lifter.device})")
    return np.stack(out).astype(np.float32)


def timing_summary(times: dict[str, float], num_frames: int) -> str:
    """One line: wall-clock seconds per stage, video frames per second without and with rendering, and the
    CPU seconds (all threads of this process) of the stages before rendering."""
    work = times["detection"] + times["2D"] + times["lifting"] + times.get("placement", 0.0)
    line = (f"time: detection {times['detection']:.2f} s, 2D {times['2D']:.2f} s, lifting {times['lifting']:.2f} s, "
            f"placement {times.get('placement', 0.0):.2f} s, "
            f"rendering {times['rendering']:.2f} s; {num_frames} frames at {num_frames / max(work, 1e-9):.1f} video "
            "frames/s without rendering")
    if times["rendering"] > 0:
        line += f", {num_frames / max(work + times['rendering'], 1e-9):.1f} with"
    return line + f" (CPU {times.get('cpu', 0.0):.2f} s before rendering)"
