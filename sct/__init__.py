"""SCT's public API: lift 2D keypoints of people in a video to 3D poses.

>>> from sct import Lifter
"""
