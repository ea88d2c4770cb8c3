"""Cut the Human3.6M pickle into the clip folders MotionBERT's training reads.

Layout written (``fmt="pkl"``, MotionBERT's)::

    <out>/train/00000000.pkl ...   {"data_input": (clip_len, 17, 3) float32, "data_label": (clip_len, 17, 3) float32}
    <out>/test/00000000.pkl ...

or (``fmt="npy"``) one array per split and field, memory-mapped when read::

    <out>/train/data_input.npy  (n_clips, clip_len, 17, 3) float32
    <out>/train/data_label.npy  (n_clips, clip_len, 17, 3) float32
    <out>/test/...

Clips are in the reader's order (:meth:`DataReaderH36M.get_sliced_data`); test clips use stride
``clip_len`` as the evaluation does.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np

from ..utils.atomic_io import atomic_directory
from .datareader_h36m import DataReaderH36M, clip_index_array

SOURCE_HELP = (
    "The preprocessed Human3.6M pickles (h36m_sh_conf_cam_source_final.pkl, h36m_cpn_cam_source.pkl) are "
    "distributed by MotionBERT (see its docs/pose3d.md); put the file in {dt_root}/. Without it, make a "
    "synthetic one: python tools/make_synthetic_h36m.py --out {dt_root}/h36m_synthetic.pkl, then pass "
    "--dt-file h36m_synthetic.pkl."
)


def _write_split(folder: Path, data: np.ndarray, labels: np.ndarray, ids: np.ndarray, fmt: str,
                 progress) -> None:
    folder.mkdir(parents=True)
    n, t = ids.shape
    if fmt == "npy":
        arr_in = np.lib.format.open_memmap(folder / "data_input.npy", mode="w+", dtype=np.float32,
                                           shape=(n, t) + data.shape[1:])
        arr_lab = np.lib.format.open_memmap(folder / "data_label.npy", mode="w+", dtype=np.float32,
                                            shape=(n, t) + labels.shape[1:])
    for i in range(n):
        x = data[ids[i]].astype(np.float32)
        y = labels[ids[i]].astype(np.float32)
        if fmt == "npy":
            arr_in[i] = x
            arr_lab[i] = y
        else:
            with open(folder / f"{i:08d}.pkl", "wb") as fh:
                pickle.dump({"data_input": x, "data_label": y}, fh, protocol=pickle.HIGHEST_PROTOCOL)
        if progress is not None:
            progress.update(1)
    if fmt == "npy":
        arr_in.flush()
        arr_lab.flush()
        del arr_in, arr_lab


def convert_h36m(dt_root: str, dt_file: str, out: str | os.PathLike, clip_len: int = 243, stride: int = 81,
                 fmt: str = "pkl", force: bool = False, progress_factory=None) -> dict[str, int]:
    """Write the clip folders ``out/{train,test}`` from ``dt_root/dt_file``.

    Writes into a temporary folder beside ``out`` and renames it when complete. Raises
    ``FileNotFoundError`` (message says where the file comes from) for a missing source,
    ``FileExistsError`` when ``out`` exists and not ``force``, ``DataFormatError`` for a bad pickle,
    ``ValueError`` for bad arguments. ``progress_factory(total, desc)`` may return a tqdm-like object.
    Returns the number of clips per split.
    """
    if fmt not in ("pkl", "npy"):
        raise ValueError(f"format must be 'pkl' or 'npy', got '{fmt}'")
    if clip_len < 1 or stride < 1:
        raise ValueError(f"clip length and stride must be >= 1, got {clip_len} and {stride}")
    src = os.path.join(dt_root, dt_file)
    if not os.path.isfile(src):
        raise FileNotFoundError(f"{src} not found. " + SOURCE_HELP.format(dt_root=dt_root))
    out = Path(out)
    if out.exists() and not force:
        raise FileExistsError(f"{out} already exists; pass --force to replace it")
    reader = DataReaderH36M(n_frames=clip_len, sample_stride=1, data_stride_train=stride,
                            data_stride_test=clip_len, read_confidence=True, dt_root=dt_root, dt_file=dt_file)
    train_data, test_data = reader.read_2d()
    train_labels, test_labels = reader.read_3d()
    split_train, split_test = reader.get_split_id()
    splits = {
        "train": (train_data, train_labels, clip_index_array(split_train, clip_len)),
        "test": (test_data, test_labels, clip_index_array(split_test, clip_len)),
    }
    with atomic_directory(out) as tmp:
        for split, (data, labels, ids) in splits.items():
            bar = progress_factory(len(ids), f"{split} clips") if progress_factory else None
            try:
                _write_split(tmp / split, data, labels, ids, fmt, bar)
            finally:
                if bar is not None:
                    bar.close()
    return {split: len(v[2]) for split, v in splits.items()}
