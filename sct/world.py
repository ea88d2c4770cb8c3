"""A world frame for a static camera: Y up, the floor at y = 0, estimated from the people in the video.

Method (:func:`estimate_world_frame`), on camera-frame poses (x right, y down, z forward, mm; e.g. from
:func:`sct.placement.place_in_camera`):

1. **Up**: the trunk direction (pelvis -> thorax) of every person in every frame, as unit vectors; their
   component-wise median, normalised, is a first up; the trunks within 25 degrees of it (people upright,
   not bending or lying) give the final median. Trunks lean (a walk, a crouch), so this up can be a few
   degrees off. ``use_floor=True`` refines it by the floor itself: each person's
   lower ankle in every frame is a floor contact (those more than 40 mm above the fitted floor, feet in
   the air, are dropped, three times over), and a plane through them with one normal for everybody and
   one height per person (a person placed too far or too near is also too low or too high) is fitted by
   least squares, with the trunk direction as a prior of 5 degrees' uncertainty (so contacts along a
   line correct the tilt only across that line). This helps with accurate depths (2.5 against 5.7 degrees
   with true poses, docs/MOTION.md) but hurts with a lifter's noisier depths (11 against 3.2 degrees): depth
   errors slide the contacts along the camera rays and tilt the plane towards them. Off by default.
2. **Axes**: world Y = up; world X = the camera's x axis (image right) made horizontal; world Z = X x Y,
   pointing back towards the camera. For a level camera the world frame is the camera frame turned half
   a turn about x (the OpenGL camera convention, levelled).
3. **Floor**: in every frame, each person's lower ankle is taken to be about ``ankle_height_mm`` above the
   floor (feet on the ground); the floor is the median of those heights minus ``ankle_height_mm``. The
   world origin is on the floor straight below the camera, so the camera sits at
   ``(0, camera_height_mm, 0)``.

``X_world = rotation @ X_camera + (0, camera_height_mm, 0)``.

Limits: one flat floor and a camera that does not move; people mostly upright (a crowd that bends, sits or
lies tilts the up direction; a walk's forward lean tilts it by a few degrees); jumping or climbing people,
stairs and slopes bias the floor; the floor inherits the depth error of the placement (a person placed 10 %
too far is also 10 % too low). Root-relative poses (pelvis at the origin) give the same rotation and put the
pelvis at its height above the floor.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._checks import joint_array

PELVIS, THORAX = 0, 8
ANKLES = (3, 6)
UPRIGHT_DEG = 25.0
PRIOR_DEG = 5.0  # uncertainty of the trunks' up direction, against which the floor contacts are weighed
CONTACT_MM = 40.0  # a lower ankle more than this above the fitted floor is not touching it
CONTACT_NOISE_MM = 50.0  # scatter of the contacts' heights (ankle above the sole, placement depth noise)
ANKLE_HEIGHT_MM = 80.0  # ankle joint above the sole of a standing person (as in the Human3.6M renderer)


@dataclass(frozen=True)
class WorldFrame:
    """``rotation`` (3, 3): camera-to-world (``X_world = rotation @ X_camera + (0, camera_height_mm, 0)``);
    ``camera_height_mm``: the camera's height above the floor; ``up_camera`` (3,): world up in camera
    coordinates (row 1 of ``rotation``); ``tilt_deg``: angle between the camera's optical axis and the
    horizontal (positive: looking down)."""

    rotation: np.ndarray
    camera_height_mm: float
    up_camera: np.ndarray

    @property
    def tilt_deg(self) -> float:
        return float(np.degrees(np.arcsin(np.clip(-self.up_camera[2], -1, 1))))


def _median_direction(vectors: np.ndarray) -> np.ndarray:
    m = np.median(vectors, axis=0)
    return m / np.linalg.norm(m)


def rotation_from_up(up_camera: np.ndarray) -> np.ndarray:
    """Camera-to-world rotation (3, 3) whose world Y is ``up_camera`` (3,) (a direction in camera
    coordinates), world X the camera's x axis made horizontal, world Z = X x Y."""
    y = np.asarray(up_camera, dtype=np.float64)
    y = y / np.linalg.norm(y)
    x = np.array([1.0, 0.0, 0.0]) - y[0] * y
    if np.linalg.norm(x) < 1e-6:  # camera rolled a quarter turn: use its y axis instead
        x = np.array([0.0, 1.0, 0.0]) - y[1] * y
    x /= np.linalg.norm(x)
    return np.stack([x, y, np.cross(x, y)])


