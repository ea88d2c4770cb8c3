"""Pose-level augmentation that makes motion the corpus lacks, and the cameras of users' videos.

Three switchable kinds of new training motion (each off by default, see :class:`AugmentConfig`), and two
ways to build test sets unlike the corpus:

* **recombination** (:func:`recombine`): the trunk and arms of one clip on the legs and path of another
  (``"upper"``), or the arms of one clip on the body of another (``"arms"``), each part carried in the
  frame of the joint it hangs from (pelvis or thorax), then every bone brought back to the recipient's
  length, so the new clip has one consistent body;
* **body proportions** (:func:`proportion_factors`): per clip, legs, arms, trunk, head and the widths of
  hips and shoulders scaled apart (left and right alike, constant over the clip);
* **camera variety** (:func:`wild_cameras`): four cameras per clip at any heading around it, at chosen
  heights, distances and focal lengths, aimed at the body with a random tilt and roll, every joint of
  the clip in front of the camera and inside the image;
* **synthetic motion on real bodies** (:func:`synthetic_on_body`): the synthetic generator's actions
  (sitting, bending, ...) with the bone lengths of a real clip.

Everything is a function of the generator passed in, so a converter run is reproducible from its seed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.spatial.transform import Rotation

from ...utils.skeleton import H36M_PARENTS
from ..h36m_resolution import H36M_CAMERA_IDS, H36M_RESOLUTION
from .h36m_cameras import H36MCamera
from .synthetic_h36m import ACTION_STYLES, bones_with_lengths, synthesize_motion

# joints moved by each recombination part, and the joint whose frame carries them
RECOMBINE_PARTS: dict[str, tuple[int, tuple[int, ...]]] = {
    "upper": (0, (7, 8, 9, 10, 11, 12, 13, 14, 15, 16)),
    "arms": (8, (11, 12, 13, 14, 15, 16)),
}
# bone groups of the body-proportion change (the bone parent -> joint, Human3.6M order)
PROPORTION_GROUPS: dict[str, tuple[int, ...]] = {
    "hip width": (1, 4), "thighs": (2, 5), "shins": (3, 6), "trunk": (7, 8), "head": (9, 10),
    "shoulder width": (11, 14), "upper arms": (12, 15), "forearms": (13, 16),
}


@dataclass(frozen=True)
class CameraRanges:
    """Where :func:`wild_cameras` may put a camera: ``height`` mm above the floor, horizontal
    ``distance`` mm from the middle of the clip's root path, ``focal`` px (log-uniform) on an image of the
    Human3.6M cameras' size (1000 px wide), ``tilt`` / ``roll`` degrees of random turn away from aiming at
    the body centre."""

    height: tuple[float, float] = (500.0, 2500.0)
    distance: tuple[float, float] = (2000.0, 10000.0)
    focal: tuple[float, float] = (500.0, 1800.0)
    tilt: float = 8.0
    roll: float = 4.0


# the test cameras of docs/EXPERIMENTS.md ("cameras unlike Human3.6M's"): phones and webcams
TEST_CAMERA_RANGES = CameraRanges(height=(600.0, 2200.0), distance=(2500.0, 8000.0), focal=(700.0, 1600.0),
                                  tilt=0.0, roll=0.0)
# the training augmentation: wider (phones held low or high, webcams, far tripods)
TRAIN_CAMERA_RANGES = CameraRanges()


def bone_lengths(joints: np.ndarray) -> np.ndarray:
    """Median length over the frames of each bone (parent -> joint) of ``joints`` (T, 17, 3): (17,)
    (entry 0, the root, is 0)."""
    out = np.zeros(len(H36M_PARENTS))
    for j in range(1, len(H36M_PARENTS)):
        out[j] = np.median(np.linalg.norm(joints[:, j] - joints[:, H36M_PARENTS[j]], axis=-1))
    return out


def _frame(origin_left: np.ndarray, origin_right: np.ndarray, up: np.ndarray) -> np.ndarray:
    """Orthonormal frames (T, 3, 3), columns: right-to-left axis, forward, up (orthogonalised)."""
    x = origin_left - origin_right
    x /= np.linalg.norm(x, axis=-1, keepdims=True) + 1e-9
    z = up - (up * x).sum(-1, keepdims=True) * x
    z /= np.linalg.norm(z, axis=-1, keepdims=True) + 1e-9
    y = np.cross(z, x)
    return np.stack([x, y, z], axis=-1)


def _part_frame(joints: np.ndarray, anchor: int) -> np.ndarray:
    if anchor == 0:  # pelvis: hips across, spine up
        return _frame(joints[:, 4], joints[:, 1], joints[:, 7] - joints[:, 0])
    return _frame(joints[:, 11], joints[:, 14], joints[:, 9] - joints[:, 8])  # thorax: shoulders, neck


def recombine(recipient: np.ndarray, donor: np.ndarray, part: str, rng: np.random.Generator) -> np.ndarray:
    """A new clip (T, 17, 3): ``recipient`` (T, 17, 3) with the ``part`` (a key of
    :data:`RECOMBINE_PARTS`) of ``donor`` (T', 17, 3), taken from a random window of the donor (looped
    when shorter) and expressed in the frame of the joint it hangs from. Every bone then gets the
    recipient's length, so the body is the recipient's and constant over the clip."""
    if part not in RECOMBINE_PARTS:
        raise ValueError(f"unknown recombination part '{part}'; choose from {sorted(RECOMBINE_PARTS)}")
    anchor, moved = RECOMBINE_PARTS[part]
    t = len(recipient)
    start = int(rng.integers(0, max(1, len(donor) - t + 1)))
    window = donor[(start + np.arange(t)) % len(donor)]
    offsets = window[:, list(moved)] - window[:, anchor:anchor + 1]
    local = np.einsum("tji,tkj->tki", _part_frame(window, anchor), offsets)  # in the anchor's frame
    out = np.array(recipient, dtype=np.float64, copy=True)
    placed = np.einsum("tij,tkj->tki", _part_frame(recipient, anchor), local)
    out[:, list(moved)] = out[:, anchor:anchor + 1] + placed
    want, have = bone_lengths(recipient), bone_lengths(out)
    factors = np.ones(len(H36M_PARENTS))
    factors[1:] = want[1:] / np.maximum(have[1:], 1e-9)
    return rescale_bones(out, factors)


def rescale_bones(joints: np.ndarray, factors: np.ndarray) -> np.ndarray:
    """Scale each bone (parent -> joint, Human3.6M tree) of (T, 17, 3) by ``factors`` (17,); the root
    stays where it is and every bone keeps its direction."""
    out = np.array(joints, dtype=np.float64, copy=True)
    for j in range(1, len(H36M_PARENTS)):
        p = H36M_PARENTS[j]
        out[:, j] = out[:, p] + (joints[:, j] - joints[:, p]) * factors[j]
    return out


def proportion_factors(rng: np.random.Generator, spread: float) -> np.ndarray:
    """Per-bone factors (17,) that change a body's proportions: one factor N(1, ``spread``) per group of
    :data:`PROPORTION_GROUPS` (left and right alike), clipped to 1 +- 2.5 ``spread``; the root's is 1."""
    factors = np.ones(len(H36M_PARENTS))
    for group in PROPORTION_GROUPS.values():
        factors[list(group)] = np.clip(rng.normal(1.0, spread), 1 - 2.5 * spread, 1 + 2.5 * spread)
    return factors


