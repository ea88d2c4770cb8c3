"""MPI-INF-3DHP in the de-facto npz layout (P-STMO's conversion, used by PoseFormerV2, STCFormer,
MotionAGFormer, ...): reading, normalisation, and the windows the training and the test protocol use.

Files (both ``np.savez`` archives holding one pickled object array ``data``):

* ``data_test_3dhp.npz``: ``data`` is a dict ``TS1`` ... ``TS6``, each ``{'data_2d': (N, 17, 2) pixels,
  'data_3d': (N, 17, 3) mm (camera frame, the ``univ_annot3`` skeleton), 'valid': (N,) 0/1}``.
* ``data_train_3dhp.npz``: ``data`` is a dict ``"S1 Seq1"`` ... ``"S8 Seq2"``, each ``[cameras, fps]``
  with ``cameras`` a dict ``'0', '1', '2', '4', '5', '6', '7', '8'`` -> ``{'data_2d', 'data_3d'}``.

Joints are in MPI-INF-3DHP's order (:data:`lib.utils.skeleton.MPI_INF_3DHP_JOINT_NAMES`, pelvis = 14).
The object array is unpickled by the restricted :class:`lib.utils.safe_pickle.DataUnpickler` (NumPy arrays
and plain values only), never with ``allow_pickle=True``.

Normalisation (as P-STMO and MotionAGFormer): 2D ``x / w * 2 - 1``, ``y / w * 2 - h / w`` with the image
size of the sequence (2048 x 2048 for the studio sequences and every training sequence, 1920 x 1080 for
TS5 and TS6); the 3D target is the pose relative to the pelvis divided by ``w / 2`` (MotionAGFormer's
scale), so that millimetres are ``prediction * w / 2``.
"""

from __future__ import annotations

import os
import pickle
import re
import zipfile
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from numpy.lib import format as npy_format
from torch.utils.data import Dataset

from ..utils.safe_pickle import DataUnpickler, UnsafePickleError
from ..utils.skeleton import MPI_INF_3DHP_SKELETON, Skeleton, flip_pose
from ..utils.sliding_windows import centred_plan
from .datareader_h36m import normalize_screen

TRAIN_FILE = "data_train_3dhp.npz"
TEST_FILE = "data_test_3dhp.npz"
NUM_JOINTS = 17
ROOT = MPI_INF_3DHP_SKELETON.root  # the pelvis
TEST_SEQUENCES: tuple[str, ...] = ("TS1", "TS2", "TS3", "TS4", "TS5", "TS6")
TRAIN_CAMERAS: tuple[str, ...] = ("0", "1", "2", "4", "5", "6", "7", "8")
STUDIO_IMAGE_SIZE: tuple[int, int] = (2048, 2048)  # (w, h): training sequences and TS1-TS4
OUTDOOR_IMAGE_SIZE: tuple[int, int] = (1920, 1080)  # TS5, TS6
OUTDOOR_SEQUENCES: tuple[str, ...] = ("TS5", "TS6")
# Frame counts per test sequence of the spreadsheet that P-STMO's evaluation averages its per-sequence
# MATLAB results with (the "legacy weighted" convention); they are not the numbers of valid frames.
LEGACY_FRAME_COUNTS: dict[str, int] = {"TS1": 603, "TS2": 540, "TS3": 505, "TS4": 553, "TS5": 276, "TS6": 452}
_TRAIN_NAME = re.compile(r"^S\d+ Seq\d+$")


class Mpi3dhpFormatError(ValueError):
    """A 3DHP file (or a prediction file) not in the expected layout; the message names file and key."""


@dataclass
class Sequence3DHP:
    """One video: annotated 2D (pixels), 3D (mm, camera frame) and which frames count in the evaluation."""

    name: str
    pose_2d: np.ndarray  # (N, 17, 2) float32 pixels
    pose_3d: np.ndarray  # (N, 17, 3) float32 mm
    valid: np.ndarray  # (N,) bool
    image_size: tuple[int, int]  # (w, h)
    fps: float | None = None

    def __len__(self) -> int:
        return len(self.pose_2d)


def image_size(sequence: str) -> tuple[int, int]:
    """``(w, h)`` of a test sequence's images (``TS5``, ``TS6``: 1920 x 1080; others 2048 x 2048)."""
    return OUTDOOR_IMAGE_SIZE if sequence in OUTDOOR_SEQUENCES else STUDIO_IMAGE_SIZE


# ------------------------------------------------------------------------------------------ reading


