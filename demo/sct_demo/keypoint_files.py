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
import re
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
    if not np.isfinite(values).all():
        raise KeypointFileError(f"{where} contains NaN or infinite values; give finite coordinates and scores "
                                "(a joint that was not found is x=0, y=0, score=0)")


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
    arr = np.asarray(values, dtype=np.float64).reshape(-1)
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
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
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
        tid = e.get("idx")
        if isinstance(tid, list):  # some AlphaPose versions write [id]
            tid = tid[0] if tid else None
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
    per_frame: dict[int, list] = {}
    for t, f in enumerate(files):
        try:
            doc = json.loads(f.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise KeypointFileError(f"cannot read {f} as JSON: {exc}") from exc
        if not isinstance(doc, dict) or not isinstance(doc.get("people"), list):
            raise KeypointFileError(f"{f} is not an OpenPose keypoints file (no 'people' list)")
        dets = []
        for i, person in enumerate(doc["people"]):
            body = _keypoint_array(person.get("pose_keypoints_2d", []), BODY25_JOINTS, "OpenPose BODY_25",
                                   f"{f} person {i}")
            if (body[:, 2] > 0).any():
                dets.append((None, body[list(COCO_FROM_BODY25)]))
        per_frame[t] = dets
    return _from_coco_people(_assemble(per_frame, len(files)), len(files), frames_known=True, where=str(folder))


def read_demo_npz(path: Path) -> PersonKeypoints:
    """The demo's own ``keypoints_2d.npz``."""
    try:
        with np.load(path) as z:
            data = {k: z[k] for k in z.files}
    except (OSError, ValueError) as exc:
        raise KeypointFileError(f"cannot read {path} as an npz file: {exc}") from exc
    if "h36m" not in data:
        raise KeypointFileError(f"{path} has no 'h36m' array; give a keypoints_2d.npz written by the demo")
    h36m = data["h36m"].astype(np.float32)
    if h36m.ndim != 4 or h36m.shape[2:] != (17, 3):
        raise KeypointFileError(f"{path}: 'h36m' must be (people, frames, 17, 3), got {h36m.shape}")
    _check_finite(h36m, str(path))
    num_person, num_frames = h36m.shape[:2]
    missing = data.get("missing", np.zeros((num_person, num_frames), dtype=bool)).astype(bool)
    if missing.shape != (num_person, num_frames):
        raise KeypointFileError(f"{path}: 'missing' must be {(num_person, num_frames)}, got {missing.shape}")
    boxes = data.get("boxes", np.full((num_person, num_frames, 5), np.nan, dtype=np.float32)).astype(np.float32)
    coco = data["coco"].astype(np.float32) if "coco" in data and data["coco"].shape == h36m.shape else None
    size = (int(data["width"]), int(data["height"])) if "width" in data and "height" in data else None
    fps = float(data["fps"]) if "fps" in data else None
    return PersonKeypoints(h36m=h36m, coco=coco, present=~missing, boxes=boxes, size=size, fps=fps)


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
