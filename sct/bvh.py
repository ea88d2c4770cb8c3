"""Joint positions of the 17 Human3.6M joints -> BVH motion (joint rotations) for animation tools.

The skeleton (``HIERARCHY``), Y up, millimetres, facing +Z in the rest pose, the subject's left towards +X:

* the 17 Human3.6M joints, rooted at the pelvis, under their Human3.6M names; the rest pose stands upright
  with the arms hanging down (an I-pose); every bone has the person's median length over the video, so
  the lengths are constant;
* four joints with zero offset that the 17 cannot do without: ``r_pelvis``/``l_pelvis`` at the pelvis
  (parents of the hips) and ``r_collar``/``l_collar`` at the thorax (parents of the shoulders). A joint's
  rotation turns all its child bones together, so a pelvis whose hips and spine (or a thorax whose
  shoulders and neck) change their angles needs one more rotation per branch, like the hip and collar
  joints of CMU's and most motion-capture skeletons;
* end sites after the ankles (a foot pointing forward, 0.4 x the shin), the wrists (0.4 x the forearm) and
  the head (0.4 x the nose-head bone); they carry no motion.

Rotations come from an analytic inverse kinematics, frame by frame: each joint turns its rest bone onto the
observed bone direction, and the twist about the bone is fixed by a reference from neighbouring bones: the
hip line (pelvis), hip and shoulder lines (spine, thorax, neck), the plane of the knee or elbow bend (thigh,
upper arm; where the limb is nearly straight, blended into the parent's frame carried along without twist),
the thigh's or upper arm's bend axis (knee, elbow: pure hinges when the bend plane is well defined); the
four zero-offset joints turn their bone the shortest way. Limb twist is not observable from joint
positions, so this is a choice, not a measurement.

Every joint has the channels ``Yrotation Zrotation Xrotation`` (degrees; the rotation is
``R = Ry @ Rz @ Rx`` applied to the child offsets, the BVH convention of applying channels in the listed
order). With this order a knee or elbow bend (about X) is never a gimbal lock; the locks lie at a
90-degree sideways arm raise or a body lying on its side. The root also has ``Xposition Yposition
Zposition``, the pelvis' position, and offset 0. Forward kinematics of the file gives back the input
positions (exactly, up to the 5 decimals written) when the bone lengths are constant; otherwise it gives
:func:`with_bone_lengths` of them.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

from ._checks import joint_array
from ._research import research_module

ROTATION_ORDER = "YZX"
ROTATION_CHANNELS = " ".join(f"{axis}rotation" for axis in ROTATION_ORDER)
END_SITE_FRACTION = 0.4

_X, _Y, _Z = np.eye(3)


@dataclass(frozen=True)
class _Joint:
    """One BVH joint: its name, BVH parent, the Human3.6M joint it sits on, the Human3.6M joint whose
    bone it turns (``None``: no bone of its own, it keeps its parent's orientation), the rest direction
    of that bone, how the twist is chosen and the rest reference of the twist."""

    name: str
    parent: int
    at: int
    child: int | None = None
    rest_dir: tuple[float, float, float] = (0.0, 1.0, 0.0)
    twist: str = "transport"  # "transport" | "lateral" | "bend" | "hinge" | "leaf"
    rest_ref: tuple[float, float, float] = (1.0, 0.0, 0.0)
    lateral: tuple[tuple[int, int], ...] = ()
    bend: int | None = None  # the joint after ``child``, whose bone makes the bend plane
    end: tuple[float, float, float] | None = None  # end-site direction (leaf joints)


def _unit(v) -> tuple[float, float, float]:
    v = np.asarray(v, dtype=np.float64)
    return tuple(float(x) for x in v / np.linalg.norm(v))


_NOSE_DIR = _unit((0.0, 1.0, 0.5))
_HEAD_DIR = _unit((0.0, 1.0, -0.3))
_HIPS = ((4, 1),)  # l_hip - r_hip: the subject's left
_SHOULDERS = ((11, 14),)
# depth-first, as written in the file; the parent index refers to this list
JOINTS: tuple[_Joint, ...] = (
    _Joint("pelvis", -1, 0, 7, (0, 1, 0), "lateral", (1, 0, 0), lateral=_HIPS),
    _Joint("r_pelvis", 0, 0, 1, (-1, 0, 0)),
    _Joint("r_hip", 1, 1, 2, (0, -1, 0), "bend", (1, 0, 0), bend=3),
    _Joint("r_knee", 2, 2, 3, (0, -1, 0), "hinge", (1, 0, 0)),
    _Joint("r_ankle", 3, 3, twist="leaf", end=(0, 0, 1)),
    _Joint("l_pelvis", 0, 0, 4, (1, 0, 0)),
    _Joint("l_hip", 5, 4, 5, (0, -1, 0), "bend", (1, 0, 0), bend=6),
    _Joint("l_knee", 6, 5, 6, (0, -1, 0), "hinge", (1, 0, 0)),
    _Joint("l_ankle", 7, 6, twist="leaf", end=(0, 0, 1)),
    _Joint("spine", 0, 7, 8, (0, 1, 0), "lateral", (1, 0, 0), lateral=_HIPS + _SHOULDERS),
    _Joint("thorax", 9, 8, 9, _NOSE_DIR, "lateral", (1, 0, 0), lateral=_SHOULDERS),
    _Joint("nose", 10, 9, 10, _HEAD_DIR, "lateral", (1, 0, 0), lateral=_SHOULDERS),
    _Joint("head", 11, 10, twist="leaf", end=(0, 1, 0)),
    _Joint("l_collar", 10, 8, 11, (1, 0, 0)),
    _Joint("l_shoulder", 13, 11, 12, (0, -1, 0), "bend", (-1, 0, 0), bend=13),
    _Joint("l_elbow", 14, 12, 13, (0, -1, 0), "hinge", (-1, 0, 0)),
    _Joint("l_wrist", 15, 13, twist="leaf", end=(0, -1, 0)),
    _Joint("r_collar", 10, 8, 14, (-1, 0, 0)),
    _Joint("r_shoulder", 17, 14, 15, (0, -1, 0), "bend", (-1, 0, 0), bend=16),
    _Joint("r_elbow", 18, 15, 16, (0, -1, 0), "hinge", (-1, 0, 0)),
    _Joint("r_wrist", 19, 16, twist="leaf", end=(0, -1, 0)),
)
BEND_BLEND = 0.3  # below this sine of the bend angle, the bend plane is blended into the parent's frame


def _h36m_parents() -> tuple[int, ...]:
    return research_module("utils.skeleton").H36M_PARENTS


def _check_positions(positions_mm: np.ndarray) -> np.ndarray:
    return joint_array(positions_mm, "positions", 3)


def fill_missing(positions_mm: np.ndarray) -> np.ndarray:
    """``(T, 17, 3)`` with every frame that holds a NaN replaced by the last frame before it that holds
    none (frames before the first seen one: the first seen one). ``ValueError`` if no frame is complete."""
    pos = _check_positions(positions_mm)
    seen = np.isfinite(pos).all(axis=(1, 2))
    if not seen.any():
        raise ValueError("the person is never seen: no frame has all 17 joints")
    idx = np.where(seen, np.arange(len(pos)), -1)
    idx = np.maximum.accumulate(idx)
    idx[idx < 0] = int(np.argmax(seen))
    return pos[idx]


def bone_lengths(positions_mm: np.ndarray) -> np.ndarray:
    """Each Human3.6M joint's bone length (17,) mm: the median over the frames of the distance to its
    parent (0 for the pelvis). Frames with NaN are left out."""
    pos = _check_positions(positions_mm)
    parents = _h36m_parents()
    seen = np.isfinite(pos).all(axis=(1, 2))
    if not seen.any():
        raise ValueError("the person is never seen: no frame has all 17 joints")
    pos = pos[seen]
    lengths = np.zeros(17)
    for j, p in enumerate(parents):
        if p >= 0:
            lengths[j] = float(np.median(np.linalg.norm(pos[:, j] - pos[:, p], axis=-1)))
    return lengths


def with_bone_lengths(positions_mm: np.ndarray, lengths: np.ndarray | None = None) -> np.ndarray:
    """Positions ``(T, 17, 3)`` rebuilt from the root outwards with every bone's direction kept and its
    length set to ``lengths`` (17,) (default :func:`bone_lengths`): what the BVH file's skeleton shows."""
    pos = _check_positions(positions_mm)
    lengths = bone_lengths(pos) if lengths is None else np.asarray(lengths, dtype=np.float64)
    out = pos.copy()
    for j, p in enumerate(_h36m_parents()):  # parents come before their children
        if p >= 0:
            d = pos[:, j] - pos[:, p]
            norm = np.linalg.norm(d, axis=-1, keepdims=True)
            out[:, j] = out[:, p] + d / np.maximum(norm, 1e-9) * lengths[j]
    return out


def _normalize(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-12)


def _shortest_rotation(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Rotations (T, 3, 3) turning unit vectors ``a`` onto ``b`` (T, 3) the shortest way (half a turn about
    an axis perpendicular to ``a`` when they are opposite)."""
    v = np.cross(a, b)
    c = np.einsum("ti,ti->t", a, b)
    vx = np.zeros(a.shape[:-1] + (3, 3))
    vx[:, 0, 1], vx[:, 0, 2], vx[:, 1, 2] = -v[:, 2], v[:, 1], -v[:, 0]
    vx -= np.swapaxes(vx, 1, 2)
    opposite = c < -1 + 1e-9
    r = np.eye(3) + vx + vx @ vx / np.maximum(1 + c, 1e-9)[:, None, None]
    if opposite.any():
        ao = a[opposite]
        axis = np.cross(ao, np.where(np.abs(ao[:, :1]) < 0.9, _X, _Y))
        axis = _normalize(axis)
        r[opposite] = 2 * np.einsum("ti,tj->tij", axis, axis) - np.eye(3)
    return r


def _frame(d: np.ndarray, ref: np.ndarray, rest_dir, rest_ref) -> np.ndarray:
    """The rotation (T, 3, 3) taking ``rest_dir`` to the unit vectors ``d`` (T, 3) and ``rest_ref`` to the
    part of ``ref`` perpendicular to ``d``."""
    r = _normalize(ref - np.einsum("ti,ti->t", ref, d)[:, None] * d)
    world = np.stack([d, r, np.cross(d, r)], axis=-1)
    rd, rr = np.asarray(rest_dir, dtype=np.float64), np.asarray(rest_ref, dtype=np.float64)
    rest = np.stack([rd, rr, np.cross(rd, rr)], axis=-1)
    return world @ rest.T


def global_rotations(positions_mm: np.ndarray) -> np.ndarray:
    """World rotation of every BVH joint (T, len(JOINTS), 3, 3) for complete positions ``(T, 17, 3)``: the
    analytic inverse kinematics of the module docstring."""
    pos = np.asarray(positions_mm, dtype=np.float64)
    t = len(pos)
    rot = np.zeros((t, len(JOINTS), 3, 3))
    for k, joint in enumerate(JOINTS):
        parent = rot[:, joint.parent] if joint.parent >= 0 else np.broadcast_to(np.eye(3), (t, 3, 3))
        if joint.twist == "leaf":
            rot[:, k] = parent
            continue
        d = _normalize(pos[:, joint.child] - pos[:, joint.at])
        transport = _shortest_rotation(parent @ np.asarray(joint.rest_dir), d) @ parent
        if joint.twist == "transport":
            rot[:, k] = transport
            continue
        if joint.twist == "lateral":
            ref = sum(_normalize(pos[:, a] - pos[:, b]) for a, b in joint.lateral)
            fallback = transport @ np.asarray(joint.rest_ref)
            degenerate = np.linalg.norm(np.cross(ref, d), axis=-1) < 1e-3
            ref = np.where(degenerate[:, None], fallback, ref)
        elif joint.twist == "hinge":
            ref = parent @ np.asarray(JOINTS[joint.parent].rest_ref)
        else:  # "bend": the bend plane's normal, turned to agree with the twist-free frame, blended into it
            fallback = transport @ np.asarray(joint.rest_ref)
            normal = np.cross(d, _normalize(pos[:, joint.bend] - pos[:, joint.child]))
            normal *= np.where(np.einsum("ti,ti->t", normal, fallback) < 0, -1.0, 1.0)[:, None]
            weight = np.clip(1 - np.linalg.norm(normal, axis=-1) / BEND_BLEND, 0, 1)[:, None]
            ref = normal + weight * fallback
        rot[:, k] = _frame(d, ref, joint.rest_dir, joint.rest_ref)
    return rot


def rest_offsets(lengths: np.ndarray) -> tuple[np.ndarray, dict[int, np.ndarray]]:
    """Each BVH joint's OFFSET (len(JOINTS), 3) from its parent in the rest pose, and the end sites'
    offsets by joint, for Human3.6M bone lengths (17,) mm."""
    offsets = np.zeros((len(JOINTS), 3))
    ends: dict[int, np.ndarray] = {}
    for k, joint in enumerate(JOINTS):
        if joint.parent < 0:
            continue
        parent = JOINTS[joint.parent]
        if joint.at != parent.at:  # a bone from the parent's joint: along the parent's rest direction
            offsets[k] = np.asarray(parent.rest_dir) * lengths[joint.at]
        if joint.end is not None:
            ends[k] = np.asarray(joint.end, dtype=np.float64) * END_SITE_FRACTION * lengths[joint.at]
    return offsets, ends


def _hierarchy(offsets: np.ndarray, ends: dict[int, np.ndarray]) -> list[str]:
    children: dict[int, list[int]] = {k: [] for k in range(len(JOINTS))}
    for k, joint in enumerate(JOINTS):
        if joint.parent >= 0:
            children[joint.parent].append(k)
    lines = ["HIERARCHY"]

    def vec(v: np.ndarray) -> str:
        return " ".join(f"{x:.5f}" for x in v)

    def write(k: int, depth: int) -> None:
        pad = "  " * depth
        joint = JOINTS[k]
        lines.append(f"{pad}{'ROOT' if joint.parent < 0 else 'JOINT'} {joint.name}")
        lines.append(f"{pad}{{")
        lines.append(f"{pad}  OFFSET {vec(offsets[k])}")
        channels = ("6 Xposition Yposition Zposition " if joint.parent < 0 else "3 ") + ROTATION_CHANNELS
        lines.append(f"{pad}  CHANNELS {channels}")
        for c in children[k]:
            write(c, depth + 1)
        if k in ends:
            lines.extend([f"{pad}  End Site", f"{pad}  {{", f"{pad}    OFFSET {vec(ends[k])}", f"{pad}  }}"])
        lines.append(f"{pad}}}")

    write(0, 0)
    return lines


def bvh_text(positions_mm: np.ndarray, fps: float) -> str:
    """The BVH file (text) of one person's world positions ``(T, 17, 3)`` mm, Y up (frames with NaN: the
    last pose seen before them, see :func:`fill_missing`), at ``fps`` frames per second.

    ``ValueError`` (one line) for wrong shapes, infinite values, ``fps <= 0`` or a person never seen.
    """
    if not (isinstance(fps, (int, float, np.floating, np.integer)) and math.isfinite(fps) and fps > 0):
        raise ValueError(f"the frame rate must be a positive number of frames per second, got {fps!r}")
    pos = fill_missing(positions_mm)
    lengths = bone_lengths(pos)
    if (lengths[1:] <= 0).any():
        raise ValueError("some bones have zero length in every frame (joints on top of each other)")
    offsets, ends = rest_offsets(lengths)
    rot = global_rotations(pos)
    parents = np.array([j.parent for j in JOINTS])
    local = rot.copy()
    local[:, 1:] = np.swapaxes(rot[:, parents[1:]], -1, -2) @ rot[:, 1:]
    with warnings.catch_warnings():  # scipy warns at gimbal lock; the angles still give the same matrix
        warnings.simplefilter("ignore", UserWarning)
        euler = Rotation.from_matrix(local.reshape(-1, 3, 3)).as_euler(ROTATION_ORDER, degrees=True)
    motion = np.concatenate([pos[:, 0], euler.reshape(len(pos), -1)], axis=1)
    if not np.isfinite(motion).all():  # cannot happen for finite input; a file with NaN is never written
        raise ValueError("the motion holds non-finite values")
    lines = _hierarchy(offsets, ends)
    lines += ["MOTION", f"Frames: {len(pos)}", f"Frame Time: {1.0 / float(fps):.8f}"]
    lines += [" ".join(f"{x:.5f}" for x in row) for row in motion]
    return "\n".join(lines) + "\n"


def write_bvh(path: str | os.PathLike, positions_mm: np.ndarray, fps: float) -> None:
    """Write :func:`bvh_text` of ``positions_mm`` ``(T, 17, 3)`` (world mm, Y up) to ``path`` atomically
    (a temporary file renamed into place: a reader or a crash never sees half a file)."""
    text = bvh_text(positions_mm, fps)
    research_module("utils.atomic_io").write_text_atomic(path, text)


def _npz_fps(data, path: Path) -> float | None:
    """The frame rate stored in a demo npz or, for a ``keypoints_3d.npz``, in the ``keypoints_2d.npz``
    beside it; ``None`` when neither has one."""
    if "fps" in data.files:
        return float(data["fps"])
    sibling = path.with_name("keypoints_2d.npz")
    if sibling.is_file():
        with np.load(sibling) as other:
            if "fps" in other.files:
                return float(other["fps"])
    return None


def _float_array(data, key: str, path: Path) -> np.ndarray:
    arr = data[key]
    if not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
        raise ValueError(f"{path}: {key} must hold numbers, got {arr.dtype}")
    return np.asarray(arr, dtype=np.float64)


def export_keypoints_npz(path: str | os.PathLike, out_dir: str | os.PathLike | None = None,
                         fps: float | None = None, people: Sequence[int] | None = None,
                         log: Callable[[str], None] = print) -> list[Path]:
    """Write one BVH per person (``person_<i>.bvh`` in ``out_dir``, default the npz's folder) from a demo
    ``keypoints_3d.npz``; returns the paths written.

    The motion is ``poses_world_mm`` ``(P, T, 17, 3)`` (world mm, Y up: the root moves through the scene).
    An npz without it (written before the demo placed people) falls back to ``poses_mm`` (root-relative,
    camera axes), turned upright with :func:`sct.world.estimate_world_frame`, the pelvis staying above the
    origin; ``log`` says so. ``fps``: the frame rate, default the npz's (or its ``keypoints_2d.npz``'s).
    ``people``: the people to export (default all). Every file is checked and composed before the first
    is written, and each is written atomically. ``ValueError``/``FileNotFoundError`` with one line for a
    file that is not such an npz, no person, a person never seen, or no frame rate.
    """
    from .world import estimate_world_frame, to_world

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file (give the keypoints_3d.npz written by demo/vis.py)")
    try:
        data = np.load(path)
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path}: not an npz file ({exc})") from None
    with data:
        if "poses_world_mm" in data.files:
            positions = _float_array(data, "poses_world_mm", path)
        elif "poses_mm" in data.files:
            log(f"{path.name} has no poses_world_mm (written by an older demo): the BVH root turns but stays "
                "in place, the pelvis above the origin; re-run the demo for the motion through the scene")
            relative = _float_array(data, "poses_mm", path)
            if relative.ndim == 4 and relative.shape[0] and np.isfinite(relative).any():
                relative = relative - relative[..., :1, :]
                positions = to_world(relative, estimate_world_frame(relative))
            else:
                positions = relative
        else:
            raise ValueError(f"{path}: holds neither poses_world_mm nor poses_mm; give the keypoints_3d.npz "
                             "written by demo/vis.py")
        missing = np.asarray(data["missing"], dtype=bool) if "missing" in data.files else None
        stored_fps = _npz_fps(data, path)
    if positions.ndim != 4 or positions.shape[2:] != (17, 3):
        raise ValueError(f"{path}: poses must have shape (P, T, 17, 3), got {positions.shape}")
    if positions.shape[0] == 0:
        raise ValueError(f"{path}: holds no person (0 people); nothing to export")
    fps = stored_fps if fps is None else fps
    if fps is None:
        raise ValueError(f"{path}: no frame rate stored (no fps in it or in keypoints_2d.npz beside it); "
                         "give --fps")
    people = list(range(positions.shape[0])) if people is None else [int(p) for p in people]
    for p in people:
        if not 0 <= p < positions.shape[0]:
            raise ValueError(f"{path}: no person {p} (it holds {positions.shape[0]}: 0..{positions.shape[0] - 1})")
    texts = {}
    for p in people:
        never = missing is not None and missing.shape == positions.shape[:2] and missing[p].all()
        if never or not np.isfinite(positions[p]).all(axis=(1, 2)).any():
            raise ValueError(f"{path}: person {p} is never seen in any frame; leave it out (--person with the "
                             "others)")
        texts[p] = bvh_text(positions[p], fps)
    out = Path(out_dir) if out_dir is not None else path.parent
    written = []
    for p, text in texts.items():
        target = out / f"person_{p}.bvh"
        research_module("utils.atomic_io").write_text_atomic(target, text)
        written.append(target)
    return written