def read_npz_object(path: str | os.PathLike, key: str = "data") -> object:
    """The pickled object stored as ``key`` in an npz archive, unpickled by the restricted unpickler.

    Raises :class:`Mpi3dhpFormatError` (naming the file and key) for a missing file member, an array that
    is not a pickled object, or a damaged file; ``FileNotFoundError`` when ``path`` does not exist.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: file not found")
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile as exc:
        raise Mpi3dhpFormatError(f"{path}: not an npz archive ({exc})") from exc
    with archive:
        member = f"{key}.npy"
        if member not in archive.namelist():
            names = ", ".join(n.removesuffix(".npy") for n in archive.namelist())
            raise Mpi3dhpFormatError(f"{path}: no array '{key}' (it holds: {names or 'nothing'})")
        with archive.open(member) as fh:
            try:
                version = npy_format.read_magic(fh)
                if version == (1, 0):
                    shape, _, dtype = npy_format.read_array_header_1_0(fh)
                elif version == (2, 0):
                    shape, _, dtype = npy_format.read_array_header_2_0(fh)
                else:
                    raise ValueError(f"unsupported .npy format version {version}")
            except ValueError as exc:
                raise Mpi3dhpFormatError(f"{path}: '{key}' is not a readable .npy array ({exc})") from exc
            if not dtype.hasobject:
                raise Mpi3dhpFormatError(f"{path}: '{key}' is a {dtype} array of shape {shape}, expected a "
                                         "pickled dict (the P-STMO npz layout)")
            try:
                array = DataUnpickler(fh, source=f"{path}:{key}").load()
            except UnsafePickleError:
                raise  # a refused global: the message names the file and the global
            except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError, KeyError,
                    OverflowError, MemoryError, zipfile.BadZipFile, zlib.error) as exc:
                raise Mpi3dhpFormatError(f"{path}: '{key}' cannot be unpickled ({type(exc).__name__}: "
                                         f"{exc})") from exc
    if isinstance(array, np.ndarray) and array.dtype.hasobject and array.shape == ():
        return array.item()
    return array


def _pose_array(value: object, path: str, key: str, channels: int) -> np.ndarray:
    """``value`` as float32 ``(N, 17, channels)`` (extra channels dropped) or a format error."""
    arr = np.asarray(value) if isinstance(value, np.ndarray | list | tuple) else None
    if arr is None or arr.dtype.kind not in "biuf" or arr.ndim != 3 or arr.shape[1] != NUM_JOINTS \
            or arr.shape[2] < channels:
        got = f"{arr.dtype} values of shape {arr.shape}" if arr is not None else type(value).__name__
        raise Mpi3dhpFormatError(f"{path}: '{key}' must be an array (N, {NUM_JOINTS}, {channels}), got {got}")
    with np.errstate(over="ignore"):  # values beyond float32 become inf, refused by _check_finite
        return np.ascontiguousarray(arr[..., :channels], dtype=np.float32)


def _check_finite(arr: np.ndarray, frames: np.ndarray, path: str, key: str) -> None:
    bad = ~np.isfinite(arr[frames]).all(axis=(1, 2))
    if bad.any():
        first = int(np.nonzero(frames)[0][np.argmax(bad)]) if frames.dtype == bool else int(np.argmax(bad))
        raise Mpi3dhpFormatError(f"{path}: '{key}' has NaN or infinite values (frame {first})")


def read_test_file(path: str | os.PathLike) -> dict[str, Sequence3DHP]:
    """Read ``data_test_3dhp.npz``: the test sequences in the order TS1 ... TS6 (those present)."""
    path = os.fspath(path)
    data = read_npz_object(path)
    if not isinstance(data, dict) or not data:
        raise Mpi3dhpFormatError(f"{path}: 'data' must be a non-empty dict of test sequences TS1..TS6, got "
                                 f"{type(data).__name__}")
    unknown = [str(k) for k in data if k not in TEST_SEQUENCES]
    if unknown:
        hint = " (this looks like the training file)" if all(_TRAIN_NAME.match(k) for k in unknown) else ""
        raise Mpi3dhpFormatError(f"{path}: 'data' has sequence '{unknown[0]}', expected only "
                                 f"{', '.join(TEST_SEQUENCES)}{hint}")
    out = {}
    for name in TEST_SEQUENCES:
        if name not in data:
            continue
        seq = data[name]
        if not isinstance(seq, Mapping):
            raise Mpi3dhpFormatError(f"{path}: 'data/{name}' must be a dict with 'data_2d', 'data_3d', 'valid', "
                                     f"got {type(seq).__name__}")
        for key in ("data_2d", "data_3d", "valid"):
            if key not in seq:
                raise Mpi3dhpFormatError(f"{path}: 'data/{name}' has no '{key}' (keys: {', '.join(map(str, seq))})")
        pose_2d = _pose_array(seq["data_2d"], path, f"data/{name}/data_2d", 2)
        pose_3d = _pose_array(seq["data_3d"], path, f"data/{name}/data_3d", 3)
        valid = np.asarray(seq["valid"])
        if valid.dtype.hasobject or valid.ndim != 1 or len(valid) != len(pose_2d) \
                or not np.isin(valid, (0, 1)).all():
            raise Mpi3dhpFormatError(f"{path}: 'data/{name}/valid' must be ({len(pose_2d)},) of 0/1, got "
                                     f"shape {valid.shape} dtype {valid.dtype}")
        if len(pose_3d) != len(pose_2d):
            raise Mpi3dhpFormatError(f"{path}: 'data/{name}/data_3d' has {len(pose_3d)} frames, 'data_2d' "
                                     f"{len(pose_2d)}")
        valid = valid.astype(bool)
        if not valid.any():
            raise Mpi3dhpFormatError(f"{path}: 'data/{name}/valid' marks no frame valid (nothing to score)")
        _check_finite(pose_2d, valid, path, f"data/{name}/data_2d")
        _check_finite(pose_3d, valid, path, f"data/{name}/data_3d")
        out[name] = Sequence3DHP(name, pose_2d, pose_3d, valid, image_size(name))
    return out


def read_train_file(path: str | os.PathLike) -> list[Sequence3DHP]:
    """Read ``data_train_3dhp.npz``: one :class:`Sequence3DHP` per (sequence, camera), all frames valid,
    named ``"S1 Seq1 cam0"``, in the file's order."""
    path = os.fspath(path)
    data = read_npz_object(path)
    if not isinstance(data, dict) or not data:
        raise Mpi3dhpFormatError(f"{path}: 'data' must be a non-empty dict of training sequences "
                                 f"('S1 Seq1', ...), got {type(data).__name__}")
    out = []
    for name, entry in data.items():
        if not isinstance(name, str) or not _TRAIN_NAME.match(name):
            hint = " (this looks like the test file)" if name in TEST_SEQUENCES else ""
            raise Mpi3dhpFormatError(f"{path}: 'data' has sequence '{name}', expected names like 'S1 Seq1'{hint}")
        if not isinstance(entry, list | tuple) or len(entry) != 2 or not isinstance(entry[0], Mapping):
            raise Mpi3dhpFormatError(f"{path}: 'data/{name}' must be [cameras dict, fps], got "
                                     f"{type(entry).__name__}")
        cameras, fps = entry
        if not isinstance(fps, int | float | np.integer | np.floating) or not fps > 0:
            raise Mpi3dhpFormatError(f"{path}: 'data/{name}' fps must be a positive number, got {fps!r}")
        if not cameras:
            raise Mpi3dhpFormatError(f"{path}: 'data/{name}' has no cameras")
        for cam, views in cameras.items():
            key = f"data/{name}/{cam}"
            if not isinstance(views, Mapping) or "data_2d" not in views or "data_3d" not in views:
                raise Mpi3dhpFormatError(f"{path}: '{key}' must be a dict with 'data_2d' and 'data_3d'")
            pose_2d = _pose_array(views["data_2d"], path, f"{key}/data_2d", 2)
            pose_3d = _pose_array(views["data_3d"], path, f"{key}/data_3d", 3)
            if len(pose_3d) != len(pose_2d) or len(pose_2d) == 0:
                raise Mpi3dhpFormatError(f"{path}: '{key}' has {len(pose_2d)} 2D and {len(pose_3d)} 3D frames")
            every = np.ones(len(pose_2d), dtype=bool)
            _check_finite(pose_2d, every, path, f"{key}/data_2d")
            _check_finite(pose_3d, every, path, f"{key}/data_3d")
            out.append(Sequence3DHP(f"{name} cam{cam}", pose_2d, pose_3d, every, STUDIO_IMAGE_SIZE, float(fps)))
    return out


