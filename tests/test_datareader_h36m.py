"""Human3.6M pickle reader, clip splitting, converter and clip dataset."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch

from lib.data.convert_h36m import convert_h36m
from lib.data.datareader_h36m import DataFormatError, DataReaderH36M, split_clips
from lib.data.dataset_motion_3d import MotionDataset3D
from lib.utils.safe_pickle import load_pickle
from lib.utils.skeleton import H36M_LEFT, H36M_RIGHT, flip_pose
from tools import convert_h36m as convert_cli

CAMS = ["54138969", "55011271", "58860488", "60457274"]


def fake_split(lengths: list[int], cams: list[str], seed: int, test: bool) -> dict:
    """Per-frame arrays for videos of the given lengths (video k seen by cams[k])."""
    rng = np.random.default_rng(seed)
    n = sum(lengths)
    part = {
        "joint_2d": rng.uniform(0, 1000, (n, 17, 2)).astype(np.float32),
        "confidence": rng.uniform(0, 1, (n, 17, 1)).astype(np.float32),
        "joint3d_image": np.concatenate([rng.uniform(0, 1000, (n, 17, 2)), rng.uniform(-100, 100, (n, 17, 1))],
                                        axis=-1).astype(np.float32),
        "camera_name": np.concatenate([[c] * length for c, length in zip(cams, lengths, strict=True)]),
        "source": np.concatenate([[f"s_09_act_02_subact_01_ca_{k:02d}"] * length for k, length in enumerate(lengths)]),
    }
    if test:
        part["action"] = np.array(["Directions"] * n)
        part["2.5d_factor"] = rng.uniform(3, 6, n).astype(np.float32)
        part["joints_2.5d_image"] = part["joint3d_image"] * part["2.5d_factor"][:, None, None]
    return part


def fake_pickle(tmp_path, lengths_train=(30, 12, 25), lengths_test=(20, 7), name="h36m.pkl", data=None):
    if data is None:
        data = {"train": fake_split(list(lengths_train), CAMS[:len(lengths_train)], 0, False),
                "test": fake_split(list(lengths_test), CAMS[1:1 + len(lengths_test)], 1, True)}
    with open(tmp_path / name, "wb") as fh:
        pickle.dump(data, fh)
    return data


def test_normalisation_by_hand_and_round_trip(tmp_path):
    data = fake_pickle(tmp_path)
    data["train"]["joint3d_image"][0, 0] = [500.0, 501.0, 100.0]  # camera 54138969: 1000 x 1002
    data["train"]["joint_2d"][0, 0] = [250.0, 0.0]
    fake_pickle(tmp_path, data=data)
    reader = DataReaderH36M(10, 1, 5, 10, dt_root=str(tmp_path), dt_file="h36m.pkl")
    train_2d, _ = reader.read_2d()
    train_3d, _ = reader.read_3d()
    np.testing.assert_allclose(train_3d[0, 0], [0.0, 0.0, 0.2], atol=1e-6)
    np.testing.assert_allclose(train_2d[0, 0, :2], [-0.5, -1.002], atol=1e-6)
    assert train_2d[0, 0, 2] == data["train"]["confidence"][0, 0, 0]
    # denormalising the sliced test labels gives the pixels back (test cameras 55011271, 58860488)
    _, _, _, test_labels = reader.get_sliced_data()
    _, split_test = reader.get_split_id()
    back = reader.denormalize(test_labels)
    expect = data["test"]["joint3d_image"][np.stack([np.asarray(s) for s in split_test])]
    np.testing.assert_allclose(back, expect, rtol=1e-5, atol=1e-3)
    assert reader.get_hw().tolist() == [[1000, 1000], [1000, 1000], [1000, 1000]]


def test_confidence_absent_or_2d(tmp_path):
    data = fake_pickle(tmp_path)
    del data["train"]["confidence"]
    data["test"]["confidence"] = data["test"]["confidence"][..., 0]
    fake_pickle(tmp_path, data=data)
    train, test = DataReaderH36M(10, 1, 5, 10, dt_root=str(tmp_path), dt_file="h36m.pkl").read_2d()
    assert train.shape == (67, 17, 3) and np.all(train[..., 2] == 1)
    np.testing.assert_array_equal(test[..., 2], data["test"]["confidence"])


def test_split_clips_windows_tails_short_videos():
    sources = ["A"] * 10 + ["B"] * 4 + ["C"] * 7 + ["D"] * 3
    clips = split_clips(sources, 5, 2)
    got = [list(np.asarray(c)) for c in clips]
    assert got == [
        [0, 1, 2, 3, 4], [2, 3, 4, 5, 6], [4, 5, 6, 7, 8],   # A: frame 9 after the last full window unused
        [10, 10, 11, 12, 13],                                 # B (4 frames) resampled to 5
        [14, 15, 16, 17, 18], [16, 17, 18, 19, 20],           # C
        [21, 21, 22, 22, 23],                                 # D, short and last
    ]
    assert isinstance(clips[0], range)
    again = split_clips(sources, 5, 2)
    assert all(np.array_equal(np.asarray(a), np.asarray(b)) for a, b in zip(clips, again, strict=True))
    # test protocol: stride = clip length
    assert [c[0] for c in split_clips(["A"] * 12, 4, 4)] == [0, 4, 8]


def test_sample_stride_and_shapes(tmp_path):
    fake_pickle(tmp_path)
    reader = DataReaderH36M(6, 2, 3, 6, dt_root=str(tmp_path), dt_file="h36m.pkl")
    train_data, test_data, train_labels, test_labels = reader.get_sliced_data()
    # train videos 30, 12, 25 frames -> 15, 6, 13 after stride 2 -> windows 4 + 1 + 3
    assert train_data.shape == (8, 6, 17, 3) and train_labels.shape == (8, 6, 17, 3)
    # test videos 20, 7 -> 10, 4 frames -> one window + one resampled short video
    assert test_data.dtype == np.float32 and test_labels.shape == (2, 6, 17, 3)


@pytest.mark.parametrize("mutate, message", [
    (lambda d: d["train"].pop("joint_2d"), "train/joint_2d"),
    (lambda d: d.pop("test"), "'test'"),
    (lambda d: d["test"].update(camera_name=np.array(["12345678"] * 27)), "unknown camera '12345678'"),
    (lambda d: d["train"].update(joint3d_image=d["train"]["joint3d_image"][:-1]), "train/joint3d_image"),
    (lambda d: d["test"].update(joint_2d=d["test"]["joint_2d"][:, :16]), "test/joint_2d"),
    (lambda d: d["train"].update(source=np.array(["a"] * 30 + ["b"] * 12 + ["a"] * 25)), "contiguous"),
])
def test_reader_errors_name_key_and_file(tmp_path, mutate, message):
    data = fake_pickle(tmp_path)
    mutate(data)
    fake_pickle(tmp_path, data=data)
    with pytest.raises(DataFormatError) as err:
        DataReaderH36M(10, 1, 5, 10, dt_root=str(tmp_path), dt_file="h36m.pkl").read_2d()
    assert message in str(err.value) and "h36m.pkl" in str(err.value)


def test_reader_rejects_other_files(tmp_path):
    (tmp_path / "junk.pkl").write_bytes(b"not a pickle at all")
    with pytest.raises(DataFormatError, match="junk.pkl"):
        DataReaderH36M(10, 1, 5, 10, dt_root=str(tmp_path), dt_file="junk.pkl")
    with open(tmp_path / "list.pkl", "wb") as fh:
        pickle.dump([1, 2], fh)
    with pytest.raises(DataFormatError, match="list.pkl.*dict"):
        DataReaderH36M(10, 1, 5, 10, dt_root=str(tmp_path), dt_file="list.pkl")
    with pytest.raises(FileNotFoundError, match="missing.pkl"):
        DataReaderH36M(10, 1, 5, 10, dt_root=str(tmp_path), dt_file="missing.pkl")
    fake_pickle(tmp_path)
    reader = DataReaderH36M(10, 1, 5, 10, dt_root=str(tmp_path), dt_file="h36m.pkl")
    del reader.dt_dataset["test"]["action"]
    with pytest.raises(DataFormatError, match="test/action"):
        reader.test_array("action")


@pytest.mark.parametrize("fmt", ["pkl", "npy"])
def test_converter_matches_reader(tmp_path, fmt):
    fake_pickle(tmp_path)
    out = tmp_path / "clips" / "H36M-X"
    counts = convert_h36m(str(tmp_path), "h36m.pkl", out, clip_len=8, stride=4, fmt=fmt)
    reader = DataReaderH36M(8, 1, 4, 8, dt_root=str(tmp_path), dt_file="h36m.pkl")
    train_data, test_data, train_labels, test_labels = reader.get_sliced_data()
    assert counts == {"train": len(train_data), "test": len(test_data)}
    for split, data, labels in (("train", train_data, train_labels), ("test", test_data, test_labels)):
        folder = out / split
        if fmt == "pkl":
            files = sorted(folder.iterdir())
            assert [f.name for f in files] == [f"{i:08d}.pkl" for i in range(len(data))]
            clips = [load_pickle(f) for f in files]
            got_in = np.stack([c["data_input"] for c in clips])
            got_lab = np.stack([c["data_label"] for c in clips])
            assert clips[0]["data_input"].dtype == np.float32
        else:
            assert sorted(p.name for p in folder.iterdir()) == ["data_input.npy", "data_label.npy"]
            got_in, got_lab = np.load(folder / "data_input.npy"), np.load(folder / "data_label.npy")
        np.testing.assert_array_equal(got_in, data)
        np.testing.assert_array_equal(got_lab, labels)
    assert [p.name for p in out.parent.iterdir()] == ["H36M-X"]  # no temporary folder left


def test_converter_overwrite_and_missing_source(tmp_path, capsys):
    fake_pickle(tmp_path)
    out = tmp_path / "clips"
    args = ["--dt-root", str(tmp_path), "--dt-file", "h36m.pkl", "--out", str(out), "--clip-len", "8"]
    assert convert_cli.main(args) == 0
    marker = out / "train" / "00000000.pkl"
    marker.write_bytes(b"changed")
    assert convert_cli.main(args) == 2
    assert "already exists" in capsys.readouterr().err and marker.read_bytes() == b"changed"
    assert convert_cli.main(args + ["--force"]) == 0
    assert marker.read_bytes() != b"changed"
    capsys.readouterr()
    assert convert_cli.main(["--dt-root", str(tmp_path), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "h36m_sh_conf_cam_source_final.pkl not found" in err and "MotionBERT" in err
    assert "make_synthetic_h36m.py" in err and err.count("\n") == 1
    assert not (tmp_path / "o").exists()
    data = fake_pickle(tmp_path)
    data["train"]["camera_name"][3] = "bogus"
    fake_pickle(tmp_path, data=data)
    assert convert_cli.main(args[:-2] + ["--out", str(tmp_path / "p")]) == 2
    assert "unknown camera 'bogus'" in capsys.readouterr().err


@pytest.fixture()
def clip_root(tmp_path):
    fake_pickle(tmp_path)
    convert_h36m(str(tmp_path), "h36m.pkl", tmp_path / "root" / "A", clip_len=8, stride=4, fmt="pkl")
    convert_h36m(str(tmp_path), "h36m.pkl", tmp_path / "root" / "B", clip_len=8, stride=4, fmt="npy")
    return tmp_path / "root"


def test_dataset_formats_identical_and_subsets(clip_root):
    args = {"data_root": str(clip_root), "flip": True, "noise": True, "mask_ratio": 0.2, "mask_T_ratio": 0.1}
    a = MotionDataset3D(args, ["A"], "train")
    b = MotionDataset3D(args, ["B"], "train")
    assert len(a) == len(b) > 0
    for i in range(len(a)):
        torch.manual_seed(i)
        xa, ya = a[i]
        torch.manual_seed(i)
        xb, yb = b[i]
        assert xa.shape == (8, 17, 3) and xa.dtype == torch.float32
        assert torch.equal(xa, xb) and torch.equal(ya, yb)
    both = MotionDataset3D({"data_root": str(clip_root)}, ["A", "B"], "test")
    assert len(both) == 2 * len(MotionDataset3D({"data_root": str(clip_root)}, ["A"], "test"))
    x0, _ = both[0]
    xn, _ = both[len(both) // 2]
    assert torch.equal(x0, xn)
    with pytest.raises(IndexError):
        both[len(both)]


def test_dataset_flip_is_involution_and_swaps_sides(clip_root):
    plain = MotionDataset3D({"data_root": str(clip_root)}, ["A"], "train")
    flipping = MotionDataset3D({"data_root": str(clip_root), "flip": True}, ["A"], "train")
    x, y = plain[0]
    seen = set()
    for seed in range(20):
        torch.manual_seed(seed)
        fx, fy = flipping[0]
        if torch.equal(fx, x):
            assert torch.equal(fy, y)
            seen.add("same")
        else:
            assert torch.equal(fx, flip_pose(x)) and torch.equal(fy, flip_pose(y))  # input and label together
            seen.add("flipped")
    assert seen == {"same", "flipped"}
    f = flip_pose(y)
    assert torch.equal(flip_pose(f), y)
    for lj, rj in zip(H36M_LEFT, H36M_RIGHT, strict=True):
        assert torch.equal(f[:, lj, 0], -y[:, rj, 0]) and torch.equal(f[:, rj, 1:], y[:, lj, 1:])


def test_dataset_switches(clip_root):
    root = str(clip_root)
    x, y = MotionDataset3D({"data_root": root}, ["A"], "test")[1]
    gx, gy = MotionDataset3D({"data_root": root, "gt_2d": True}, ["A"], "test")[1]
    assert torch.equal(gx[..., :2], y[..., :2]) and torch.all(gx[..., 2] == 1) and torch.equal(gy, y)
    sx, _ = MotionDataset3D({"data_root": root, "synthetic": True}, ["A"], "train")[1]
    assert torch.equal(sx[..., :2], MotionDataset3D({"data_root": root}, ["A"], "train")[1][1][..., :2])
    nx, _ = MotionDataset3D({"data_root": root, "no_conf": True}, ["A"], "test")[1]
    assert torch.equal(nx[..., :2], x[..., :2]) and torch.all(nx[..., 2] == 1)
    torch.manual_seed(0)
    mx, _ = MotionDataset3D({"data_root": root, "mask_ratio": 0.5}, ["A"], "train")[1]
    plain, _ = MotionDataset3D({"data_root": root}, ["A"], "train")[1]
    zeroed = (mx == 0).all(-1)
    assert 0 < zeroed.float().mean() < 1 and torch.equal(mx[~zeroed], plain[~zeroed])
    torch.manual_seed(0)
    tx, _ = MotionDataset3D({"data_root": root, "mask_T_ratio": 0.5}, ["A"], "train")[1]
    frames = (tx == 0).all(-1).all(-1)
    assert frames.any() and torch.equal(tx[~frames], plain[~frames])
    torch.manual_seed(1)
    ex, _ = MotionDataset3D({"data_root": root, "noise": True}, ["A"], "train")[1]
    assert not torch.equal(ex[..., :2], plain[..., :2]) and (ex[..., :2] - plain[..., :2]).abs().max() < 0.05
    assert torch.all(ex[..., 2] <= plain[..., 2])
    # test split is never random
    t1 = MotionDataset3D({"data_root": root, "flip": True, "mask_ratio": 0.5, "noise": True}, ["A"], "test")[1]
    assert torch.equal(t1[0], x)


def test_dataset_errors(clip_root, tmp_path):
    with pytest.raises(FileNotFoundError, match="nope"):
        MotionDataset3D({"data_root": str(clip_root)}, ["nope"], "train")
    (tmp_path / "empty" / "E" / "train").mkdir(parents=True)
    with pytest.raises(ValueError, match="holds no clips"):
        MotionDataset3D({"data_root": str(tmp_path / "empty")}, ["E"], "train")
    with pytest.raises(ValueError, match="data_split"):
        MotionDataset3D({"data_root": str(clip_root)}, ["A"], "val")


def test_joint_side_by_name():
    from lib.utils.skeleton import H36M_JOINT_NAMES, joint_side

    for j, name in enumerate(H36M_JOINT_NAMES):
        expected = {"l_": "left", "r_": "right"}.get(name[:2], "mid")
        assert joint_side(j) == expected, name
