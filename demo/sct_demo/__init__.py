"""Video demo library: 2D keypoints (YOLOv3 + HRNet-W48, HOG + MediaPipe BlazePose, or keypoint files),
conversion to Human3.6M joints, SCT lifting, rendering.

Entry point: :func:`demo.sct_demo.pipeline.run_demo` (called by ``demo/vis.py``).
"""