def refine_up_with_floor(contacts: np.ndarray, person: np.ndarray, up: np.ndarray, iterations: int = 4
                         ) -> np.ndarray:
    """Up (3,) from floor contacts ``(N, 3)`` (camera frame, mm) of people ``person`` (N,) ints, starting
    from (and regularised towards) ``up`` (3,): the least-squares plane normal shared by all people, one
    height per person, contacts more than CONTACT_MM above it dropped at each iteration."""
    ids, person = np.unique(person, return_inverse=True)
    basis = np.linalg.svd(up[None])[2][1:]  # (2, 3): two directions perpendicular to up
    n = up
    keep = np.ones(len(contacts), dtype=bool)
    for _ in range(iterations):
        h = contacts @ n
        offset = np.array([np.percentile(h[person == i], 25) if (person == i).any() else 0.0
                           for i in range(len(ids))])
        r = h - offset[person]
        keep = (r < CONTACT_MM) & (r > -4 * CONTACT_MM)
        if keep.sum() < 10:
            return up
        # unknowns: delta (2: the tilt of the normal away from ``up``) and one height per person;
        # each contact: (up + basis.T delta) . p - d_person = 0
        a = np.zeros((keep.sum(), 2 + len(ids)))
        a[:, :2] = contacts[keep] @ basis.T
        a[np.arange(keep.sum()), 2 + person[keep]] = -1.0
        b = -(contacts[keep] @ up)
        prior = (CONTACT_NOISE_MM / np.tan(np.radians(PRIOR_DEG))) ** 2
        ata = a.T @ a
        ata[[0, 1], [0, 1]] += prior
        delta = np.linalg.solve(ata, a.T @ b)[:2]
        n = up + basis.T @ delta
        n /= np.linalg.norm(n)
    return n


def estimate_world_frame(poses_camera_mm: np.ndarray, ankle_height_mm: float = ANKLE_HEIGHT_MM,
                         use_floor: bool = False) -> WorldFrame:
    """Estimate up and floor from camera-frame poses ``(P, T, 17, 3)`` mm of everyone in a video (NaN where
    not seen); see the module docstring for the method and its limits. ``use_floor=True``: refine the
    trunks' up with a floor plane through the lower ankles (for accurate depths only). ``ValueError`` (one
    line) when no person is seen in any frame."""
    poses = joint_array(poses_camera_mm, "poses", 4)
    person = np.broadcast_to(np.arange(len(poses))[:, None], poses.shape[:2]).reshape(-1)
    poses = poses.reshape(-1, 17, 3)
    seen = np.isfinite(poses).all(axis=(1, 2))
    poses, person = poses[seen], person[seen]
    trunk = poses[:, THORAX] - poses[:, PELVIS]
    norm = np.linalg.norm(trunk, axis=-1)
    ok = norm > 1e-6
    poses, person, trunk = poses[ok], person[ok], trunk[ok] / norm[ok, None]
    if not len(poses):
        raise ValueError("no person is seen in any frame: cannot estimate the up direction and the floor")
    up = _median_direction(trunk)
    upright = trunk @ up > np.cos(np.radians(UPRIGHT_DEG))
    if upright.sum() >= max(3, len(trunk) // 10):
        up = _median_direction(trunk[upright])
    if use_floor:
        lower = np.argmin(poses[:, list(ANKLES)] @ up, axis=1)
        contacts = poses[np.arange(len(poses)), np.asarray(ANKLES)[lower]]
        up = refine_up_with_floor(contacts, person, up)
    rotation = rotation_from_up(up)
    lowest_ankle = (poses[:, list(ANKLES)] @ up).min(axis=1)
    camera_height = float(ankle_height_mm - np.median(lowest_ankle))
    return WorldFrame(rotation=rotation, camera_height_mm=camera_height, up_camera=rotation[1].copy())


def to_world(poses_camera_mm: np.ndarray, frame: WorldFrame) -> np.ndarray:
    """Camera-frame points ``(..., 3)`` mm -> world points ``(..., 3)`` mm (Y up, floor at y = 0); NaN
    stays NaN."""
    pts = np.asarray(poses_camera_mm, dtype=np.float64)
    return pts @ frame.rotation.T + np.array([0.0, frame.camera_height_mm, 0.0])
