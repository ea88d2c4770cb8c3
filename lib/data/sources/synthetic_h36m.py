"""Synthetic Human3.6M: smooth human motion on a 17-joint skeleton, seen through the real cameras.

Each subject gets human bone lengths (a body scale and small per-bone differences, left and right
equal). Each (subject, action, subaction) video is a forward-kinematics sequence of joint angles built
from smooth random signals and the action's style (walking and turning, arm gestures, sitting down,
bending); the root moves inside the capture area and the feet stay on the floor. The world sequences
are rendered into MotionBERT's pickle layout by :mod:`lib.data.sources.h36m_render`.

Everything is a function of the seed: video ``(subject, action, subaction)`` draws from its own
generator seeded with ``(seed, subject, action, subaction)``, so a video does not change when the set
of other videos does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ...utils.rotations import axis_rotation
from ...utils.skeleton import H36M_PARENTS
from .h36m_cameras import load_h36m_cameras
from .h36m_render import (
    ANKLE_HEIGHT,
    CAPTURE_CENTER,
    CAPTURE_RADIUS,
    FPS,
    H36M_ACTIONS,
    TEST_SUBJECTS,
    TRAIN_SUBJECTS,
    DetectorNoise,
    Video,
    build_split,
)

# Rest skeleton in the body frame (x forward, y the subject's left, z up): direction and length (mm) of
# the bone from each joint's parent to the joint.
_REST_BONES: tuple[tuple[tuple[float, float, float], float], ...] = (
    ((0.0, 0.0, 0.0), 0.0),        # pelvis (root)
    ((0.0, -1.0, -0.12), 132.0),   # r_hip
    ((0.0, 0.0, -1.0), 442.0),     # r_knee
    ((0.0, 0.0, -1.0), 450.0),     # r_ankle
    ((0.0, 1.0, -0.12), 132.0),    # l_hip
    ((0.0, 0.0, -1.0), 442.0),     # l_knee
    ((0.0, 0.0, -1.0), 450.0),     # l_ankle
    ((0.05, 0.0, 1.0), 233.0),     # spine
    ((0.02, 0.0, 1.0), 255.0),     # thorax
    ((0.5, 0.0, 0.87), 118.0),     # nose
    ((-0.2, 0.0, 1.0), 115.0),     # head
    ((0.0, 1.0, -0.1), 150.0),     # l_shoulder
    ((0.0, 0.0, -1.0), 280.0),     # l_elbow
    ((0.0, 0.0, -1.0), 250.0),     # l_wrist
    ((0.0, -1.0, -0.1), 150.0),    # r_shoulder
    ((0.0, 0.0, -1.0), 280.0),     # r_elbow
    ((0.0, 0.0, -1.0), 250.0),     # r_wrist
)
# bones that share a length (left/right partners)
_BONE_GROUPS: tuple[tuple[int, ...], ...] = ((1, 4), (2, 5), (3, 6), (7,), (8,), (9,), (10,), (11, 14),
                                             (12, 15), (13, 16))


def bone_scale_factors(rng: np.random.Generator, body: tuple[float, float] = (0.92, 1.08),
                       spread: float = 0.04) -> np.ndarray:
    """Per-bone length factors (17,) of one body: a body scale drawn from ``body`` times per-bone
    factors N(1, ``spread``) clipped to 1 +- 2.5 ``spread``, equal on the left and right (entry 0, the
    root, is 1)."""
    scale = rng.uniform(*body)
    factors = np.ones(17)
    for group in _BONE_GROUPS:
        factor = scale * float(np.clip(rng.normal(1.0, spread), 1 - 2.5 * spread, 1 + 2.5 * spread))
        factors[list(group)] = factor
    return factors


def subject_bones(subject: str, seed: int) -> np.ndarray:
    """Rest bone vectors (17, 3) mm of a subject: a body scale in [0.92, 1.08] times per-bone factors
    N(1, 0.04) clipped to [0.9, 1.1], equal on the left and right."""
    rng = np.random.default_rng([seed, int(subject.lstrip("Ss")), 7177])
    factors = bone_scale_factors(rng)
    return bones_with_lengths(np.array([length for _, length in _REST_BONES]) * factors)


def bones_with_lengths(lengths: np.ndarray) -> np.ndarray:
    """Rest bone vectors (17, 3) mm: the generator's rest directions with the bone ``lengths`` (17,) mm."""
    bones = np.zeros((17, 3))
    for j in range(1, 17):
        d = np.asarray(_REST_BONES[j][0])
        bones[j] = d / np.linalg.norm(d) * lengths[j]
    return bones


