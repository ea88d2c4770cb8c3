"""Clips on disk -> training and test samples (MotionBERT's ``MotionDataset3D``).

A subset is a folder ``<data_root>/<subset>/<split>/`` written by ``tools/convert_h36m.py`` in one of
two formats, detected per folder:

* ``pkl`` (MotionBERT's): one ``%08d.pkl`` per clip, ``{"data_input": (T, 17, 3), "data_label": (T, 17, 3)}``;
* ``npy``: ``data_input.npy`` and ``data_label.npy``, (n_clips, T, 17, 3) float32, memory-mapped.

Both give identical samples. Random choices use torch's generator (seed it with ``torch.manual_seed``;
DataLoader workers get their own seeds).
"""

from __future__ import annotations

import os
from bisect import bisect_right
from collections.abc import Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from ..utils.skeleton import flip_pose
from .datareader_h36m import DataFormatError, first_non_finite, frame_joint_text, read_data_pickle

NOISE_STD = 0.005  # largest per-clip std of the 2D noise augmentation, normalised units (~2.5 px at w=1000)


class ClipFolder:
    """The clips of one ``<subset>/<split>`` folder, in sorted order; opened lazily (fork-safe)."""

    def __init__(self, folder: str) -> None:
        if not os.path.isdir(folder):
            raise FileNotFoundError(f"clip folder {folder} not found; write it with tools/convert_h36m.py "
                                    f"(see docs/DATA.md)")
        self.folder = folder
        npy_in = os.path.join(folder, "data_input.npy")
        npy_lab = os.path.join(folder, "data_label.npy")
        self.format = "npy" if os.path.isfile(npy_in) else "pkl"
        self._arrays: tuple[np.ndarray, np.ndarray] | None = None
        if self.format == "npy":
            if not os.path.isfile(npy_lab):
                raise FileNotFoundError(f"{npy_lab} not found beside {npy_in}; reconvert the folder")
            shape_in, shape_lab = (np.load(p, mmap_mode="r", allow_pickle=False).shape for p in (npy_in, npy_lab))
            if shape_in[0] != shape_lab[0]:
                raise ValueError(f"{folder}: data_input.npy has {shape_in[0]} clips, data_label.npy "
                                 f"{shape_lab[0]}; reconvert the folder")
            self.files: list[str] = []
            self.length = int(shape_in[0])
        else:
            self.files = sorted(os.path.join(folder, f) for f in os.listdir(folder) if f.endswith(".pkl"))
            self.length = len(self.files)
        if self.length == 0:
            raise ValueError(f"clip folder {folder} holds no clips")

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """``(data_input, data_label)`` float32 copies, each (T, 17, 3).

        A clip that is not this layout or holds NaN/inf is a :class:`DataFormatError` naming the file.
        """
        if self.format == "npy":
            if self._arrays is None:
                self._arrays = tuple(np.load(os.path.join(self.folder, f"data_{k}.npy"), mmap_mode="r",
                                             allow_pickle=False)
                                     for k in ("input", "label"))
            x, y = self._arrays[0][index], self._arrays[1][index]
            where = f"{self.folder}: clip {index} of data_{{}}.npy"
        else:
            clip = read_data_pickle(self.files[index])
            if not isinstance(clip, dict) or "data_label" not in clip or "data_input" not in clip:
                raise DataFormatError(f"{self.files[index]}: expected a dict with 'data_input' and 'data_label'")
            x, y = clip["data_input"], clip["data_label"]
            where = f"{self.files[index]}: 'data_{{}}'"
        out = []
        for name, values in (("input", x), ("label", y)):
            if np.iscomplexobj(values):
                raise DataFormatError(f"{where.format(name)} holds complex numbers; expected real numbers")
            try:
                with np.errstate(over="ignore"):  # beyond float32 becomes inf, refused below
                    values = np.array(values, dtype=np.float32)
            except (TypeError, ValueError) as exc:
                raise DataFormatError(f"{where.format(name)} must hold numbers ({exc})") from exc
            if values.ndim != 3 or values.shape[2] != 3 or (out and values.shape != out[0].shape):
                raise DataFormatError(f"{where.format(name)} has shape {values.shape}, expected (frames, joints, 3)"
                                      f"{f' like data_input {out[0].shape}' if out else ''}; reconvert the clips")
            bad = first_non_finite(values)
            if bad is not None:
                raise DataFormatError(f"{where.format(name)} is {values[bad]} at {frame_joint_text(bad)}; "
                                      "reconvert the clips from a pickle without NaN/inf")
            out.append(values)
        return out[0], out[1]


class ClipArrays:
    """Clips already in memory, ``inputs`` and ``labels`` ``(N, T, 17, 3)``: the same interface as
    :class:`ClipFolder` (e.g. the test clips cut by the reader that also gives the evaluation metadata)."""

    def __init__(self, inputs: np.ndarray, labels: np.ndarray, where: str = "<arrays>") -> None:
        if len(inputs) != len(labels):
            raise ValueError(f"{where}: {len(inputs)} input clips but {len(labels)} label clips")
        self.inputs, self.labels, self.folder = inputs, labels, where

    def __len__(self) -> int:
        return len(self.inputs)

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        return np.array(self.inputs[index], dtype=np.float32), np.array(self.labels[index], dtype=np.float32)