# ------------------------------------------------------------------------- normalisation, windows


def normalized_input(seq: Sequence3DHP) -> np.ndarray:
    """The model input ``(N, 17, 3)`` float32: normalised x, y and a confidence of 1 (annotated 2D)."""
    wh = np.tile(np.asarray(seq.image_size, dtype=np.float32), (len(seq), 1))
    xy = normalize_screen(seq.pose_2d, wh)
    return np.concatenate([xy, np.ones_like(xy[..., :1])], axis=-1)


def normalized_target(seq: Sequence3DHP) -> np.ndarray:
    """The training target ``(N, 17, 3)`` float32: the pose relative to the pelvis divided by ``w / 2``."""
    rel = seq.pose_3d - seq.pose_3d[:, ROOT:ROOT + 1]
    return (rel / (seq.image_size[0] / 2)).astype(np.float32)


def centred_windows(n_frames: int, length: int, centres: Sequence[int] | np.ndarray | None = None) -> np.ndarray:
    """Frame indices ``(K, length)`` of the test windows centred on ``centres`` (default: every frame).

    Frame ``c`` sits at position :func:`~lib.utils.sliding_windows.window_centre` of its window; positions
    before the first frame or after the last repeat the end frame (edge padding, as P-STMO's test generator
    pads). The windows of :func:`lib.utils.sliding_windows.centred_plan`, the plan every lifting caller uses.
    """
    return centred_plan(n_frames, length, None if centres is None else np.asarray(centres)).frames()


