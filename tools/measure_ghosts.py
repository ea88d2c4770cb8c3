"""Measure the offline backend's tracks on a crowded test video: who gets a slot, and how fast a false track
(a *ghost*) ends (docs/DEMO.md, "Ghost tracks"). Needs mediapipe (``make demo-offline``).

The clip (:data:`demo.sct_demo.people_video.CROWDED_PEOPLE` and ``CROWDED_PROPS``, 768 x 576, 25 fps) has
five people, two of them walking in later, and three things that fool the HOG people detector (a face
poster on a pole, a tree, a coat on a stand). Each track of :class:`demo.sct_demo.blazepose.BlazePoseTracker`
is named after the person or prop (the clip's ground truth) holding most of its boxes (for a track left
without frames: of the detection that started it). A track is *false* when it is on no person, or on a
person that an older track has a pose of on one of its frames. Printed: one row per track (start, last frame kept,
why it ended, frames from its start to its end, mean quality signals of :mod:`demo.sct_demo.track_quality`)
and, per person, the frames tracked against the frames in view; ``--csv`` writes every track's signals
frame by frame.

    python tools/measure_ghosts.py --num-person 3 --csv ghosts.csv
"""

from __future__ import annotations

import argparse
import csv
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import cv2
import numpy as np

from demo.sct_demo.blazepose import BlazePoseTracker
from demo.sct_demo.people_video import CROWDED_PEOPLE, CROWDED_PROPS, scene_boxes, write_people_video
from demo.sct_demo.track_quality import QualityRule, frame_quality
from demo.sct_demo.tracker import box_area, inside_fraction
from lib.utils.atomic_io import atomic_open


def label_box(box: np.ndarray, t: int) -> str:
    """The person or prop whose box (at frame ``t``) holds the largest part of ``box``, at least half of it
    (of several holding all of it, the smallest), or ``nothing``."""
    best, key = "nothing", (0.5, 0.0)
    for name, b in scene_boxes(CROWDED_PEOPLE, CROWDED_PROPS, t):
        k = (round(inside_fraction(np.asarray(box, dtype=np.float64), b), 2), -box_area(b))
        if k[0] >= 0.5 and k > key:
            best, key = name, k
    return best


def in_view(t: int, size: tuple[int, int]) -> set[str]:
    """The people whose box centre is inside the frame at ``t``."""
    w, h = size
    return {name for name, b in scene_boxes(CROWDED_PEOPLE, (), t) if 0 <= (b[0] + b[2]) / 2 < w}


def signals(pt, rule: QualityRule) -> list:
    """The track's per-frame quality: recorded by the tracker, else computed from its landmarks."""
    history = getattr(getattr(pt, "health", None), "history", None)
    if history is not None:
        return history
    return [frame_quality(t, lm, None, None, rule, confirmed=True) for t, lm in sorted(pt.landmarks.items())]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--num-person", type=int, default=3)
    parser.add_argument("--det-every", type=int, default=5)
    parser.add_argument("--frames", type=int, default=200)
    parser.add_argument("--csv", type=Path, help="write every track's quality signals, frame by frame")
    args = parser.parse_args(argv)
    if args.num_person < 1 or args.det_every < 1 or args.frames < 1:
        print("error: --num-person, --det-every and --frames must be at least 1", file=sys.stderr)
        return 2
    if args.csv is not None and (args.csv.is_dir() or not args.csv.parent.is_dir()):
        print(f"error: --csv {args.csv}: not a file in an existing folder", file=sys.stderr)
        return 2
    size = (768, 576)
    rule = QualityRule()
    try:
        tracker = BlazePoseTracker(det_every=args.det_every, max_people=args.num_person)
    except ImportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        clip = Path(tmp) / "crowded.mp4"
        write_people_video(clip, num_frames=args.frames, size=size, people=CROWDED_PEOPLE, props=CROWDED_PROPS)
        cap = cv2.VideoCapture(str(clip))
        start, n = time.perf_counter(), 0
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            tracker.update(frame)
            n += 1
        seconds = time.perf_counter() - start
        cap.release()
    tracker.close()
    tracks = sorted(tracker.done, key=lambda pt: pt.track.track_id)
    print(f"{n} frames in {seconds:.1f} s ({n / seconds:.1f} frames/s, detector {tracker.detection_seconds:.1f} s)")
    rows, covered, info = [], Counter(), []
    for pt in tracks:
        labels = Counter(label_box(b, t) for t, b in pt.track.boxes.items())
        first = getattr(pt, "first_box", None)
        start = getattr(pt, "start", min(pt.landmarks, default=-1))
        name = labels.most_common(1)[0][0] if labels else (label_box(first, start) if first is not None else "?")
        for t, b in pt.track.boxes.items():
            covered[(label_box(b, t), t)] += 1
        hist = signals(pt, rule)
        last = hist[-1].frame if hist else start
        info.append((pt, name, start, last, hist))
        rows += [(pt.track.track_id, name, q.frame, int(q.pose), q.visibility, q.bones, q.jump, q.scale,
                  "" if q.detector is None else int(q.detector), int(q.bad)) for q in hist]
    print("| track | on | false | start | last frame kept | end | frames start→end | frames kept | pose frames "
          "| visibility | bones | detector agrees | bad frames |")
    print("|---|---|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|")
    for pt, name, start, last, hist in info:
        second = any(o_name == name and (o_start, o_pt.track.track_id) < (start, pt.track.track_id)
                     and set(o_pt.landmarks) & set(pt.landmarks) for o_pt, o_name, o_start, _, _ in info)
        false = "yes" if not name.startswith("person") or second else "no"
        seen = [q for q in hist if q.pose]
        kept = sorted(pt.landmarks)
        checks = [q.detector for q in hist if q.detector is not None]
        end = getattr(pt, "end", "?") or "live"
        print(f"| {pt.track.track_id} | {name} | {false} | {start} | {kept[-1] if kept else '–'} | {end} "
              f"| {last - start + 1} | {len(kept)} | {len(seen)} "
              f"| {np.mean([q.visibility for q in seen]) if seen else float('nan'):.2f} "
              f"| {np.mean([q.bones for q in seen]) if seen else float('nan'):.2f} "
              f"| {f'{sum(checks)}/{len(checks)}' if checks else '–'} | {sum(q.bad for q in hist)} |")
    print("\n| person | frames in view | frames tracked |")
    print("|---|---:|---:|")
    for i in range(len(CROWDED_PEOPLE)):
        name = f"person{i}"
        view = sum(name in in_view(t, size) for t in range(n))
        tracked = sum(1 for (who, _t) in covered if who == name)
        print(f"| {name} | {view} | {tracked} |")
    if args.csv is not None:
        with atomic_open(args.csv, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["track", "on", "frame", "pose", "visibility", "bones", "jump", "scale", "detector_agrees",
                        "bad"])
            w.writerows(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
