"""Tiny Human3.6M-format data written into temporary folders for the training and evaluation tests.

``write_tiny_h36m`` writes a pickle in MotionBERT's layout and the clip files the converter would write
(``<root>/<subset>/{train,test}/%08d.pkl`` with ``data_input`` and ``data_label``), cut by the project's
own ``DataReaderH36M``.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from lib.data.datareader_h36m import DataReaderH36M
from tests.tiny_models import tiny_config

CAMERAS = ("54138969", "55011271", "58860488", "60457274")


def _video(rng: np.random.Generator, frames: int) -> np.ndarray:
    """(frames, 17, 3) pixel x, y and root-relative depth of a smoothly moving stick figure."""
    base = rng.normal(size=(17, 3)) * 60.0
    base[0] = 0.0
    t = np.arange(frames)[:, None, None]
    phase = rng.uniform(0, 2 * np.pi, size=(1, 17, 3))
    motion = base[None] + 15.0 * np.sin(0.2 * t + phase)
    motion[:, 0] = 0.0
    center = np.array([500.0, 480.0, 0.0]) + rng.normal(size=3) * [40, 40, 0]
    return motion + center


def make_split(rng: np.random.Generator, videos: list[tuple[str, str, int]], test: bool) -> dict:
    """``videos``: (source, action, frames). Frames of each video are contiguous."""
    j3d, src, cams, acts = [], [], [], []
    for source, action, frames in videos:
        j3d.append(_video(rng, frames))
        src += [source] * frames
        cams += [CAMERAS[int(source[-1]) - 1]] * frames
        acts += [action] * frames
    joint3d = np.concatenate(j3d).astype(np.float32)
    part = {
        "joint_2d": (joint3d[..., :2] + rng.normal(size=joint3d[..., :2].shape)).astype(np.float32),
        "confidence": np.ones(joint3d.shape[:2] + (1,), np.float32),
        "joint3d_image": joint3d,
        "camera_name": np.array(cams),
        "source": np.array(src),
    }
    if test:
        factor = rng.uniform(3.5, 4.5, size=len(src)).astype(np.float32)
        part["action"] = np.array(acts)
        part["2.5d_factor"] = factor
        part["joints_2.5d_image"] = joint3d * factor[:, None, None]
    return part


TRAIN_VIDEOS = [(f"s_{s:02d}_act_{a:02d}_subact_01_ca_{c:02d}", "", 40)
                for s in (1, 5) for a in (2, 3) for c in (1, 2)]
TEST_VIDEOS = [
    ("s_09_act_02_subact_01_ca_01", "Directions", 24),
    ("s_09_act_03_subact_01_ca_02", "Discussion", 20),
    ("s_09_act_05_subact_02_ca_03", "Eating", 16),  # a skipped source
    ("s_11_act_05_subact_01_ca_04", "Eating", 16),
    ("s_11_act_02_subact_02_ca_01", "Directions", 6),  # shorter than a clip: resampled
]


def write_tiny_h36m(root: Path, clip_len: int = 8, data_stride: int = 4, seed: int = 0,
                    train_videos=TRAIN_VIDEOS, test_videos=TEST_VIDEOS) -> dict:
    """Write ``root/motion3d/tiny.pkl`` and its clips under ``root/motion3d/clips/H36M-TINY``.

    Returns config entries (data_root, dt_root, dt_file, subset_list, clip_len, data_stride).
    """
    rng = np.random.default_rng(seed)
    dt_root = root / "motion3d"
    dt_root.mkdir(parents=True, exist_ok=True)
    data = {"train": make_split(rng, train_videos, False), "test": make_split(rng, test_videos, True)}
    with open(dt_root / "tiny.pkl", "wb") as f:
        pickle.dump(data, f)
    reader = DataReaderH36M(n_frames=clip_len, sample_stride=1, data_stride_train=data_stride,
                            data_stride_test=clip_len, dt_root=str(dt_root), dt_file="tiny.pkl")
    train_in, test_in, train_lab, test_lab = reader.get_sliced_data()
    clips = dt_root / "clips"
    for split, inputs, labels in (("train", train_in, train_lab), ("test", test_in, test_lab)):
        folder = clips / "H36M-TINY" / split
        folder.mkdir(parents=True, exist_ok=True)
        for i, (x, y) in enumerate(zip(inputs, labels, strict=True)):
            with open(folder / f"{i:08d}.pkl", "wb") as f:
                pickle.dump({"data_input": x, "data_label": y}, f)
    return {"data_root": str(clips) + os.sep, "dt_root": str(dt_root), "dt_file": "tiny.pkl",
            "subset_list": ["H36M-TINY"], "clip_len": clip_len, "data_stride": data_stride}


TINY_MODEL = tiny_config(maxlen=8)


def write_config(path: Path, data_keys: dict, **extra) -> Path:
    """A training config for the tiny data and a tiny model; ``extra`` overrides entries."""
    cfg = {"epochs": 2, "checkpoint_frequency": 1, "batch_size": 4, "learning_rate": 0.001,
           "flip": False, **TINY_MODEL, **data_keys, **extra}
    path.write_text(yaml.safe_dump(cfg))
    return path


@pytest.fixture
def one_thread():
    """Tiny models run fastest on one thread, and stay fast when other processes share the CPU."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
