"""Read the preprocessed Human3.6M pickle (MotionBERT's layout) and cut it into clips.

The pickle is a dict with ``train`` and ``test``, each a dict of per-frame arrays (N frames):

* ``joint_2d`` (N, 17, 2) pixels (2D detections or ground truth);
* ``confidence`` (N, 17, 1) or (N, 17), optional (ones when absent);
* ``joint3d_image`` (N, 17, 3): pixel x, y and a root-relative depth on the same scale;
* ``camera_name`` (N,): ``54138969``, ``55011271``, ``58860488`` or ``60457274``;
* ``source`` (N,): one string per video (``s_01_act_02_subact_01_ca_01``), a video's frames contiguous;
* test only (used by the evaluation): ``action`` (N,), ``2.5d_factor`` (N,), ``joints_2.5d_image``
  (N, 17, 3) millimetres, ``joints_2.5d_image = joint3d_image * 2.5d_factor``.

Coordinates are normalised by the camera resolution ``(w, h)``: ``x / w * 2 - 1``, ``y / w * 2 - h / w``,
``z / w * 2``. Videos are cut into clips as MotionBERT does: a window of ``n_frames`` slides with stride
``data_stride`` inside each video; the tail after a video's last full window is not used; a video shorter
than ``n_frames`` becomes one clip resampled to ``n_frames`` frames, deterministically (frame
``floor(k * L / n_frames)`` for k = 0..n_frames-1), so that converted clips and the evaluation agree.
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Sequence

import numpy as np

from ..utils.safe_pickle import UnsafePickleError, load_pickle
from .h36m_resolution import H36M_RESOLUTION

NUM_JOINTS = 17
REQUIRED_KEYS: tuple[str, ...] = ("joint_2d", "joint3d_image", "camera_name", "source")
OPTIONAL_FRAME_KEYS: tuple[str, ...] = ("confidence", "action", "2.5d_factor", "joints_2.5d_image")
EVAL_KEYS: tuple[str, ...] = ("action", "2.5d_factor", "joints_2.5d_image")
NUMERIC_KEYS: tuple[str, ...] = ("joint_2d", "confidence", "joint3d_image", "2.5d_factor", "joints_2.5d_image")


class DataFormatError(ValueError):
    """A data file that is not in the expected layout or holds NaN/inf; the message names the file, the key
    and, for values, where they are."""


def read_data_pickle(path: str | os.PathLike) -> object:
    """Unpickle a data file with the restricted unpickler (:mod:`lib.utils.safe_pickle`); a file that names
    code or cannot be read is a one-line :class:`DataFormatError` naming the file."""
    path = os.fspath(path)
    try:
        return load_pickle(path)
    except UnsafePickleError as exc:
        raise DataFormatError(str(exc)) from exc
    except (pickle.UnpicklingError, EOFError, AttributeError, ImportError, IndexError, ValueError, TypeError,
            KeyError, OverflowError, MemoryError) as exc:  # a damaged stream (or length field) fails in any of these
        raise DataFormatError(f"{path}: cannot be read as a pickle ({type(exc).__name__}: {exc})") from exc


def first_non_finite(values: np.ndarray) -> tuple[int, ...] | None:
    """Index of the first NaN or inf of a numeric array (``None`` when every value is finite)."""
    if values.dtype.kind not in "fc":
        return None  # integers and booleans are always finite
    bad = np.argwhere(~np.isfinite(values))
    return tuple(int(i) for i in bad[0]) if len(bad) else None


def frame_joint_text(index: tuple[int, ...]) -> str:
    """``(frame, joint, channel)`` -> ``'frame 3, joint 5'`` (as much as the index holds)."""
    return f"frame {index[0]}" + (f", joint {index[1]}" if len(index) > 1 else "")


def _check_numbers(part: dict, split: str, path: str) -> None:
    """Refuse non-numeric or non-finite per-frame arrays, naming the key, split, frame and video."""
    for key in NUMERIC_KEYS:
        if key not in part:
            continue
        values = np.asarray(part[key])
        try:
            values = values.astype(np.float64) if values.dtype.kind == "O" else values
        except (TypeError, ValueError) as exc:
            raise DataFormatError(f"{path}: '{split}/{key}' must hold numbers ({exc})") from exc
        if values.dtype.kind not in "biuf":
            raise DataFormatError(f"{path}: '{split}/{key}' must hold numbers, got dtype {values.dtype}")
        where = first_non_finite(values)
        if where is not None:
            raise DataFormatError(
                f"{path}: '{split}/{key}' is {values[where]} at {frame_joint_text(where)} of source "
                f"'{part['source'][where[0]]}'; NaN/inf cannot be trained on or evaluated: fix or drop that frame")


def resample_indices(length: int, n_frames: int) -> np.ndarray:
    """Deterministic resampling of a ``length``-frame video to ``n_frames``: int64 indices (n_frames,)."""
    return np.floor(np.arange(n_frames) * (length / n_frames)).astype(np.int64)


def video_ranges(sources: Sequence) -> list[tuple[int, int]]:
    """``[(start, end), ...]`` of the runs of equal consecutive values in ``sources`` (one per video)."""
    src = np.asarray(sources)
    if len(src) == 0:
        return []
    change = np.nonzero(src[1:] != src[:-1])[0] + 1
    starts = np.concatenate([[0], change])
    ends = np.concatenate([change, [len(src)]])
    return [(int(s), int(e)) for s, e in zip(starts, ends, strict=True)]


def split_clips(sources: Sequence, n_frames: int, data_stride: int) -> list:
    """Cut videos into clips of ``n_frames`` frames.

    Args:
        sources: (N,) per-frame video names; a video's frames are contiguous.
        n_frames: clip length.
        data_stride: distance between the starts of consecutive windows inside a video.
    Returns:
        A list with one entry per clip, in video order: a ``range`` of frame indices for a window of a
        long-enough video, an int64 index array (n_frames,) for a video shorter than ``n_frames``.
    """
    if n_frames < 1 or data_stride < 1:
        raise ValueError(f"n_frames and data_stride must be >= 1, got {n_frames} and {data_stride}")
    clips: list = []
    for start, end in video_ranges(sources):
        length = end - start
        if length >= n_frames:
            for st in range(start, end - n_frames + 1, data_stride):
                clips.append(range(st, st + n_frames))
        else:
            clips.append(resample_indices(length, n_frames) + start)
    return clips


def clip_index_array(split_ids: Sequence, n_frames: int) -> np.ndarray:
    """Stack clip index lists into an int64 array (n_clips, n_frames) (empty: (0, n_frames))."""
    if len(split_ids) == 0:
        return np.zeros((0, n_frames), dtype=np.int64)
    return np.stack([np.asarray(ids, dtype=np.int64) for ids in split_ids])


def _resolution_per_frame(cameras: np.ndarray, split: str, path: str) -> np.ndarray:
    """(N, 2) float32 ``(w, h)`` for each frame from its camera name."""
    names, inverse = np.unique(np.asarray(cameras).astype(str), return_inverse=True)
    table = np.zeros((len(names), 2), dtype=np.float32)
    for i, name in enumerate(names):
        if name not in H36M_RESOLUTION:
            first = int(np.nonzero(inverse == i)[0][0])
            raise DataFormatError(
                f"{path}: '{split}/camera_name' has an unknown camera '{name}' (frame {first}); "
                f"expected one of {sorted(H36M_RESOLUTION)}")
        table[i] = H36M_RESOLUTION[name]
    return table[inverse.reshape(-1)]


def normalize_screen(points: np.ndarray, wh: np.ndarray, has_depth: bool = False) -> np.ndarray:
    """Pixels -> normalised coordinates for arrays ``(N, ..., C>=2)`` with one ``(w, h)`` per leading
    index (``wh`` (N, 2)): ``x / w * 2 - 1``, ``y / w * 2 - h / w`` and, when ``has_depth``, channel 2
    ``z / w * 2``. Returns a new float32 array."""
    out = np.array(points, dtype=np.float32, copy=True)
    shape = (len(wh),) + (1,) * (out.ndim - 2)
    w = wh[:, 0].reshape(shape).astype(np.float32)
    h = wh[:, 1].reshape(shape).astype(np.float32)
    out[..., 0] = out[..., 0] / w * 2 - 1
    out[..., 1] = out[..., 1] / w * 2 - h / w
    if has_depth and out.shape[-1] > 2:
        out[..., 2] = out[..., 2] / w * 2
    return out


def denormalize_screen(points: np.ndarray, wh: np.ndarray, has_depth: bool = True) -> np.ndarray:
    """Inverse of the normalisation for arrays ``(N, ..., C)`` with one ``(w, h)`` per leading index.

    x, y go back to pixels; z (channel 2, when ``has_depth``) is multiplied by ``w / 2``.
    """
    out = np.array(points, dtype=np.float32, copy=True)
    shape = (len(wh),) + (1,) * (out.ndim - 2)
    w = wh[:, 0].reshape(shape).astype(np.float32)
    h = wh[:, 1].reshape(shape).astype(np.float32)
    out[..., 0] = (out[..., 0] + 1) * w / 2
    out[..., 1] = (out[..., 1] + h / w) * w / 2
    if has_depth and out.shape[-1] > 2:
        out[..., 2] = out[..., 2] * w / 2
    return out


def validate_h36m_dict(data: object, path: str) -> None:
    """Check the pickle's layout; raise :class:`DataFormatError` naming the key and the file."""
    if not isinstance(data, dict):
        raise DataFormatError(f"{path}: expected a dict with keys 'train' and 'test', got {type(data).__name__}")
    for split in ("train", "test"):
        if split not in data:
            raise DataFormatError(f"{path}: missing key '{split}' (the file is not a Human3.6M pickle "
                                  f"in MotionBERT's layout)")
        part = data[split]
        if not isinstance(part, dict):
            raise DataFormatError(f"{path}: '{split}' must be a dict of arrays, got {type(part).__name__}")
        for key in REQUIRED_KEYS:
            if key not in part:
                raise DataFormatError(f"{path}: missing key '{split}/{key}'")
        for key in REQUIRED_KEYS + OPTIONAL_FRAME_KEYS:
            value = part.get(key, ())
            if not (isinstance(value, list | tuple) or isinstance(value, np.ndarray) and value.ndim >= 1):
                what = f"a {value.ndim}-d array" if isinstance(value, np.ndarray) else f"a {type(value).__name__}"
                raise DataFormatError(f"{path}: '{split}/{key}' is {what}; expected one entry per frame (an array "
                                      "or a list)")
        n = len(part["source"])
        for key in REQUIRED_KEYS + OPTIONAL_FRAME_KEYS:
            if key in part and len(part[key]) != n:
                raise DataFormatError(f"{path}: '{split}/{key}' has {len(part[key])} frames but "
                                      f"'{split}/source' has {n}; all per-frame arrays must have the same length")
        expect = {"joint_2d": (2, None), "joint3d_image": (3, 3), "joints_2.5d_image": (3, 3)}
        for key, (cmin, cmax) in expect.items():
            if key not in part:
                continue
            shape = np.shape(part[key])
            if len(shape) != 3 or shape[1] != NUM_JOINTS or shape[2] < cmin or (cmax and shape[2] > cmax):
                want = f"(N, {NUM_JOINTS}, {cmin if cmax is None else cmax})"
                raise DataFormatError(f"{path}: '{split}/{key}' has shape {shape}, expected {want}")
        if "confidence" in part:
            shape = np.shape(part["confidence"])
            if not (shape[1:] == (NUM_JOINTS,) or shape[1:] == (NUM_JOINTS, 1)):
                raise DataFormatError(f"{path}: '{split}/confidence' has shape {shape}, "
                                      f"expected (N, {NUM_JOINTS}) or (N, {NUM_JOINTS}, 1)")
        _check_numbers(part, split, path)
        src = np.asarray(part["source"])
        ranges = video_ranges(src)
        if len({str(src[s]) for s, _ in ranges}) != len(ranges):
            raise DataFormatError(f"{path}: '{split}/source' names a video in more than one run of frames; "
                                  f"each video's frames must be contiguous")


