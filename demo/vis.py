"""Video demo: people and their 2D keypoints (YOLOv3 + HRNet-W48, MediaPipe BlazePose offline, or your own
keypoints file) -> SCT 3D poses -> keypoint files and a video.

    python demo/vis.py --video sample_video.mp4
    python demo/vis.py --keypoints alphapose-results.json --video sample_video.mp4
    python demo/vis.py --keypoints openpose_json/ --size 1920 1080      # keypoint files only

Outputs go to demo/output/<video name>/ (see docs/DEMO.md). Exit code 0 on success, 2 on a problem you can
fix (missing or corrupt weights, unreadable video, no person found, bad flag), with one line saying what.
"""

from __future__ import annotations

import argparse
import sys

try:
    from demo.sct_demo.options import DemoError, DemoOptions
    from demo.sct_demo.pipeline import run_demo, run_webcam
except ModuleNotFoundError as exc:  # the repository is neither installed nor on the path
    if exc.name not in ("demo", "lib"):
        raise
    print("error: cannot import the project; install it (`make install` or `pip install -e .`), or run "
          "`python -m demo.vis` from the repository root, or set PYTHONPATH to the repository root",
          file=sys.stderr)
    sys.exit(2)


def build_parser() -> argparse.ArgumentParser:
    d = DemoOptions()
    p = argparse.ArgumentParser(
        description="3D human pose from a video or from 2D keypoints you have: people and 2D keypoints (YOLOv3 + "
                    "HRNet-W48, or MediaPipe BlazePose offline, or --keypoints), SCT lifting. Writes keypoints_2d.npz, "
                    "keypoints_3d.npz and a rendered mp4 to demo/output/<video name>/. See docs/DEMO.md.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--video", default=None,
                   help="input video; a bare file name is also looked up in demo/video/ (optional with --keypoints: "
                        "then used for the frame size and the rendering)")
    p.add_argument("--keypoints", default=None, metavar="FILE",
                   help="lift these 2D keypoints instead of detecting them: AlphaPose results JSON (COCO-17), a "
                        "folder of OpenPose BODY_25 JSON files, or the demo's keypoints_2d.npz")
    p.add_argument("--size", type=int, nargs=2, default=None, metavar=("W", "H"),
                   help="frame size in pixels of --keypoints when no --video is given (only the npz files are "
                        "written); a demo keypoints_2d.npz knows its size")
    p.add_argument("--pose2d", choices=("auto", "hrnet", "mediapipe"), default=d.pose2d,
                   help="2D backend for --video: hrnet (YOLOv3 + HRNet-W48, needs their weights), mediapipe "
                        "(BlazePose behind OpenCV's HOG people detector, offline: make demo-offline), auto (hrnet "
                        "when its weights are present, else mediapipe when installed)")
    p.add_argument("--checkpoint", default=None,
                   help="SCT checkpoint (released best_epoch.bin layout); default checkpoint/best_epoch.bin when "
                        "present, else the shipped real-motion SCT checkpoint/mocap/sct/best_epoch.bin")
    p.add_argument("--config", default=None,
                   help="YAML config the checkpoint was trained with (default: configs/MB_train_h36m.yaml for "
                        "checkpoint/best_epoch.bin and any --checkpoint, configs/mocap/sct.yaml for the shipped one)")
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
    p.add_argument("--det-every", type=int, default=d.det_every,
                   help="mediapipe backend: run the people detector on every N-th frame (people are followed "
                        "by their landmarks in between)")
    p.add_argument("--height", type=float, default=d.height_mm,
                   help="body height in mm: keypoints_3d.npz's poses_mm are scaled so that each skeleton's median "
                        "height is this")
    p.add_argument("--focal", type=float, default=None, metavar="PX",
                   help="the camera's focal length in pixels, for the positions in the scene (poses_camera_mm, "
                        "poses_world_mm); default: a 53-degree diagonal field of view (sct.placement.default_focal)")
    p.add_argument("--bvh", action="store_true",
                   help="also write person_<i>.bvh (world frame, millimetres, Y up) for animation tools; "
                        "docs/MOTION.md says how to import them")
    p.add_argument("--batch-size", type=int, default=d.batch_size,
                   help="frames per batch for detection and keypoints; windows per batch for lifting")
    p.add_argument("--no-flip", action="store_true",
                   help="skip horizontal-flip test-time averaging (2D and 3D); about twice as fast")
    p.add_argument("--lookahead", type=int, default=None, metavar="K",
                   help="lift as a live stream would: each frame from a window that ends K frames later (0: causal, "
                        "no look-ahead), frame by frame, printing the latency; default: offline, overlapping "
                        "windows blended (the most accurate)")
    p.add_argument("--webcam", type=int, default=None, metavar="N",
                   help="lift one person live from camera N (OpenCV VideoCapture(N); 0 is the first camera) with "
                        "--lookahead frames of delay (default 0), until Ctrl-C or --max-frames; writes "
                        "keypoints_3d.npz and prints the latency")
    p.add_argument("--max-frames", type=int, default=None, metavar="N", help="--webcam: stop after N frames")
    p.add_argument("--render-height", type=int, default=d.render_height,
                   help="height in pixels of the rendered video (at most the input height)")
    p.add_argument("--threads", type=int, default=None,
                   help="CPU threads of PyTorch and OpenCV (default: theirs, one per core); on a CPU shared with "
                        "other work, 1 is often much faster")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    import cv2
    import torch

    if args.threads is not None:
        if args.threads < 1:
            print(f"error: --threads must be at least 1, got {args.threads}", file=sys.stderr)
            return 2
        torch.set_num_threads(args.threads)
        cv2.setNumThreads(args.threads)
    opts = DemoOptions(
        video=args.video, keypoints=args.keypoints, size=tuple(args.size) if args.size else None, pose2d=args.pose2d,
        checkpoint=args.checkpoint, config=args.config, det_every=args.det_every, height_mm=args.height,
        detector_cfg=args.detector_cfg, detector_weights=args.detector_weights, pose_weights=args.pose_weights,
        out_dir=args.out_dir, device=args.device, num_person=args.num_person, fps=args.fps,
        render=not args.no_render, det_size=args.det_size, det_conf=args.det_conf, det_nms=args.det_nms,
        batch_size=args.batch_size, flip=not args.no_flip, lookahead=args.lookahead,
        focal=args.focal, bvh=args.bvh, render_height=args.render_height,
        progress=not args.quiet)
    if args.webcam is not None and args.video is not None:
        print("error: give --webcam N or --video, not both", file=sys.stderr)
        return 2
    if args.max_frames is not None and args.max_frames < 1:
        print(f"error: --max-frames must be at least 1, got {args.max_frames}", file=sys.stderr)
        return 2
    try:
        if args.webcam is not None:
            written = run_webcam(opts, args.webcam, max_frames=args.max_frames)
        else:
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
    for path in written.get("bvh", []):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