# -- rotations ---------------------------------------------------------------------------------------
def forward_kinematics(bones: np.ndarray, local: Sequence[np.ndarray | None], root_rot: np.ndarray) -> np.ndarray:
    """Joint positions (T, 17, 3) relative to the root.

    ``bones`` (17, 3) rest bone vectors; ``local[j]`` (T, 3, 3) rotation of bone j in its parent bone's
    frame (None = identity); ``root_rot`` (T, 3, 3) the body frame's orientation in the world.
    """
    t = len(root_rot)
    frames = [root_rot]
    pos = [np.zeros((t, 3))]
    for j in range(1, 17):
        p = H36M_PARENTS[j]
        frame = frames[p] if local[j] is None else frames[p] @ local[j]
        frames.append(frame)
        pos.append(pos[p] + frame @ bones[j])
    return np.stack(pos, axis=1)


# -- smooth signals ----------------------------------------------------------------------------------
def _smooth(rng: np.random.Generator, t: np.ndarray, amp: float, f_lo: float = 0.08, f_hi: float = 0.6,
            n: int = 3) -> np.ndarray:
    """A smooth random signal (T,) of rough amplitude ``amp``: a few sinusoids of random frequency."""
    freqs = rng.uniform(f_lo, f_hi, n)
    phases = rng.uniform(0, 2 * np.pi, n)
    weights = rng.normal(size=n)
    weights /= np.sqrt((weights ** 2).sum()) + 1e-9
    return amp * (weights[:, None] * np.sin(2 * np.pi * freqs[:, None] * t[None] + phases[:, None])).sum(0)


def _pulses(rng: np.random.Generator, n_frames: int, rise=(0.6, 1.2), hold=(1.0, 3.0),
            rest=(1.0, 3.0)) -> np.ndarray:
    """A profile (T,) in [0, 1]: rest at 0, smooth rise, hold at 1, smooth fall, repeated (seconds)."""
    out = np.zeros(n_frames)
    i = -int(rng.uniform(0, rest[1]) * FPS)  # start at a random point of a rest
    while i < n_frames:
        segs = [(0.0, 0.0, rng.uniform(*rest)), (0.0, 1.0, rng.uniform(*rise)), (1.0, 1.0, rng.uniform(*hold)),
                (1.0, 0.0, rng.uniform(*rise))]
        for a, b, dur in segs:
            n = max(1, int(dur * FPS))
            x = np.linspace(0, 1, n, endpoint=False)
            ease = x * x * (3 - 2 * x)
            vals = a + (b - a) * ease
            lo, hi = max(i, 0), min(i + n, n_frames)
            if hi > lo:
                out[lo:hi] = vals[lo - i:hi - i]
            i += n
    return out


@dataclass(frozen=True)
class ActionStyle:
    """How an action moves. Angles in degrees; arm poses are (shoulder flexion, abduction, elbow)."""

    walk: str = "none"                    # none | pulse (now and then) | always
    speed: tuple[float, float] = (0.6, 1.0)  # m/s while walking
    gesture: float = 15.0                 # amplitude of free arm movement
    target_l: tuple[float, float, float] | None = None
    target_r: tuple[float, float, float] | None = None
    target_mode: str = "pulse"            # pulse | hold
    sit: str = "none"                     # none | hold (seated) | cycle (sit down, stand up)
    bend: float = 0.0                     # largest forward bend of the trunk
    rest_arm: tuple[float, float, float] = (5.0, 8.0, 15.0)


