"""2D keypoints someone already has, read into the demo's per-person tracks (``--keypoints FILE``).

Three formats, recognised from the path:

* **AlphaPose** results JSON (a ``.json`` file): a list of detections ``{"image_id": "12.jpg", "idx": 3,
  "keypoints": [x, y, score] * 17, "score": ...}`` with COCO-17 keypoints. ``idx`` (AlphaPose's track id,
  written with ``--pose_track`` or PoseFlow) groups detections into people; without ``idx`` the boxes
  around the keypoints are linked with the demo's IoU tracker. The frame of a detection is the number in
  ``image_id``'s file name (``12.jpg`` -> frame 12); frames that AlphaPose did not list had nobody in them.
* **OpenPose** (a folder of ``*_keypoints.json``, one file per frame, in file-name order): each file's
  ``people[i]["pose_keypoints_2d"]`` is ``[x, y, c] * 25`` in the BODY_25 layout; a joint OpenPose did not
  find is ``0, 0, 0``. People are linked across frames with the IoU tracker (OpenPose writes no track id).
* the demo's own ``keypoints_2d.npz`` (``h36m`` ``(P, T, 17, 3)``, ``missing``, ``width``, ``height``,
  ``fps``), e.g. to lift the same keypoints again with another checkpoint.

Joint mappings to Human3.6M: AlphaPose is COCO-17 and goes through :func:`sct.keypoint_formats.coco_to_h36m`. BODY_25
keeps the 17 COCO points (:data:`COCO_FROM_BODY25`: nose 0, eyes 16/15, ears 18/17, shoulders 5/2,
elbows 6/3, wrists 7/4, hips 12/9, knees 13/10, ankles 14/11, left before right) and drops neck, mid-hip,
feet and heels; then the same COCO -> Human3.6M conversion.

A joint with score 0 (not found) in a frame where the person is present takes its position from the
nearest frames where that joint was found (linear interpolation, as for missing frames) and keeps score 0.
"""

from __future__ import annotations

import json
import math
import re
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sct.keypoint_formats import coco_to_h36m

from .convert import fill_missing
from .tracker import IoUTracker

# COCO-17 index -> BODY_25 index
COCO_FROM_BODY25: tuple[int, ...] = (0, 16, 15, 18, 17, 5, 2, 6, 3, 7, 4, 12, 9, 13, 10, 14, 11)
BODY25_JOINTS = 25
COCO_JOINTS = 17
MAX_PIXELS = 100_000
"""Largest accepted coordinate magnitude and frame side in pixels (an 8K frame is 7680 wide): anything beyond is a
corrupt or foreign file, not keypoints of a video."""
MAX_SCORE = 100.0
"""Largest accepted score magnitude (AlphaPose and OpenPose write about 0 to 1, HRNet a little above)."""
MAX_FRAMES = 1_000_000
"""Longest accepted sequence (9 hours at 30 fps); a frame number beyond it is a corrupt file."""
MAX_PERSON_FRAMES = 1_000_000
"""Most people x frames read: reading peaks at about 1.1 KB per person-frame (113 MB for one person over 100,000
frames, tracemalloc, 2026-12-08), so about 1.1 GB at the limit; e.g. 5 people over 200,000 frames (1.9 h at 30 fps)."""


class KeypointFileError(ValueError):
    """A keypoints file the demo cannot use; ``str(error)`` says what is wrong and how to fix it."""


@dataclass
class PersonKeypoints:
    """Keypoints of ``P`` people over ``T`` frames.

    ``h36m`` ``(P, T, 17, 3)`` (x, y pixels, score), ``coco`` ``(P, T, 17, 3)`` or ``None`` (the demo's npz
    of a run without COCO points), ``present`` ``(P, T)`` bool (False: the person was not in that frame
    and the row is filled by interpolation), ``boxes`` ``(P, T, 5)`` (NaN where absent), ``size`` the
    frame ``(width, height)`` when the file knows it, ``fps`` likewise.
    """

    h36m: np.ndarray
    coco: np.ndarray | None
    present: np.ndarray
    boxes: np.ndarray
    size: tuple[int, int] | None = None
    fps: float | None = None
    frames_known: bool = True  # False: the file may omit trailing frames with nobody in them (AlphaPose)

    @property
    def num_frames(self) -> int:
        return self.present.shape[1]


def keypoint_box(kpts: np.ndarray) -> np.ndarray:
    """``(x1, y1, x2, y2, mean score)`` around the joints ``(J, 3)`` with a positive score."""
    found = kpts[:, 2] > 0
    pts = kpts[found, :2] if found.any() else kpts[:, :2]
    return np.array([*pts.min(axis=0), *pts.max(axis=0), kpts[found, 2].mean() if found.any() else 0.0])


