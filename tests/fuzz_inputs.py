"""What the fuzz tests share: small valid files of every format a user hands the project, each format's reader
wrapped so that it returns what it read or raises the error its command line turns into exit 2, and the rule
every corrupted file must follow (:func:`refused_or_valid`).

The rule: a reader either refuses the file with its own error class, in one line that names the file, or returns
a result whose numbers are all finite. Anything else (another exception, a traceback, a NaN) breaks the rule.
"""

from __future__ import annotations

import gzip
import io
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from lib.data.datareader_h36m import DataFormatError
from lib.data.mpi_inf_3dhp import Mpi3dhpFormatError, read_test_file, read_train_file
from lib.data.sources.bvh import BVHError
from lib.data.sources.mocap import MocapMapError, bvh_to_world, load_joint_map
from lib.model import build_model
from lib.utils.checkpoint import load_model_weights
from lib.utils.safe_pickle import UnsafePickleError
from tests.tiny_models import tiny_config

REPO = Path(__file__).resolve().parent.parent
CMU_CLIP = REPO / "tests" / "data" / "cmu_mocap" / "131_01.bvh"
CMU_MAP = load_joint_map("cmu")


class RuleBroken(AssertionError):
    """A reader broke the rule: it raised something else, a multi-line message, or returned non-finite data."""


def refused_or_valid(read: Callable[[Path], object], path: Path, errors: tuple[type[BaseException], ...],
                     check: Callable[[object], None] | None = None, names: str | None = None
                     ) -> BaseException | None:
    """Apply the rule to ``read(path)``: returns the refusal (an instance of ``errors`` whose message is one line
    naming the file, or ``names`` when given) or ``None`` when the result passed ``check`` (finite numbers,
    consistent shapes)."""
    try:
        result = read(path)
    except errors as exc:
        text = str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)
        if "\n" in text or (path.name if names is None else names) not in text:
            raise RuleBroken(f"refusal of {path.name} is not one line naming the file: {text!r}") from exc
        return exc
    except Exception as exc:  # noqa: BLE001 - any other exception breaks the rule
        raise RuleBroken(f"{path.name}: {type(exc).__name__} escaped the reader: {exc}") from exc
    if check is not None:
        check(result)
    return None


def all_finite(*arrays: np.ndarray) -> None:
    """:class:`RuleBroken` when a float array holds NaN or inf."""
    for a in arrays:
        if a is not None and np.asarray(a).dtype.kind in "fc" and not np.isfinite(a).all():
            raise RuleBroken("a reader returned NaN or inf")


# ---------------------------------------------------------------------------------------------- BVH


def small_bvh_text(frames: int = 12) -> str:
    """The CMU clip 131_01 cut to its first ``frames`` frames (120 fps, the cmu joint map fits it)."""
    lines = CMU_CLIP.read_text().splitlines()
    k = next(i for i, ln in enumerate(lines) if ln.strip().lower().startswith("frames:"))
    return "\n".join(lines[:k] + [f"Frames: {frames}", lines[k + 1]] + lines[k + 2:k + 2 + frames]) + "\n"


def read_bvh_world(path: Path) -> np.ndarray:
    """A BVH (plain or .bvh.gz) all the way to Human3.6M world joints, as tools/convert_mocap.py reads it."""
    return bvh_to_world(path, CMU_MAP)


BVH_ERRORS = (BVHError, MocapMapError, KeyError)


def check_world(world: np.ndarray) -> None:
    if world.ndim != 3 or world.shape[1:] != (17, 3) or len(world) < 1:
        raise RuleBroken(f"world joints of shape {world.shape}")
    all_finite(world)


# ---------------------------------------------------------------------------------------------- keypoints


def alphapose_entries(frames: int = 6, seed: int = 0) -> list[dict]:
    rng = np.random.default_rng(seed)
    out = []
    for t in range(frames):
        kp = np.stack([rng.uniform(200, 400, 17), rng.uniform(100, 500, 17), rng.uniform(0.5, 1, 17)], axis=-1)
        out.append({"image_id": f"{t}.jpg", "idx": 1, "keypoints": kp.reshape(-1).round(2).tolist(), "score": 2.5})
    return out