ACTION_STYLES: dict[str, ActionStyle] = {
    "Directions": ActionStyle(walk="pulse", speed=(0.4, 0.8), gesture=30, target_r=(70, 30, 30)),
    "Discussion": ActionStyle(walk="pulse", speed=(0.3, 0.6), gesture=40, target_l=(40, 20, 80)),
    "Eating": ActionStyle(sit="hold", gesture=10, target_l=(35, 10, 125), target_r=(35, 10, 120)),
    "Greeting": ActionStyle(walk="pulse", speed=(0.5, 0.9), gesture=20, target_r=(140, 40, 40)),
    "Phoning": ActionStyle(walk="pulse", speed=(0.3, 0.7), gesture=20, target_r=(30, 25, 135),
                           target_mode="hold"),
    "Posing": ActionStyle(gesture=25, target_l=(20, 80, 20), target_r=(90, 60, 60), bend=15),
    "Purchases": ActionStyle(walk="pulse", speed=(0.4, 0.8), gesture=20, target_r=(60, 10, 50), bend=55),
    "Sitting": ActionStyle(sit="hold", gesture=25, bend=25),
    "SittingDown": ActionStyle(sit="cycle", gesture=15, bend=30),
    "Smoking": ActionStyle(walk="pulse", speed=(0.2, 0.5), gesture=10, target_r=(40, 15, 130)),
    "Photo": ActionStyle(walk="pulse", speed=(0.3, 0.6), gesture=10, target_l=(70, 15, 100),
                         target_r=(70, 15, 100)),
    "Waiting": ActionStyle(gesture=10, target_l=(-10, 45, 100), target_r=(-10, 45, 100)),
    "Walking": ActionStyle(walk="always", speed=(0.9, 1.4), gesture=5),
    "WalkDog": ActionStyle(walk="always", speed=(0.6, 1.1), gesture=10, target_r=(40, 10, 20),
                           target_mode="hold", bend=25),
    "WalkTogether": ActionStyle(walk="always", speed=(0.8, 1.2), gesture=8),
}