def _check_finite(values: np.ndarray, where: str) -> None:
    """Refuse NaN/inf and coordinates or scores out of range in keypoints ``(..., 3)`` (x, y, score)."""
    if not np.isfinite(values).all():
        raise KeypointFileError(f"{where} contains NaN or infinite values; give finite coordinates and scores "
                                "(a joint that was not found is x=0, y=0, score=0)")
    far = np.argwhere(np.abs(values[..., :2]) > MAX_PIXELS)
    if len(far):
        index = tuple(int(i) for i in far[0])
        raise KeypointFileError(f"{where}: {_position_text(index[:-1])} {'xy'[index[-1]]} = {values[index]:.3g} px is "
                                f"beyond ±{MAX_PIXELS} px; expected pixel coordinates in the video frame")
    odd = np.argwhere(np.abs(values[..., 2]) > MAX_SCORE)
    if len(odd):
        index = tuple(int(i) for i in odd[0])
        raise KeypointFileError(f"{where}: {_position_text(index)} score = {values[index + (2,)]:.3g} is beyond "
                                f"±{MAX_SCORE:g}; expected detection scores (about 0 to 1)")


def _position_text(index: tuple[int, ...]) -> str:
    """``(person, frame, joint)`` or ``(joint,)`` -> ``'person 0, frame 3, joint 5'``."""
    labels = ("person", "frame", "joint")[-len(index):]
    return ", ".join(f"{label} {i}" for label, i in zip(labels, index, strict=True))


def _numbers(values: object, where: str, what: str) -> np.ndarray:
    """``values`` as a float64 array; :class:`KeypointFileError` when it holds anything but numbers."""
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError, OverflowError) as exc:
        raise KeypointFileError(f"{where}: {what} must hold numbers only, got {_preview(values)} ({exc})") from None
    return arr