def load_h36m_pickle(path: str | os.PathLike) -> dict:
    """Load (with the restricted unpickler of :mod:`lib.utils.safe_pickle`) and validate a Human3.6M
    pickle. ``FileNotFoundError`` if missing, else :class:`DataFormatError` for a file that is not this
    layout, names a global other than NumPy arrays and plain Python values, or holds NaN/inf in an array
    the reader or the evaluation uses."""
    path = str(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: no such file")
    data = read_data_pickle(path)
    validate_h36m_dict(data, path)
    return data


class DataReaderH36M:
    """MotionBERT's reader of the Human3.6M pickle (same constructor and methods).

    Args:
        n_frames: clip length (``clip_len``).
        sample_stride: keep every ``sample_stride``-th frame before cutting clips.
        data_stride_train: window stride of training clips (``data_stride``).
        data_stride_test: window stride of test clips (``clip_len`` for the evaluation protocol).
        read_confidence: append the confidence as the third input channel (ones when the file has none).
        dt_root, dt_file: the pickle is ``dt_root/dt_file``.
    """

    def __init__(self, n_frames: int, sample_stride: int, data_stride_train: int, data_stride_test: int,
                 read_confidence: bool = True, dt_root: str = "data/motion3d",
                 dt_file: str = "h36m_sh_conf_cam_source_final.pkl") -> None:
        self.path = os.path.join(dt_root, dt_file)
        self.dt_dataset: dict = load_h36m_pickle(self.path)
        self.n_frames = int(n_frames)
        self.sample_stride = int(sample_stride)
        self.data_stride_train = int(data_stride_train)
        self.data_stride_test = int(data_stride_test)
        self.read_confidence = read_confidence
        self.split_id_train: list | None = None
        self.split_id_test: list | None = None
        self._wh: dict[str, np.ndarray] = {}

    # -- per-frame arrays -------------------------------------------------------------------------------
    def _frames(self, split: str, key: str) -> np.ndarray:
        return np.asarray(self.dt_dataset[split][key])[::self.sample_stride]

    def _resolution(self, split: str) -> np.ndarray:
        """(N, 2) ``(w, h)`` per (sampled) frame of a split."""
        if split not in self._wh:
            self._wh[split] = _resolution_per_frame(self._frames(split, "camera_name"), split, self.path)
        return self._wh[split]

    def _read_2d_split(self, split: str) -> np.ndarray:
        joints = self._frames(split, "joint_2d")[:, :, :2].astype(np.float32)
        out = normalize_screen(joints, self._resolution(split))
        if self.read_confidence:
            part = self.dt_dataset[split]
            if "confidence" in part:
                conf = self._frames(split, "confidence").astype(np.float32)
                if conf.ndim == 2:
                    conf = conf[:, :, None]
            else:
                conf = np.ones(out.shape[:2] + (1,), dtype=np.float32)
            out = np.concatenate([out, conf], axis=2)
        return out

    def _read_3d_split(self, split: str) -> np.ndarray:
        joints = self._frames(split, "joint3d_image")[:, :, :3].astype(np.float32)
        return normalize_screen(joints, self._resolution(split), has_depth=True)

    def read_2d(self) -> tuple[np.ndarray, np.ndarray]:
        """Normalised 2D inputs: train (N, 17, 3), test (M, 17, 3) float32 (x, y, confidence);
        (…, 2) without confidence when ``read_confidence`` is False."""
        return self._read_2d_split("train"), self._read_2d_split("test")

    def read_3d(self) -> tuple[np.ndarray, np.ndarray]:
        """Normalised 3D labels: train (N, 17, 3), test (M, 17, 3) float32."""
        return self._read_3d_split("train"), self._read_3d_split("test")

    def read_hw(self) -> np.ndarray:
        """(M, 2) ``(w, h)`` of every (sampled) test frame."""
        return self._resolution("test").astype(np.float64)

    # -- clips ------------------------------------------------------------------------------------------
    def get_split_id(self) -> tuple[list, list]:
        """Frame indices of each clip: ``(split_id_train, split_id_test)``, lists of ``range`` objects
        (windows) or int64 arrays (resampled short videos), each of length ``n_frames``."""
        if self.split_id_train is None or self.split_id_test is None:
            self.split_id_train = split_clips(self._frames("train", "source"), self.n_frames,
                                              self.data_stride_train)
            self.split_id_test = split_clips(self._frames("test", "source"), self.n_frames,
                                             self.data_stride_test)
        return self.split_id_train, self.split_id_test

    def get_hw(self) -> np.ndarray:
        """(n_test_clips, 2) ``(w, h)`` of each test clip (from its first frame)."""
        _, split_id_test = self.get_split_id()
        ids = clip_index_array(split_id_test, self.n_frames)
        return self.read_hw()[ids[:, 0]] if len(ids) else np.zeros((0, 2))

    def get_sliced_data(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``(train_data, test_data, train_labels, test_labels)``: (n_clips, n_frames, 17, 3) float32."""
        ids_train = clip_index_array(self.get_split_id()[0], self.n_frames)
        test_data, test_labels = self.get_test_clips()
        return (self._read_2d_split("train")[ids_train], test_data, self._read_3d_split("train")[ids_train],
                test_labels)

    def get_test_clips(self) -> tuple[np.ndarray, np.ndarray]:
        """``(test_data, test_labels)`` of :meth:`get_sliced_data` without reading the training split."""
        test_data, test_labels = self._read_2d_split("test"), self._read_3d_split("test")
        ids = clip_index_array(self.get_split_id()[1], self.n_frames)
        return test_data[ids], test_labels[ids]

    def denormalize(self, test_data: np.ndarray) -> np.ndarray:
        """Predictions in normalised coordinates -> pixel coordinates.

        ``test_data``: (n_test_clips, n_frames, 17, 3) or (n_test_clips, n_frames, 51). Returns a new
        float32 array (n_test_clips, n_frames, 17, 3): x, y in pixels and z on the same pixel scale (the
        evaluation multiplies it by ``2.5d_factor`` to get millimetres).
        """
        test_hw = self.get_hw()
        data = np.asarray(test_data, dtype=np.float32).reshape(len(test_data), -1, NUM_JOINTS, 3)
        if len(data) != len(test_hw):
            raise ValueError(f"denormalize: got {len(data)} clips, the test split has {len(test_hw)}")
        return denormalize_screen(data, test_hw)

    def test_array(self, key: str) -> np.ndarray:
        """A per-frame array of the test split (e.g. ``action``, ``2.5d_factor``, ``joints_2.5d_image``,
        ``source``) as numpy, every ``sample_stride``-th frame (the frames :meth:`get_split_id` indexes);
        :class:`DataFormatError` naming the key and the file when it is missing."""
        if key not in self.dt_dataset["test"]:
            raise DataFormatError(f"{self.path}: missing key 'test/{key}' (needed by the evaluation)")
        return self._frames("test", key)