def look_at_camera(position: np.ndarray, target: np.ndarray, focal: float, index: int, roll: float = 0.0,
                   name: str = "wild") -> H36MCamera:
    """A pinhole camera at ``position`` (3,) world mm aimed at ``target`` (3,), turned by ``roll`` radians
    about its optical axis, with ``focal`` px and the size and principal point (the image centre) of the
    Human3.6M camera ``index`` (its id, so the pickle's camera names stay the four known ones)."""
    forward = np.asarray(target, dtype=np.float64) - position
    forward /= np.linalg.norm(forward)
    right = np.cross(forward, [0.0, 0.0, 1.0])
    right /= np.linalg.norm(right)
    down = np.cross(forward, right)
    r_c2w = np.stack([right, down, forward], axis=-1) @ Rotation.from_rotvec([0.0, 0.0, roll]).as_matrix()
    x, y, z, w = Rotation.from_matrix(r_c2w).as_quat()
    cam_id = H36M_CAMERA_IDS[index % len(H36M_CAMERA_IDS)]
    width, height = H36M_RESOLUTION[cam_id]
    return H36MCamera(id=cam_id, subject=name, index=index, res_w=width, res_h=height,
                      focal_length=np.array([focal, focal]), center=np.array([width / 2, height / 2]),
                      radial_distortion=np.zeros(3), tangential_distortion=np.zeros(2),
                      orientation=np.array([w, x, y, z]), translation=np.asarray(position, dtype=np.float64))


def _sees_all(camera: H36MCamera, joints: np.ndarray, margin_px: float, min_depth: float) -> bool:
    cam = camera.world_to_camera(joints)
    if (cam[..., 2] < min_depth).any():
        return False
    uv = camera.project(cam)
    return bool((uv >= -margin_px).all() and (uv[..., 0] <= camera.res_w + margin_px).all()
                and (uv[..., 1] <= camera.res_h + margin_px).all())


