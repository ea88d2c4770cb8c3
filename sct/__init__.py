"""SCT's public API: lift 2D keypoints of people in a video to 3D poses.

>>> from sct import Lifter, coco_to_h36m, scale_to_height
>>> lifter = Lifter.pretrained("mocap-sct")
>>> h36m, conf = coco_to_h36m(coco_xy, coco_scores)                   # (T, 17, 2), (T, 17)
>>> poses = lifter.lift(np.dstack([h36m, conf]), width=1280, height=720)
>>> poses_mm, _ = scale_to_height(poses, 1700)                        # root-relative, millimetres

The research code underneath (training, evaluation, benchmarks) is ``lib/`` in a checkout.
"""

from .body_height import DEFAULT_HEIGHT_MM, scale_to_height, skeleton_height
from .keypoint_formats import blazepose_to_coco, blazepose_to_h36m, coco_to_h36m
from .lifter import Lifter
from .pretrained import PRETRAINED
from .streaming import LiftingStream

__all__ = [
    "DEFAULT_HEIGHT_MM",
    "PRETRAINED",
    "Lifter",
    "LiftingStream",
    "blazepose_to_coco",
    "blazepose_to_h36m",
    "coco_to_h36m",
    "scale_to_height",
    "skeleton_height",
]