def openpose_doc(seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    body = np.stack([rng.uniform(200, 400, 25), rng.uniform(100, 500, 25), rng.uniform(0.5, 1, 25)], axis=-1)
    return {"version": 1.3, "people": [{"person_id": [-1], "pose_keypoints_2d": body.reshape(-1).round(2).tolist()}]}


def demo_npz_arrays(people: int = 1, frames: int = 6) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    h36m = np.concatenate([rng.uniform(100, 500, (people, frames, 17, 2)), rng.uniform(0, 1, (people, frames, 17, 1))],
                          axis=-1).astype(np.float32)
    return {"h36m": h36m, "missing": np.zeros((people, frames), bool),
            "boxes": np.full((people, frames, 5), np.nan, np.float32),
            "width": np.array(640), "height": np.array(480), "fps": np.array(25.0)}


def check_keypoints(kp) -> None:
    people, frames = kp.present.shape
    if people < 1 or frames < 1 or kp.h36m.shape != (people, frames, 17, 3) or kp.boxes.shape != (people, frames, 5):
        raise RuleBroken(f"inconsistent keypoints: h36m {kp.h36m.shape}, present {kp.present.shape}")
    all_finite(kp.h36m, kp.coco)
    if np.isinf(kp.boxes).any():  # NaN marks frames without the person; inf is never valid
        raise RuleBroken("a reader returned infinite boxes")
    if kp.size is not None and not (kp.size[0] > 0 and kp.size[1] > 0):
        raise RuleBroken(f"frame size {kp.size}")
    if kp.fps is not None and not (np.isfinite(kp.fps) and kp.fps > 0):
        raise RuleBroken(f"fps {kp.fps}")


# ---------------------------------------------------------------------------------------------- configs


CONFIG_TEXT = (REPO / "configs" / "quickstart.yaml").read_text()


def check_config(cfg) -> None:
    if cfg.dim_feat % cfg.num_heads or not 1 <= cfg.clip_len <= 10_000:
        raise RuleBroken("a config outside the bounds was accepted")


# ---------------------------------------------------------------------------------------------- checkpoints


def tiny_model() -> torch.nn.Module:
    torch.manual_seed(0)
    return build_model(tiny_config(maxlen=8))


def checkpoint_bytes() -> bytes:
    buf = io.BytesIO()
    torch.save({"epoch": 1, "lr": 1e-3, "model_pos": {f"module.{k}": v for k, v in tiny_model().state_dict().items()}},
               buf)
    return buf.getvalue()


def read_checkpoint(path: Path) -> torch.nn.Module:
    model = tiny_model()
    load_model_weights(model, path, strict=True)
    return model


def check_model(model: torch.nn.Module) -> None:
    all_finite(*(p.detach().numpy() for p in model.parameters()))


# ---------------------------------------------------------------------------------------------- data files


def h36m_dict(seed: int = 0) -> dict:
    """A two-video Human3.6M-layout dict (the train and test splits of MotionBERT's pickle)."""
    rng = np.random.default_rng(seed)

    def split(test: bool) -> dict:
        n = 10
        part = {"joint_2d": rng.uniform(0, 1000, (n, 17, 2)).astype(np.float32),
                "confidence": rng.uniform(0, 1, (n, 17, 1)).astype(np.float32),
                "joint3d_image": rng.uniform(0, 1000, (n, 17, 3)).astype(np.float32),
                "camera_name": np.array(["54138969"] * 6 + ["55011271"] * 4),
                "source": np.array(["s_09_act_02_subact_01_ca_01"] * 6 + ["s_09_act_02_subact_01_ca_02"] * 4)}
        if test:
            part["action"] = np.array(["Directions"] * n)
            part["2.5d_factor"] = rng.uniform(3, 6, n).astype(np.float32)
            part["joints_2.5d_image"] = part["joint3d_image"] * part["2.5d_factor"][:, None, None]
        return part

    return {"train": split(False), "test": split(True)}


def check_h36m(data: dict) -> None:
    for part in data.values():
        for key in ("joint_2d", "joint3d_image"):
            all_finite(np.asarray(part[key], dtype=np.float64))


H36M_ERRORS = (DataFormatError, FileNotFoundError)


def threedhp_dicts(seed: int = 0) -> tuple[dict, dict]:
    """(train, test) dicts in P-STMO's layout: one training sequence seen by one camera, one test sequence."""
    rng = np.random.default_rng(seed)
    n = 8
    pose_3d = (rng.normal(size=(n, 17, 3)) * 200 + [0, 0, 4000]).astype(np.float32)
    pose_2d = rng.uniform(0, 2048, (n, 17, 2)).astype(np.float32)
    train = {"S1 Seq1": [{"S1 Seq1 0": {"data_2d": pose_2d, "data_3d": pose_3d}}, 25]}
    test = {"TS1": {"data_2d": pose_2d, "data_3d": pose_3d, "valid": np.ones(n, np.float32)}}
    return train, test


def write_npz_object(path: Path, obj: object) -> None:
    """``np.savez(path, data=obj)`` as P-STMO writes its 3DHP files (a pickled object array)."""
    with open(path, "wb") as fh:
        np.savez(fh, data=np.array(obj, dtype=object) if not isinstance(obj, np.ndarray) else obj)


def read_3dhp(path: Path):
    return read_train_file(path) if "train" in path.name else read_test_file(path)


def check_3dhp(result) -> None:
    sequences = result.values() if isinstance(result, dict) else result
    for seq in sequences:
        all_finite(seq.pose_2d, seq.pose_3d)


THREEDHP_ERRORS = (Mpi3dhpFormatError, UnsafePickleError, FileNotFoundError)


# ---------------------------------------------------------------------------------------------- byte-level


def truncations(data: bytes) -> list[bytes]:
    """The file cut at a few places, from empty to one byte short."""
    return [data[:n] for n in sorted({0, 1, 2, 10, len(data) // 3, len(data) // 2, len(data) - 1}) if n < len(data)]


def gzip_bytes(text: str) -> bytes:
    return gzip.compress(text.encode())