def synthesize_motion(bones: np.ndarray, style: ActionStyle, n_frames: int,
                      rng: np.random.Generator) -> np.ndarray:
    """World joints (T, 17, 3) mm (z up, root inside the capture area, feet on the floor)."""
    d = np.deg2rad
    t = np.arange(n_frames) / FPS
    zeros = np.zeros(n_frames)

    # locomotion intensity g in [0, 1]
    if style.walk == "always":
        g = np.ones(n_frames)
    elif style.walk == "pulse":
        g = _pulses(rng, n_frames, rise=(0.5, 1.0), hold=(1.0, 2.5), rest=(1.5, 4.0))
    else:
        g = zeros.copy()
    speed = rng.uniform(*style.speed) * (1 + 0.1 * _smooth(rng, t, 1.0, 0.05, 0.2))
    cadence = 0.55 + 0.35 * speed                       # strides per second
    phase = 2 * np.pi * np.cumsum(cadence) / FPS + rng.uniform(0, 2 * np.pi)

    # sitting s and bending b profiles in [0, 1]
    if style.sit == "hold":
        s = np.ones(n_frames)
    elif style.sit == "cycle":
        s = _pulses(rng, n_frames, rise=(1.0, 1.8), hold=(1.0, 3.0), rest=(0.8, 2.0))
    else:
        s = zeros.copy()
    b = _pulses(rng, n_frames, rise=(0.8, 1.5), hold=(0.5, 2.0), rest=(1.0, 3.0)) if style.bend else zeros
    g = g * (1 - s)  # no walking while seated
    sit_transition = np.abs(np.gradient(s)) * FPS  # > 0 while sitting down or standing up

    # trunk
    lean = d(style.bend) * b * 0.45 + d(5) * g + d(20) * np.clip(sit_transition, 0, 1) + _smooth(rng, t, d(3))
    spine_flex = d(style.bend) * b * 0.35 + _smooth(rng, t, d(4))
    chest_flex = d(style.bend) * b * 0.2 + _smooth(rng, t, d(4))
    twist = _smooth(rng, t, d(10)) + g * d(6) * np.sin(phase)
    neck = _smooth(rng, t, d(10)) - d(style.bend) * b * 0.3
    sway = _smooth(rng, t, d(3))

    # legs: gait, weight shifts, sitting
    hip_amp = d(14 + 8 * speed) * g
    hip_r = hip_amp * np.sin(phase) + d(90) * s + _smooth(rng, t, d(4)) * (1 - g)
    hip_l = hip_amp * np.sin(phase + np.pi) + d(90) * s + _smooth(rng, t, d(4)) * (1 - g)
    knee_r = d(5) + g * d(45) * np.maximum(0, np.cos(phase + 0.9)) ** 2 + d(95) * s + d(8) * b
    knee_l = d(5) + g * d(45) * np.maximum(0, np.cos(phase + np.pi + 0.9)) ** 2 + d(95) * s + d(8) * b
    abd_r = d(3) + _smooth(rng, t, d(3)) + d(8) * s
    abd_l = d(3) + _smooth(rng, t, d(3)) + d(8) * s

    # arms: rest + free gestures + targets (+ counter swing while walking)
    def arm(target, side_sign):
        rest = np.array(style.rest_arm, dtype=float)
        if target is None:
            p = zeros
            tgt = rest
        else:
            tgt = np.array(target, dtype=float)
            p = np.ones(n_frames) if style.target_mode == "hold" else _pulses(rng, n_frames)
        flex = d(rest[0] + (tgt[0] - rest[0]) * p) + _smooth(rng, t, d(style.gesture))
        flex += g * d(18) * np.sin(phase + (np.pi if side_sign > 0 else 0.0)) * (1 - p)
        flex += d(style.bend) * b * 0.9  # arms hang while bending
        abd = d(rest[1] + (tgt[1] - rest[1]) * p) + np.abs(_smooth(rng, t, d(style.gesture * 0.6)))
        elbow = d(rest[2] + (tgt[2] - rest[2]) * p) + np.abs(_smooth(rng, t, d(style.gesture)))
        return flex, abd, np.clip(elbow, 0, d(150))

    sh_flex_l, sh_abd_l, elbow_l = arm(style.target_l, +1)
    sh_flex_r, sh_abd_r, elbow_r = arm(style.target_r, -1)

    # root path: heading turns smoothly, steering back when far from the capture centre
    centre = np.asarray(CAPTURE_CENTER)
    xy = np.zeros((n_frames, 2))
    heading = np.zeros(n_frames)
    angle = rng.uniform(0, 2 * np.pi)
    radius = CAPTURE_RADIUS * np.sqrt(rng.uniform(0, 0.5))
    pos = centre + radius * np.array([np.cos(angle), np.sin(angle)])
    h = rng.uniform(-np.pi, np.pi)
    wander = _smooth(rng, t, d(30), 0.05, 0.3)
    v = g * speed * 1000.0  # mm/s
    for i in range(n_frames):
        to_centre = centre - pos
        dist = np.linalg.norm(to_centre)
        rate = wander[i]
        if dist > 0.5 * CAPTURE_RADIUS and v[i] > 0:
            want = np.arctan2(to_centre[1], to_centre[0])
            diff = (want - h + np.pi) % (2 * np.pi) - np.pi
            rate += 2.5 * diff * min(1.0, (dist - 0.5 * CAPTURE_RADIUS) / (0.3 * CAPTURE_RADIUS))
        rate = np.clip(rate, -d(120), d(120))
        h += rate / FPS
        pos = pos + v[i] / FPS * np.array([np.cos(h), np.sin(h)])
        r = np.linalg.norm(pos - centre)
        if r > CAPTURE_RADIUS:  # hard wall
            pos = centre + (pos - centre) * CAPTURE_RADIUS / r
        xy[i] = pos
        heading[i] = h

    root_rot = axis_rotation(2, heading) @ axis_rotation(1, lean) @ axis_rotation(0, sway)
    local: list[np.ndarray | None] = [None] * 17
    local[2] = axis_rotation(0, -abd_r) @ axis_rotation(1, -(hip_r + lean))
    local[3] = axis_rotation(1, knee_r)
    local[5] = axis_rotation(0, abd_l) @ axis_rotation(1, -(hip_l + lean))
    local[6] = axis_rotation(1, knee_l)
    local[7] = axis_rotation(2, twist / 2) @ axis_rotation(1, spine_flex)
    local[8] = axis_rotation(2, twist / 2) @ axis_rotation(1, chest_flex)
    local[9] = axis_rotation(1, neck)
    local[12] = axis_rotation(0, sh_abd_l) @ axis_rotation(1, -sh_flex_l)
    local[13] = axis_rotation(1, -elbow_l)
    local[15] = axis_rotation(0, -sh_abd_r) @ axis_rotation(1, -sh_flex_r)
    local[16] = axis_rotation(1, -elbow_r)
    rel = forward_kinematics(bones, local, root_rot)
    lowest = np.minimum(rel[:, 3, 2], rel[:, 6, 2])
    world = rel.copy()
    world[..., :2] += xy[:, None, :]
    world[..., 2] += (ANKLE_HEIGHT - lowest)[:, None]
    return world


