"""Video demo: YOLOv3 people -> HRNet-W48 2D keypoints -> SCT 3D poses -> keypoint files and a video.

    python demo/vis.py --video sample_video.mp4

Outputs go to demo/output/<video name>/ (see docs/DEMO.md). Exit code 0 on success, 2 on a problem you can
fix (missing or corrupt weights, unreadable video, no person found, bad flag), with one line saying what.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:  # so that `python demo/vis.py` works from a clean clone
    sys.path.insert(0, str(REPO_ROOT))


def build_parser() -> argparse.ArgumentParser:
    from demo.lib.pipeline import DemoOptions

    d = DemoOptions(video="")
    p = argparse.ArgumentParser(
        description="3D human pose from a video: YOLOv3 person boxes, HRNet-W48 2D keypoints, SCT lifting. "
                    "Writes keypoints_2d.npz, keypoints_3d.npz and a rendered mp4 to demo/output/<video name>/.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--video", required=True,
                   help="input video; a bare file name is also looked up in demo/video/")
    p.add_argument("--checkpoint", default=d.checkpoint, help="SCT checkpoint (released best_epoch.bin layout)")
    p.add_argument("--config", default=d.config, help="YAML config the checkpoint was trained with")
    p.add_argument("--detector-weights", default=d.detector_weights, help="Darknet yolov3.weights")
    p.add_argument("--detector-cfg", default=d.detector_cfg, help="Darknet cfg of the detector")
    p.add_argument("--pose-weights", default=d.pose_weights, help="HRNet-W48 384x288 COCO weights (.pth)")
    p.add_argument("--out-dir", default=None,
                   help="output folder (default: demo/output/<video name>/); replaced as a whole when done")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default=d.device,
                   help="where to run the networks; auto picks cuda when available")
    p.add_argument("--num-person", type=int, default=d.num_person,
                   help="how many people to keep: the largest tracks (sum of box areas over frames)")
    p.add_argument("--fps", type=float, default=None, help="frame rate of the output video (default: the input's)")
    p.add_argument("--no-render", action="store_true", help="write the keypoint files only, no video")
    p.add_argument("--det-size", type=int, default=d.det_size, help="YOLOv3 input size (multiple of 32)")
    p.add_argument("--det-conf", type=float, default=d.det_conf,
                   help="person confidence threshold (objectness x class probability)")
    p.add_argument("--det-nms", type=float, default=d.det_nms, help="IoU threshold of non-maximum suppression")
    p.add_argument("--batch-size", type=int, default=d.batch_size,
                   help="frames per batch for detection and keypoints; windows per batch for lifting")
    p.add_argument("--no-flip", action="store_true",
                   help="skip horizontal-flip test-time averaging (2D and 3D); about twice as fast")
    p.add_argument("--render-height", type=int, default=d.render_height,
                   help="height in pixels of the rendered video (at most the input height)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    import torch

    from demo.lib.pipeline import DemoError, DemoOptions, run_demo

    opts = DemoOptions(
        video=args.video, checkpoint=args.checkpoint, config=args.config,
        detector_cfg=args.detector_cfg, detector_weights=args.detector_weights, pose_weights=args.pose_weights,
        out_dir=args.out_dir, device=args.device, num_person=args.num_person, fps=args.fps,
        render=not args.no_render, det_size=args.det_size, det_conf=args.det_conf, det_nms=args.det_nms,
        batch_size=args.batch_size, flip=not args.no_flip, render_height=args.render_height,
        progress=not args.quiet)
    try:
        written = run_demo(opts)
    except DemoError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except torch.cuda.OutOfMemoryError:
        print("error: out of GPU memory; lower --batch-size or use --device cpu", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted; nothing was written", file=sys.stderr)
        return 130
    for key in ("keypoints_2d", "keypoints_3d", "video"):
        if key in written:
            print(f"wrote {written[key]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