def wild_cameras(joints: np.ndarray, rng: np.random.Generator, ranges: CameraRanges = TRAIN_CAMERA_RANGES,
                 n: int = 4, tries: int = 50) -> list[H36MCamera]:
    """``n`` cameras around a world clip ``joints`` (T, 17, 3) mm (z up, floor at 0): heading uniform,
    height, distance and focal length drawn from ``ranges``, aimed at the middle of the body (plus a random
    tilt and roll). A draw that leaves a joint of some frame outside the image or nearer than 0.3 m is
    drawn again (up to ``tries`` times; then the last draw moved back until it sees the clip)."""
    root = joints[:, 0]
    mid = (root.min(axis=0) + root.max(axis=0)) / 2
    body_mid = np.array([mid[0], mid[1], float(np.median(joints[..., 2]))])
    cameras = []
    for index in range(n):
        for attempt in range(tries):
            heading = rng.uniform(0, 2 * np.pi)
            height = rng.uniform(*ranges.height)
            distance = rng.uniform(*ranges.distance)
            focal = float(np.exp(rng.uniform(*np.log(ranges.focal))))
            tilt = np.deg2rad(rng.uniform(-ranges.tilt, ranges.tilt))
            pan = np.deg2rad(rng.uniform(-ranges.tilt, ranges.tilt))
            roll = np.deg2rad(rng.uniform(-ranges.roll, ranges.roll))
            position = np.array([mid[0] + distance * np.cos(heading), mid[1] + distance * np.sin(heading), height])
            aim = body_mid - position
            aim = Rotation.from_rotvec([0.0, 0.0, pan]).apply(aim)
            side = np.cross(aim, [0.0, 0.0, 1.0])
            aim = Rotation.from_rotvec(side / np.linalg.norm(side) * tilt).apply(aim)
            camera = look_at_camera(position, position + aim, focal, index, roll)
            if _sees_all(camera, joints, margin_px=0.0, min_depth=300.0):
                break
            if attempt == tries - 1:  # move back along the line of sight until the clip fits
                for _ in range(40):
                    position = position - aim / np.linalg.norm(aim) * 500.0
                    camera = look_at_camera(position, position + aim, focal, index, roll)
                    if _sees_all(camera, joints, margin_px=0.0, min_depth=300.0):
                        break
        cameras.append(camera)
    return cameras


def synthetic_on_body(lengths: np.ndarray, action: str, n_frames: int, rng: np.random.Generator) -> np.ndarray:
    """World joints (T, 17, 3) mm of the synthetic generator's ``action`` (a Human3.6M action name)
    performed by a body with the bone ``lengths`` (17,) mm (e.g. :func:`bone_lengths` of a real clip)."""
    if action not in ACTION_STYLES:
        raise ValueError(f"unknown action '{action}'; choose from {sorted(ACTION_STYLES)}")
    return synthesize_motion(bones_with_lengths(lengths), ACTION_STYLES[action], n_frames, rng)


@dataclass(frozen=True)
class AugmentConfig:
    """Which augmentations a converter run applies (all off by default: the shipped recipe).

    ``recombine``: share of the real training clips replaced by a recombination with another training
    clip (part ``"upper"`` or ``"arms"``, half each); ``proportions``: spread of the per-clip
    body-proportion factors (0 = off); ``camera_variety``: share of the training videos (real and
    synthetic) seen by :func:`wild_cameras` with :data:`TRAIN_CAMERA_RANGES` instead of a Human3.6M
    calibration; ``heldout_cameras``: ``"h36m"`` or ``"wild"`` (the test and validation clips through
    :data:`TEST_CAMERA_RANGES`); ``heldout_synthetic``: actions whose synthetic motion, on the bodies of
    the held-out clips, replaces the held-out motion (empty: the real clips); ``synthetic_exclude``:
    actions left out of the training split's synthetic share."""

    recombine: float = 0.0
    proportions: float = 0.0
    camera_variety: float = 0.0
    heldout_cameras: str = "h36m"
    heldout_synthetic: Sequence[str] = ()
    synthetic_exclude: Sequence[str] = ()

    def check(self) -> None:
        """``ValueError`` naming the first setting out of range."""
        for name in ("recombine", "camera_variety"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"--{name.replace('_', '-')} must be a share in [0, 1], got {getattr(self, name)}")
        if not 0 <= self.proportions < 0.4:
            raise ValueError(f"--proportions must be a spread in [0, 0.4), got {self.proportions}")
        if self.heldout_cameras not in ("h36m", "wild"):
            raise ValueError(f"--heldout-cameras must be h36m or wild, got '{self.heldout_cameras}'")
        for action in [*self.heldout_synthetic, *self.synthetic_exclude]:
            if action not in ACTION_STYLES:
                raise ValueError(f"unknown action '{action}'; choose from {', '.join(sorted(ACTION_STYLES))}")
