"""Accuracy, smoothness and cost of the ways to cut a video into windows (docs/LIFTING.md has the results).

    python tools/measure_windowing.py --data data/mocap/h36m_mocap.pkl --lookahead 0 10 40

Lifts every test video of a Human3.6M-layout pickle with a lifter (default the shipped ``mocap-sct``):
consecutive windows (the old demo), overlapping blended windows (``sct.Lifter``'s default) and the stream's
computation with each look-ahead; prints P1 and the acceleration error at window borders against
elsewhere, then the time to push one frame through ``Lifter.stream`` (with and without flip averaging; wall
clock and CPU time of this process, which a machine shared with other work inflates less).
"""

from __future__ import annotations

import argparse
import sys
import time


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--data", required=True, help="Human3.6M-layout pickle whose test split is scored "
                   "(e.g. data/mocap/h36m_mocap.pkl from tools/mocap_pretrained.py --data-only)")
    p.add_argument("--lifter", default="mocap-sct", help="a pretrained lifter name (sct.PRETRAINED)")
    p.add_argument("--checkpoint", default=None, help="score this checkpoint instead of --lifter")
    p.add_argument("--config", default=None, help="the YAML of --checkpoint when it carries no config")
    p.add_argument("--cameras", nargs="*", default=["54138969"],
                   help="only the test videos seen by these cameras (none given: every camera)")
    p.add_argument("--lookahead", type=int, nargs="*", default=[0, 10, 40], help="stream look-aheads to score")
    p.add_argument("--stride", type=int, default=None, help="overlapping windows' stride (default half a window)")
    p.add_argument("--push-frames", type=int, default=300, help="frames pushed to time the stream (0: skip)")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    p.add_argument("--inference-path", choices=("eager", "compile"), default="eager",
                   help="how the model runs (lib.perf.inference.prepare_for_inference); compile takes minutes")
    p.add_argument("--skip-accuracy", action="store_true", help="only time the stream")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    import numpy as np
    import torch

    from lib.data.datareader_h36m import DataFormatError, load_h36m_pickle
    from lib.engine.lifting import lift_video
    from lib.perf.windowing import score_plan, test_videos
    from lib.utils.sliding_windows import consecutive_plan
    from sct import Lifter
    from sct.lifter import normalize_keypoints

    try:
        if args.threads is not None:
            if args.threads < 1:
                raise ValueError(f"--threads must be at least 1, got {args.threads}")
            torch.set_num_threads(args.threads)
        if args.checkpoint:
            lifter = Lifter.from_checkpoint(args.checkpoint, args.config, device="cpu", stride=args.stride,
                                            inference_path=args.inference_path)
        else:
            lifter = Lifter.pretrained(args.lifter, device="cpu", stride=args.stride,
                                       inference_path=args.inference_path)
        for k in args.lookahead:
            if not 0 <= k < lifter.window:
                raise ValueError(f"--lookahead {k} must be between 0 and {lifter.window - 1}")
        videos = test_videos(load_h36m_pickle(args.data), args.cameras or None)
        if not videos:
            raise ValueError(f"{args.data}: no test video seen by cameras {' '.join(args.cameras)}")
    except (ValueError, FileNotFoundError, DataFormatError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    L = lifter.window

    def consecutive(v):
        x = normalize_keypoints(v.keypoints, v.width, v.height)
        return lift_video(lifter.model, x, consecutive_plan(len(x), L), batch_size=lifter.batch_size)

    ways = [("consecutive windows", consecutive),
            (f"overlapping, stride {lifter.stride} (default)", lambda v: lifter.lift(v.keypoints, v.width, v.height))]
    ways += [(f"stream, look-ahead {k}", lambda v, k=k: lifter.lift(v.keypoints, v.width, v.height, lookahead=k))
             for k in args.lookahead]
    print(f"{lifter!r}; {len(videos)} test videos, {sum(len(v.keypoints) for v in videos)} frames, "
          f"{torch.get_num_threads()} threads")
    if not args.skip_accuracy:
        print("| lifting | P1 mm | accel. error at borders | elsewhere | ratio |")
        print("|---|---|---|---|---|")
    for name, fn in ways if not args.skip_accuracy else []:
        s = score_plan(name, fn, videos, L)
        print(f"| {name} | {s.p1:.1f} | {s.accel_border:.2f} | {s.accel_elsewhere:.2f} | "
              f"{s.accel_border / s.accel_elsewhere:.2f} |", flush=True)
    if args.push_frames:
        frames = videos[0].keypoints[:args.push_frames]
        v = videos[0]
        for flip in (True, False):
            stream = lifter.stream(v.width, v.height, lookahead=0, flip=flip)
            wall, cpu = [], []
            for f in frames:
                begin, begin_cpu = time.perf_counter(), time.process_time()
                stream.push(f)
                wall.append((time.perf_counter() - begin) * 1e3)
                cpu.append((time.process_time() - begin_cpu) * 1e3)
            wall, cpu = np.asarray(wall[10:]), np.asarray(cpu[10:])  # after warm-up (and compilation)
            print(f"stream push ({args.inference_path}, flip {'on' if flip else 'off'}): wall median "
                  f"{np.median(wall):.1f} ms (95th percentile {np.percentile(wall, 95):.1f}), CPU median "
                  f"{np.median(cpu):.1f} ms per frame over {len(wall)} frames")
    return 0


if __name__ == "__main__":
    sys.exit(main())