def _opt(args, name: str, default):
    value = args.get(name, default) if isinstance(args, dict) else getattr(args, name, default)
    return default if value is None else value


class MotionDataset3D(Dataset):
    """Samples ``(motion_2d (T, 17, 3), motion_3d (T, 17, 3))`` float32 tensors from clip folders.

    Args:
        args: mapping or namespace with ``data_root`` and the switches ``flip``, ``synthetic``, ``gt_2d``,
            ``no_conf``, ``noise``, ``mask_ratio``, ``mask_T_ratio`` (absent = off).
        subset_list: subset folder names under ``data_root`` (e.g. ``["H36M-SH"]``).
        data_split: ``"train"`` or ``"test"``.
        clips: the clips themselves (e.g. one :class:`ClipArrays`) instead of the folders of ``subset_list``.

    Behaviour (train): ``synthetic`` or ``gt_2d`` replace the input by the label's x, y with confidence 1;
    ``flip`` mirrors input and label together with probability 0.5 (:func:`flip_pose`); ``noise`` adds
    Gaussian noise to the input x, y (std drawn per clip up to :data:`NOISE_STD`) and lowers the
    confidence with the displacement; ``mask_ratio`` zeroes each joint's input with that probability,
    ``mask_T_ratio`` whole frames. (test): ``gt_2d`` replaces the input as above; nothing random.
    Both: ``no_conf`` sets the confidence channel to 1 (the input keeps 3 channels).
    """

    def __init__(self, args, subset_list: Sequence[str], data_split: str,
                 clips: Sequence[ClipFolder | ClipArrays] | None = None) -> None:
        if data_split not in ("train", "test"):
            raise ValueError(f"data_split must be 'train' or 'test', got '{data_split}'")
        if isinstance(subset_list, str):
            subset_list = [subset_list]
        if not subset_list:
            raise ValueError("subset_list is empty; name at least one clip folder (e.g. H36M-SH)")
        self.data_root = str(_opt(args, "data_root", "data/motion3d/MB3D_f243s81/"))
        self.subset_list = list(subset_list)
        self.data_split = data_split
        self.flip = bool(_opt(args, "flip", False))
        self.synthetic = bool(_opt(args, "synthetic", False))
        self.gt_2d = bool(_opt(args, "gt_2d", False))
        self.no_conf = bool(_opt(args, "no_conf", False))
        self.noise = bool(_opt(args, "noise", False))
        self.mask_ratio = float(_opt(args, "mask_ratio", 0.0))
        self.mask_T_ratio = float(_opt(args, "mask_T_ratio", 0.0))  # noqa: N815 (config key)
        self.folders = list(clips) if clips is not None else \
            [ClipFolder(os.path.join(self.data_root, s, data_split)) for s in self.subset_list]
        self._ends = np.cumsum([len(f) for f in self.folders]).tolist()

    def __len__(self) -> int:
        return self._ends[-1]

    def _clip(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        if not 0 <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} clips")
        k = bisect_right(self._ends, index)
        start = self._ends[k - 1] if k else 0
        return self.folders[k][index - start]

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        motion_2d, motion_3d = self._clip(index)
        train = self.data_split == "train"
        if self.gt_2d or (train and self.synthetic):
            motion_2d = np.concatenate([motion_3d[..., :2], np.ones_like(motion_3d[..., :1])], axis=-1)
        if train:
            if self.flip and torch.rand(()) < 0.5:
                motion_2d = flip_pose(motion_2d)
                motion_3d = flip_pose(motion_3d)
            if self.noise:
                motion_2d = self._add_noise(motion_2d)
            if self.mask_ratio > 0 or self.mask_T_ratio > 0:
                t, j = motion_2d.shape[:2]
                keep = (torch.rand(t, j, 1) >= self.mask_ratio) & (torch.rand(t, 1, 1) >= self.mask_T_ratio)
                motion_2d = motion_2d * keep.numpy()
        if self.no_conf and motion_2d.shape[-1] > 2:
            motion_2d = motion_2d.copy()
            motion_2d[..., 2] = 1.0
        return torch.from_numpy(np.ascontiguousarray(motion_2d, dtype=np.float32)), \
            torch.from_numpy(np.ascontiguousarray(motion_3d, dtype=np.float32))

    @staticmethod
    def _add_noise(motion_2d: np.ndarray) -> np.ndarray:
        std = float(torch.rand(())) * NOISE_STD
        err = torch.randn(motion_2d.shape[:-1] + (2,)).numpy() * std
        out = motion_2d.copy()
        out[..., :2] += err
        if out.shape[-1] > 2:
            dist = np.linalg.norm(err, axis=-1)
            out[..., 2] *= np.exp(-0.5 * (dist / (2 * NOISE_STD)) ** 2)
        return out
