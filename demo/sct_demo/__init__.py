"""Video demo library: YOLOv3 person detection, HRNet-W48 keypoints, COCO->H36M, SCT lifting, rendering.

Entry point: :func:`demo.sct_demo.pipeline.run_demo` (called by ``demo/vis.py``).
"""