def _preview(value: object, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


def _frame_number(name: str, fallback: int) -> int:
    digits = re.findall(r"\d+", Path(name).stem)
    return int(digits[-1]) if digits else fallback


def _assemble(per_frame: dict[int, list[tuple[int | None, np.ndarray]]], num_frames: int) -> list[dict]:
    """Group ``frame -> [(track id or None, COCO (17, 3))]`` into people ``[{frame: (17, 3)}]``.

    Track ids are used when every detection has one; otherwise detections are linked by the IoU tracker
    on the boxes around their keypoints.
    """
    people: dict[int, dict[int, np.ndarray]] = {}
    with_ids = all(tid is not None for dets in per_frame.values() for tid, _ in dets)
    if with_ids:
        for t, dets in per_frame.items():
            for tid, kp in dets:
                people.setdefault(int(tid), {})[t] = kp  # a repeated id in one frame: the last one wins
        return [people[k] for k in sorted(people)]
    tracker = IoUTracker()
    for t in range(num_frames):
        dets = per_frame.get(t, [])
        boxes = np.stack([keypoint_box(kp) for _, kp in dets]) if dets else np.zeros((0, 5))
        for (_, kp), tid in zip(dets, tracker.update(boxes), strict=True):
            people.setdefault(tid, {})[t] = kp
    return [people[k] for k in sorted(people)]


def _fill_joints(coco: np.ndarray, present: np.ndarray) -> np.ndarray:
    """Interpolate in time the positions of joints with score 0 (not found) from frames where they were."""
    out = coco.copy()
    for j in range(coco.shape[1]):
        found = present & (coco[:, j, 2] > 0)
        if found.any():
            out[:, j, :2] = fill_missing(coco[:, j, :2], found)
    return out


def _from_coco_people(people: list[dict], num_frames: int, frames_known: bool, where: str) -> PersonKeypoints:
    if not people:
        raise KeypointFileError(f"no person in {where}; it lists no keypoints")
    num_person = len(people)
    if num_person * num_frames > MAX_PERSON_FRAMES:
        raise KeypointFileError(f"{where}: {num_person} people x {num_frames} frames is more than {MAX_PERSON_FRAMES} "
                                "person-frames; expected a shorter sequence or fewer people (split the file)")
    coco = np.zeros((num_person, num_frames, COCO_JOINTS, 3), dtype=np.float64)
    present = np.zeros((num_person, num_frames), dtype=bool)
    boxes = np.full((num_person, num_frames, 5), np.nan, dtype=np.float32)
    for p, frames in enumerate(people):
        for t, kp in frames.items():
            coco[p, t], present[p, t], boxes[p, t] = kp, True, keypoint_box(kp)
        coco[p] = _fill_joints(coco[p], present[p])
        coco[p] = fill_missing(coco[p], present[p])
    h36m, h36m_scores = coco_to_h36m(coco[..., :2], coco[..., 2])
    return PersonKeypoints(h36m=np.concatenate([h36m, h36m_scores[..., None]], axis=-1), coco=coco.astype(np.float32),
                           present=present, boxes=boxes, frames_known=frames_known)


def _keypoint_array(values, joints: int, fmt: str, where: str) -> np.ndarray:
    arr = _numbers(values, where, "the keypoints").reshape(-1)
    if arr.size != joints * 3:
        raise KeypointFileError(f"{where}: expected {joints} joints x (x, y, score) = {joints * 3} numbers "
                                f"({fmt}), got {arr.size}; export {fmt} keypoints")
    arr = arr.reshape(joints, 3)
    _check_finite(arr, where)
    return arr


def read_alphapose(path: Path) -> PersonKeypoints:
    """AlphaPose results JSON (COCO-17); see the module docstring."""
    try:
        entries = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise KeypointFileError(f"cannot read {path} as JSON: {exc}") from exc
    if not isinstance(entries, list) or not all(isinstance(e, dict) and "keypoints" in e for e in entries):
        raise KeypointFileError(f"{path} is not AlphaPose results JSON (a list of {{'image_id', 'keypoints', "
                                "'idx'}} entries); give AlphaPose's alphapose-results.json, an OpenPose JSON "
                                "folder or the demo's keypoints_2d.npz")
    per_frame: dict[int, list] = {}
    for k, e in enumerate(entries):
        t = _frame_number(str(e.get("image_id", "")), -1)
        if t < 0:
            raise KeypointFileError(f"{path}: entry {k} has no frame number in image_id ({e.get('image_id')!r})")
        if t >= MAX_FRAMES:
            raise KeypointFileError(f"{path}: entry {k}: image_id {e.get('image_id')!r} is frame {t}; expected frame "
                                    f"numbers below {MAX_FRAMES}")
        tid = e.get("idx")
        if isinstance(tid, list):  # some AlphaPose versions write [id]
            tid = tid[0] if tid else None
        if tid is not None and not (isinstance(tid, int | float) and not isinstance(tid, bool)
                                    and float(tid).is_integer() and abs(tid) < 2**63):
            raise KeypointFileError(f"{path}: entry {k}: idx is {_preview(tid)}; expected AlphaPose's integer "
                                    "track id (or no idx)")
        per_frame.setdefault(t, []).append((tid, _keypoint_array(e["keypoints"], COCO_JOINTS, "COCO-17",
                                                                 f"{path} entry {k}")))
    num_frames = max(per_frame, default=-1) + 1
    return _from_coco_people(_assemble(per_frame, num_frames), num_frames, frames_known=False, where=str(path))


def read_openpose(folder: Path) -> PersonKeypoints:
    """A folder of OpenPose BODY_25 JSON files, one per frame; see the module docstring."""
    files = sorted(folder.glob("*.json"))
    if not files:
        raise KeypointFileError(f"{folder} holds no .json files; give a folder of OpenPose *_keypoints.json "
                                "files (--write_json)")
    if len(files) > MAX_FRAMES:
        raise KeypointFileError(f"{folder} holds {len(files)} .json files; expected at most {MAX_FRAMES} frames")
    per_frame: dict[int, list] = {}
    for t, f in enumerate(files):
        try:
            doc = json.loads(f.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
            raise KeypointFileError(f"cannot read {f} as JSON: {exc}") from exc
        if not isinstance(doc, dict) or not isinstance(doc.get("people"), list):
            raise KeypointFileError(f"{f} is not an OpenPose keypoints file (no 'people' list)")
        dets = []
        for i, person in enumerate(doc["people"]):
            if not isinstance(person, dict):
                raise KeypointFileError(f"{f} person {i} is {_preview(person)}; expected an object with "
                                        "'pose_keypoints_2d'")
            body = _keypoint_array(person.get("pose_keypoints_2d", []), BODY25_JOINTS, "OpenPose BODY_25",
                                   f"{f} person {i}")
            if (body[:, 2] > 0).any():
                dets.append((None, body[list(COCO_FROM_BODY25)]))
        per_frame[t] = dets
    return _from_coco_people(_assemble(per_frame, len(files)), len(files), frames_known=True, where=str(folder))


def read_demo_npz(path: Path) -> PersonKeypoints:
    """The demo's own ``keypoints_2d.npz``."""
    try:
        with open(path, "rb") as fh:  # our own handle: closed even when np.load fails
            loaded = np.load(fh)
            if not isinstance(loaded, np.lib.npyio.NpzFile):
                raise ValueError(f"a single {type(loaded).__name__} (an .npy file), not an npz archive of named arrays")
            with loaded as z:
                data = {k: z[k] for k in z.files}
    except (OSError, ValueError, EOFError, MemoryError, zipfile.BadZipFile, zlib.error) as exc:  # damaged archives
        raise KeypointFileError(f"cannot read {path} as an npz file: {exc}; expected a keypoints_2d.npz written by "
                                "the demo") from exc
    if "h36m" not in data:
        raise KeypointFileError(f"{path} has no 'h36m' array; give a keypoints_2d.npz written by the demo")
    h36m = _npz_numbers(data["h36m"], path, "h36m", np.float32)
    if h36m.ndim != 4 or h36m.shape[2:] != (17, 3):
        raise KeypointFileError(f"{path}: 'h36m' must be (people, frames, 17, 3), got {h36m.shape}")
    num_person, num_frames = h36m.shape[:2]
    if num_person < 1 or num_frames < 1:
        raise KeypointFileError(f"{path}: 'h36m' has shape {h36m.shape}, no {'person' if num_person < 1 else 'frame'}; "
                                "expected at least one person and one frame")
    if num_person * num_frames > MAX_PERSON_FRAMES:
        raise KeypointFileError(f"{path}: 'h36m' has {num_person} people x {num_frames} frames, more than "
                                f"{MAX_PERSON_FRAMES} person-frames; split the file")
    _check_finite(h36m, f"{path}: 'h36m'")
    missing = (_npz_numbers(data["missing"], path, "missing", bool) if "missing" in data
               else np.zeros((num_person, num_frames), dtype=bool))
    if missing.shape != (num_person, num_frames):
        raise KeypointFileError(f"{path}: 'missing' must be {(num_person, num_frames)}, got {missing.shape}")
    if "boxes" in data:
        boxes = _npz_numbers(data["boxes"], path, "boxes", np.float32)
        if boxes.shape != (num_person, num_frames, 5):
            raise KeypointFileError(f"{path}: 'boxes' must be {(num_person, num_frames, 5)}, got {boxes.shape}")
        if (np.abs(boxes[..., :4]) > MAX_PIXELS).any() or np.isinf(boxes[..., 4]).any():
            raise KeypointFileError(f"{path}: 'boxes' holds infinite values or corners beyond ±{MAX_PIXELS} px; "
                                    "expected pixel boxes (NaN where the person was not seen)")
    else:
        boxes = np.full((num_person, num_frames, 5), np.nan, dtype=np.float32)
    coco = None
    if "coco" in data and np.shape(data["coco"]) == h36m.shape:
        coco = _npz_numbers(data["coco"], path, "coco", np.float32)
        _check_finite(coco, f"{path}: 'coco'")
    size = None
    if "width" in data and "height" in data:
        size = (_npz_scalar(data, "width", path, MAX_PIXELS, integer=True),
                _npz_scalar(data, "height", path, MAX_PIXELS, integer=True))
    fps = _npz_scalar(data, "fps", path, 1e4) if "fps" in data else None
    return PersonKeypoints(h36m=h36m, coco=coco, present=~missing, boxes=boxes, size=size, fps=fps)


def _npz_numbers(values: np.ndarray, path: Path, key: str, dtype: type) -> np.ndarray:
    """An npz array that must be numeric (bool, integer or float), refused otherwise, cast to ``dtype`` (values
    beyond float32 become inf, without NumPy's warning, and are refused by the finiteness checks)."""
    if values.dtype.kind not in "biuf":
        raise KeypointFileError(f"{path}: '{key}' holds {values.dtype} values; expected numbers (a "
                                "keypoints_2d.npz written by the demo)")
    with np.errstate(over="ignore", invalid="ignore"):
        return values.astype(dtype)


def _npz_scalar(data: dict, key: str, path: Path, upper: float, integer: bool = False) -> float:
    """One positive finite number ``0 < value <= upper`` stored as ``key`` (an integer when ``integer``)."""
    value = data[key]
    ok = value.size == 1 and value.dtype.kind in "iuf"
    number = float(value.reshape(-1)[0]) if ok else math.nan
    if not (ok and 0 < number <= upper and (not integer or number.is_integer())):
        kind = "an integer" if integer else "a number"
        raise KeypointFileError(f"{path}: '{key}' is {_preview(value.tolist())}; expected {kind} > 0 and "
                                f"<= {upper:g}")
    return int(number) if integer else number


def load_keypoints(path: str | Path) -> PersonKeypoints:
    """Read any supported keypoints file (the format is recognised from the path); :class:`KeypointFileError`
    on anything the demo cannot use."""
    path = Path(path)
    if path.is_dir():
        return read_openpose(path)
    if not path.is_file():
        raise KeypointFileError(f"keypoints file not found: {path}")
    if path.suffix.lower() == ".json":
        return read_alphapose(path)
    if path.suffix.lower() == ".npz":
        return read_demo_npz(path)
    raise KeypointFileError(f"unknown keypoints format: {path}; give AlphaPose results (.json), a folder of "
                            "OpenPose JSON files, or the demo's keypoints_2d.npz")