def training_windows(n_frames: int, length: int, stride: int) -> np.ndarray:
    """Frame indices ``(K, length)`` of training clips: windows starting every ``stride`` frames, plus one
    ending at the last frame so every frame is used; a sequence shorter than ``length`` gives one
    edge-padded window."""
    if stride < 1:
        raise ValueError(f"stride must be >= 1, got {stride}")
    starts = list(range(0, max(n_frames - length, 0) + 1, stride))
    if n_frames > length and starts[-1] != n_frames - length:
        starts.append(n_frames - length)
    return np.clip(np.asarray(starts)[:, None] + np.arange(length)[None, :], 0, n_frames - 1)


class PoseWindows(Dataset):
    """Samples ``(input (T, 17, 3), target (T, 17, 3))`` float32 tensors cut from whole sequences.

    Args:
        inputs, targets: per sequence ``(N_s, 17, 3)`` arrays (targets may be all zeros at test time).
        windows: ``(K, T)`` frame indices, and ``owner`` ``(K,)`` the sequence each window is cut from.
        flip: a skeleton to mirror input and target with probability 0.5 (training); ``None``: no flip.
    """

    def __init__(self, inputs: Sequence[np.ndarray], targets: Sequence[np.ndarray], windows: np.ndarray,
                 owner: np.ndarray, flip: Skeleton | None = None) -> None:
        if len(windows) != len(owner):
            raise ValueError(f"{len(windows)} windows but {len(owner)} owners")
        self.inputs = [np.asarray(x, dtype=np.float32) for x in inputs]
        self.targets = [np.asarray(y, dtype=np.float32) for y in targets]
        self.windows = np.asarray(windows, dtype=np.int64)
        self.owner = np.asarray(owner, dtype=np.int64)
        self.flip = flip

    def __len__(self) -> int:
        return len(self.windows)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        s = self.owner[index]
        frames = self.windows[index]
        x, y = self.inputs[s][frames], self.targets[s][frames]
        if self.flip is not None and torch.rand(()) < 0.5:
            x = flip_pose(x, self.flip.left, self.flip.right)
            y = flip_pose(y, self.flip.left, self.flip.right)
        return torch.from_numpy(np.ascontiguousarray(x)), torch.from_numpy(np.ascontiguousarray(y))


def windows_over(sequences: Sequence[Sequence3DHP], make) -> tuple[np.ndarray, np.ndarray]:
    """Stack ``make(n_frames)`` windows of every sequence: ``(windows (K, T), owner (K,))``."""
    parts = [make(len(seq)) for seq in sequences]
    owner = np.concatenate([np.full(len(w), i) for i, w in enumerate(parts)])
    return np.concatenate(parts), owner


def depth_scale_from_ground_truth(seq: Sequence3DHP) -> np.ndarray:
    """Millimetres per pixel at each frame ``(N,)``: the least-squares scale taking the annotated 2D pose
    relative to the pelvis (pixels) onto the x, y of the 3D pose relative to the pelvis (mm).

    This is the 2.5D factor of MotionBERT's Human3.6M protocol, measured on the ground truth; it turns the
    2.5D output of a model trained on Human3.6M (pixels for x, y and depth) into millimetres.
    """
    uv = seq.pose_2d.astype(np.float64) - seq.pose_2d[:, ROOT:ROOT + 1]
    xy = seq.pose_3d[..., :2].astype(np.float64) - seq.pose_3d[:, ROOT:ROOT + 1, :2]
    num = (uv * xy).sum(axis=(1, 2))
    den = (uv * uv).sum(axis=(1, 2))
    return np.divide(num, den, out=np.ones_like(num), where=den > 0)


def training_dataset(path: str | os.PathLike, clip_len: int, stride: int, flip: Skeleton | None) -> PoseWindows:
    """Training windows (:func:`training_windows`) over every (sequence, camera) of the training file."""
    sequences = read_train_file(path)
    windows, owner = windows_over(sequences, lambda n: training_windows(n, clip_len, stride))
    return PoseWindows([normalized_input(s) for s in sequences], [normalized_target(s) for s in sequences],
                       windows, owner, flip=flip)