@dataclass
class SyntheticConfig:
    """What to generate. ``frames``: (shortest, longest) video in frames at 50 fps."""

    seed: int = 0
    train_subjects: Sequence[str] = TRAIN_SUBJECTS
    test_subjects: Sequence[str] = TEST_SUBJECTS
    actions: Sequence[str] = field(default_factory=lambda: list(H36M_ACTIONS))
    subactions: int = 1
    frames: tuple[int, int] = (330, 420)
    noise: DetectorNoise = field(default_factory=DetectorNoise)


def synthesize_videos(cfg: SyntheticConfig, subjects: Sequence[str]) -> list[Video]:
    """World-space videos for ``subjects`` x ``cfg.actions`` x ``cfg.subactions`` (in that order)."""
    videos = []
    for subject in subjects:
        bones = subject_bones(subject, cfg.seed)
        for action in cfg.actions:
            if action not in ACTION_STYLES:
                raise ValueError(f"unknown action '{action}'; choose from {sorted(ACTION_STYLES)}")
            for sub in range(1, cfg.subactions + 1):
                rng = np.random.default_rng([cfg.seed, int(subject.lstrip("Ss")), H36M_ACTIONS[action], sub])
                lo, hi = cfg.frames
                n = int(rng.integers(lo, hi + 1))
                world = synthesize_motion(bones, ACTION_STYLES[action], n, rng)
                videos.append(Video(world, subject, action, sub))
    return videos


def make_synthetic_h36m(cfg: SyntheticConfig, progress=None) -> dict:
    """Build the whole pickle dict ``{"train": {...}, "test": {...}}`` in MotionBERT's layout.

    ``progress``: optional object with ``update(n)`` (e.g. tqdm), called once per video.
    """
    if cfg.frames[0] < 2 or cfg.frames[1] < cfg.frames[0]:
        raise ValueError(f"frames must be (min, max) with 2 <= min <= max, got {cfg.frames}")
    cameras = load_h36m_cameras()
    for subject in list(cfg.train_subjects) + list(cfg.test_subjects):
        if subject not in cameras:
            raise ValueError(f"no camera calibration for subject '{subject}'; choose from {sorted(cameras)}")
    out = {}
    for split, subjects in (("train", cfg.train_subjects), ("test", cfg.test_subjects)):
        videos = synthesize_videos(cfg, subjects)

        def rng_for(vi: int, ci: int, _videos=videos) -> np.random.Generator:
            v = _videos[vi]
            return np.random.default_rng([cfg.seed, int(v.subject.lstrip("Ss")), H36M_ACTIONS[v.action],
                                          v.subaction, 100 + ci])

        out[split] = build_split(videos, cameras, rng_for, cfg.noise, test=(split == "test"), progress=progress)
    return out
