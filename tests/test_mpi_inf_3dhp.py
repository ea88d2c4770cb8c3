"""MPI-INF-3DHP: the protocol's metrics against hand computations, the three averaging conventions, the
reader on files in P-STMO's exact layout, windows and padding, the 3DHP skeleton and flip, bad input."""

from __future__ import annotations

import pickle
import zipfile

import numpy as np
import pytest
import torch

from lib.data.mpi_inf_3dhp import (
    LEGACY_FRAME_COUNTS,
    TEST_SEQUENCES,
    Mpi3dhpFormatError,
    Sequence3DHP,
    centred_windows,
    depth_scale_from_ground_truth,
    normalized_target,
    read_test_file,
    read_train_file,
    training_windows,
)
from lib.data.sources.synthetic_3dhp import Synthetic3DHPConfig, make_synthetic_3dhp
from lib.engine.evaluate import predict_batch
from lib.engine.evaluate_3dhp import evaluate_3dhp, frame_metrics, load_predictions
from lib.model import build_model
from lib.utils.metrics import AUC_THRESHOLDS_MM, auc, pck
from lib.utils.safe_pickle import UnsafePickleError
from lib.utils.skeleton import (
    H36M_PARENTS,
    H36M_SKELETON,
    MPI_INF_3DHP_PARENTS,
    MPI_INF_3DHP_SKELETON,
    flip_pose,
    h36m_to_mpi_inf_3dhp,
    mpi_inf_3dhp_to_h36m,
)
from lib.utils.sliding_windows import window_centre
from tools import eval_3dhp


def _pose(rng: np.random.Generator, frames: int) -> np.ndarray:
    return (rng.normal(size=(frames, 17, 3)) * 200 + [0, 0, 4000]).astype(np.float32)


def _sequence(name: str, pose_3d: np.ndarray, valid=None) -> Sequence3DHP:
    valid = np.ones(len(pose_3d), bool) if valid is None else np.asarray(valid, bool)
    return Sequence3DHP(name, np.zeros(pose_3d.shape[:2] + (2,), np.float32), pose_3d, valid, (2048, 2048))


def _offset_joints(gt: np.ndarray, joints, distance: float) -> np.ndarray:
    pred = gt.copy()
    pred[:, joints, 0] += distance
    return pred


# --------------------------------------------------------------------------------------------- metrics


def test_pck_is_strictly_below_150_mm():
    gt = np.zeros((2, 4, 3))
    pred = gt.copy()
    pred[0, :, 0] = [150.0, 149.999, 0.0, 151.0]  # 2 of 4 under 150
    pred[1, :, 1] = [150.0, 150.0, 150.0, 150.0]  # none
    np.testing.assert_allclose(pck(pred, gt), [50.0, 0.0])


def test_auc_is_the_mean_pck_over_31_thresholds():
    assert AUC_THRESHOLDS_MM == tuple(range(0, 151, 5)) and len(AUC_THRESHOLDS_MM) == 31
    gt = np.zeros((3, 2, 3))
    pred = gt.copy()
    pred[0, :, 2] = 72.0  # under the 16 thresholds 75..150
    pred[1, :, 2] = 75.0  # strict: under the 15 thresholds 80..150
    pred[2, :, 2] = [0.0, 200.0]  # joint 0 under 30 thresholds (not 0), joint 1 under none
    np.testing.assert_allclose(auc(pred, gt), [16 / 31 * 100, 15 / 31 * 100, 30 / 62 * 100])


def test_frame_metrics_remove_the_pelvis_and_score_joints_0_to_13():
    rng = np.random.default_rng(0)
    gt = _pose(rng, 3)
    shifted = gt + np.array([500.0, -300.0, 1000.0])  # absolute offset: removed with the pelvis
    m = frame_metrics(shifted, gt)
    np.testing.assert_allclose(m["mpjpe"], 0.0, atol=1e-9)
    np.testing.assert_allclose(m["pck"], 100.0)
    # error only on spine (15) and head (16): no effect on PCK / AUC, MPJPE = 2 * 200 / 17
    pred = _offset_joints(gt, [15, 16], 200.0)
    m = frame_metrics(pred, gt)
    np.testing.assert_allclose(m["pck"], 100.0)
    np.testing.assert_allclose(m["auc"], 100.0 * 30 / 31)  # threshold 0 counts nothing (strict <)
    np.testing.assert_allclose(m["mpjpe"], 400.0 / 17)
    # the pelvis itself off by 170 mm: every other joint is 170 mm off after the subtraction
    pred = _offset_joints(gt, [14], 170.0)
    m = frame_metrics(pred, gt)
    np.testing.assert_allclose(m["mpjpe"], 170.0 * 16 / 17)
    np.testing.assert_allclose(m["pck"], 0.0)
    # 7 of the 14 PCK joints 160 mm off
    pred = _offset_joints(gt, list(range(7)), 160.0)
    np.testing.assert_allclose(frame_metrics(pred, gt)["pck"], 50.0)


def _six_sequences(valid_counts, errors_mm, invalid=2):
    """Sequences whose valid frames all have every joint ``error`` mm off (x), invalid frames 1 km off."""
    rng = np.random.default_rng(1)
    gt, preds = {}, {}
    for name, count, err in zip(TEST_SEQUENCES, valid_counts, errors_mm, strict=True):
        pose = _pose(rng, count + invalid)
        valid = np.r_[np.zeros(invalid, bool), np.ones(count, bool)]
        pred = pose.copy()
        pred[:, :14, 0] += err
        pred[:, 15:, 0] += err
        pred[~valid] += rng.normal(size=(invalid, 17, 3)) * 1e6
        gt[name] = _sequence(name, pose, valid)
        preds[name] = pred
    return gt, preds


def test_three_conventions_against_hand_computation():
    counts = [10, 20, 30, 40, 50, 60]
    errors = [100.0, 160.0, 100.0, 160.0, 100.0, 160.0]  # PCK 100 or 0; MPJPE 16/17 of the error
    gt, preds = _six_sequences(counts, errors)
    result = evaluate_3dhp(gt, preds)
    seq_pck = np.array([100.0, 0, 100, 0, 100, 0])
    seq_mpjpe = np.array(errors) * 16 / 17
    for i, name in enumerate(TEST_SEQUENCES):
        assert result.per_sequence[name]["frames"] == counts[i]
        assert result.per_sequence[name]["pck"] == pytest.approx(seq_pck[i])
        assert result.per_sequence[name]["mpjpe"] == pytest.approx(seq_mpjpe[i])
    w_pool = np.array(counts, float)
    w_legacy = np.array([603, 540, 505, 553, 276, 452], float)
    assert result.pooled["frames"] == 210
    assert result.pooled["pck"] == pytest.approx((w_pool * seq_pck).sum() / 210)  # 90/210
    assert result.pooled["mpjpe"] == pytest.approx((w_pool * seq_mpjpe).sum() / 210)
    assert result.sequence_mean["pck"] == pytest.approx(50.0)
    assert result.sequence_mean["mpjpe"] == pytest.approx(seq_mpjpe.mean())
    assert result.legacy_weighted["pck"] == pytest.approx((w_legacy * seq_pck).sum() / w_legacy.sum())
    assert result.legacy_weighted["pck"] == pytest.approx(100 * (603 + 505 + 276) / 2929)
    assert result.legacy_weighted["auc"] == pytest.approx(
        (w_legacy * [result.per_sequence[s]["auc"] for s in TEST_SEQUENCES]).sum() / 2929)
    assert list(LEGACY_FRAME_COUNTS.values()) == [603, 540, 505, 553, 276, 452]
    assert set(result.to_json()) == {"pooled", "sequence_mean", "legacy_weighted", "per_sequence"}


def test_invalid_frames_are_ignored_and_legacy_needs_all_six():
    gt, preds = _six_sequences([5] * 6, [0.0] * 6)
    for name in TEST_SEQUENCES:
        preds[name][~gt[name].valid] = np.nan
    result = evaluate_3dhp({k: gt[k] for k in TEST_SEQUENCES[:2]}, preds)
    assert result.pooled["mpjpe"] == pytest.approx(0.0, abs=1e-9) and result.pooled["pck"] == 100.0
    assert result.legacy_weighted is None


# ----------------------------------------------------------------------------------------- the files


def _write_npz(path, data, compressed=True):
    (np.savez_compressed if compressed else np.savez)(path, data=data)
    return str(path)


def _test_dict(rng, frames=(12, 9)):
    out = {}
    for i, name in enumerate(TEST_SEQUENCES):
        n = frames[i % 2]
        out[name] = {"data_2d": rng.uniform(0, 2000, (n, 17, 2)), "data_3d": _pose(rng, n).astype(np.float64),
                     "valid": np.r_[np.zeros(2), np.ones(n - 2)]}  # float 0/1, as h5py reads it
    return out


def test_reader_on_the_exact_test_layout(tmp_path):
    rng = np.random.default_rng(2)
    data = _test_dict(rng)
    path = _write_npz(tmp_path / "data_test_3dhp.npz", data, compressed=False)
    seqs = read_test_file(path)
    assert list(seqs) == list(TEST_SEQUENCES)
    assert seqs["TS5"].image_size == (1920, 1080) and seqs["TS1"].image_size == (2048, 2048)
    np.testing.assert_allclose(seqs["TS3"].pose_3d, data["TS3"]["data_3d"], rtol=1e-6)
    np.testing.assert_array_equal(seqs["TS2"].valid, data["TS2"]["valid"].astype(bool))
    assert seqs["TS2"].pose_2d.dtype == np.float32


def test_reader_on_the_exact_train_layout(tmp_path):
    rng = np.random.default_rng(3)
    cams = {c: {"data_2d": rng.uniform(0, 2048, (7, 17, 2)), "data_3d": _pose(rng, 7)}
            for c in ("0", "1", "2", "4", "5", "6", "7", "8")}
    data = {"S1 Seq1": [cams, 25], "S1 Seq2": [cams, 50]}
    seqs = read_train_file(_write_npz(tmp_path / "data_train_3dhp.npz", data))
    assert [s.name for s in seqs][:2] == ["S1 Seq1 cam0", "S1 Seq1 cam1"] and len(seqs) == 16
    assert seqs[0].fps == 25 and seqs[8].fps == 50 and seqs[0].valid.all()
    with pytest.raises(Mpi3dhpFormatError, match="looks like the training file"):
        read_test_file(tmp_path / "data_train_3dhp.npz")


def test_reader_refuses_code_in_the_pickle(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    path = tmp_path / "evil.npz"
    with zipfile.ZipFile(path, "w") as zf, zf.open("data.npy", "w") as fh:
        np.lib.format.write_array_header_1_0(fh, {"descr": "|O", "fortran_order": False, "shape": ()})
        pickle.dump(np.array({"TS1": Evil()}, dtype=object), fh, protocol=3)
    with pytest.raises(UnsafePickleError, match="builtins.print"):
        read_test_file(path)


@pytest.mark.parametrize("mutate, message", [
    (lambda d: d["TS4"].pop("valid"), "'data/TS4' has no 'valid'"),
    (lambda d: d["TS2"].update(valid=np.ones(3)), "'data/TS2/valid' must be"),
    (lambda d: d["TS1"].update(data_3d=np.zeros((12, 16, 3))), "'data/TS1/data_3d' must be an array"),
    (lambda d: d["TS6"]["data_3d"].__setitem__((5, 3, 0), np.nan), "'data/TS6/data_3d' has NaN"),
    (lambda d: d.update(TS7=d["TS1"]), "has sequence 'TS7'"),
    (lambda d: d["TS3"]["valid"].__setitem__(slice(None), 0), "'data/TS3/valid' marks no frame valid"),
])
def test_reader_names_file_and_key_of_bad_input(tmp_path, mutate, message):
    data = _test_dict(np.random.default_rng(4))
    mutate(data)
    path = _write_npz(tmp_path / "t.npz", data)
    with pytest.raises(Mpi3dhpFormatError, match=message) as info:
        read_test_file(path)
    assert str(tmp_path / "t.npz") in str(info.value)


def test_reader_rejects_a_plain_array_file(tmp_path):
    path = tmp_path / "plain.npz"
    np.savez(path, data=np.zeros((3, 17, 3)))
    with pytest.raises(Mpi3dhpFormatError, match="float64 array of shape \\(3, 17, 3\\), expected a pickled dict"):
        read_test_file(path)


# ------------------------------------------------------------------------------------------- windows


def test_centred_windows_edge_pad_at_both_ends():
    w = centred_windows(5, 5)
    assert window_centre(5) == 2 and w.shape == (5, 5)
    np.testing.assert_array_equal(w[0], [0, 0, 0, 1, 2])
    np.testing.assert_array_equal(w[2], [0, 1, 2, 3, 4])
    np.testing.assert_array_equal(w[4], [2, 3, 4, 4, 4])
    np.testing.assert_array_equal(w[:, window_centre(5)], np.arange(5))  # every frame is a centre once
    long = centred_windows(10, 81, centres=[0, 9])
    assert (long[0, :40] == 0).all() and (long[0, 40:50] == np.arange(10)).all() and (long[0, 50:] == 9).all()
    assert (long[1, :31] == 0).all() and long[1, 40] == 9 and (long[1, 40:] == 9).all()
    assert window_centre(4) == 1


def test_training_windows_cover_every_frame():
    np.testing.assert_array_equal(training_windows(10, 4, 3)[:, 0], [0, 3, 6])
    np.testing.assert_array_equal(training_windows(11, 4, 3)[:, 0], [0, 3, 6, 7])
    np.testing.assert_array_equal(training_windows(3, 5, 2), [[0, 1, 2, 2, 2]])


# ------------------------------------------------------------------------------------------ skeleton


def test_3dhp_skeleton_matches_h36m_through_the_conversion():
    x = np.arange(17 * 3, dtype=float).reshape(17, 3)
    np.testing.assert_array_equal(h36m_to_mpi_inf_3dhp(mpi_inf_3dhp_to_h36m(x)), x)
    np.testing.assert_array_equal(mpi_inf_3dhp_to_h36m(x)[:, 0], x[[14, 8, 9, 10, 11, 12, 13, 15, 1, 16, 0, 5, 6,
                                                                    7, 2, 3, 4], 0])
    assert MPI_INF_3DHP_PARENTS[0] == 16 and MPI_INF_3DHP_PARENTS[16] == 1 and MPI_INF_3DHP_PARENTS[14] == -1
    bones_h36m = {frozenset((mpi_inf_3dhp_to_h36m(np.arange(17)[:, None])[c, 0],
                             mpi_inf_3dhp_to_h36m(np.arange(17)[:, None])[p, 0]))
                  for c, p in enumerate(H36M_PARENTS) if p >= 0}
    bones_3dhp = {frozenset((c, p)) for c, p in enumerate(MPI_INF_3DHP_PARENTS) if p >= 0}
    assert bones_h36m == bones_3dhp
    assert MPI_INF_3DHP_SKELETON.root == 14 and H36M_SKELETON.root == 0


def test_flip_with_3dhp_pairs_commutes_with_the_conversion():
    rng = np.random.default_rng(5)
    pose = rng.normal(size=(4, 17, 3))
    flipped = flip_pose(pose, MPI_INF_3DHP_SKELETON.left, MPI_INF_3DHP_SKELETON.right)
    np.testing.assert_array_equal(mpi_inf_3dhp_to_h36m(flipped), flip_pose(mpi_inf_3dhp_to_h36m(pose)))
    np.testing.assert_array_equal(flipped[:, 2, 1:], pose[:, 5, 1:])  # right shoulder <- left shoulder
    np.testing.assert_array_equal(flipped[:, [0, 1, 14, 15, 16], 0], -pose[:, [0, 1, 14, 15, 16], 0])


def test_predict_batch_flips_with_the_given_skeleton():
    weights = torch.arange(1.0, 18.0).view(1, 1, 17, 1)  # a model that treats every joint differently
    x = torch.randn(2, 3, 17, 3)
    pred = predict_batch(lambda inp: inp * weights, x, flip=True, rootrel=True, skeleton=MPI_INF_3DHP_SKELETON)
    perm = list(range(17))
    for a, b in zip(MPI_INF_3DHP_SKELETON.left, MPI_INF_3DHP_SKELETON.right, strict=True):
        perm[a], perm[b] = b, a
    expected = x * (weights + weights[:, :, perm]) / 2
    expected[:, :, 14] = 0
    torch.testing.assert_close(pred, expected)


def test_sct_line_pose_graph_takes_the_3dhp_parents(tiny_sct_config):
    model = build_model(tiny_sct_config, parents=MPI_INF_3DHP_PARENTS)
    assert model.line_pose_graph.parents == MPI_INF_3DHP_PARENTS
    assert build_model(tiny_sct_config).line_pose_graph.parents == H36M_PARENTS


# ----------------------------------------------------------------------------- units and conversion


def test_target_units_and_the_cross_dataset_scale():
    _, test = make_synthetic_3dhp(Synthetic3DHPConfig(train_subjects=1, sequences_per_subject=1,
                                                      frames=(20, 20), test_frames=(30, 30)))
    for name in ("TS1", "TS5"):
        raw = test[name]
        seq = _sequence(name, raw["data_3d"], raw["valid"])
        seq.pose_2d, seq.image_size = raw["data_2d"], (1920, 1080) if name == "TS5" else (2048, 2048)
        rel = raw["data_3d"] - raw["data_3d"][:, 14:15]
        np.testing.assert_allclose(normalized_target(seq) * seq.image_size[0] / 2, rel, atol=1e-3)
        # mm per pixel at the pelvis' depth ~ depth / focal length (within the perspective of the body)
        focal = 1684.0 if name == "TS5" else 1499.0
        np.testing.assert_allclose(depth_scale_from_ground_truth(seq), raw["data_3d"][:, 14, 2] / focal, rtol=0.05)
        assert ((raw["data_2d"] >= 0) & (raw["data_2d"] <= seq.image_size)).all()  # the body is in view
        assert not raw["valid"][0] and raw["valid"].mean() > 0.6


# ------------------------------------------------------------------------------- the evaluator CLI


@pytest.fixture
def gt_file(tmp_path):
    data = _test_dict(np.random.default_rng(6))
    return _write_npz(tmp_path / "data_test_3dhp.npz", data), data


def test_eval_cli_prints_table_and_writes_json(tmp_path, gt_file, capsys):
    path, data = gt_file
    preds = {k: v["data_3d"] + 10.0 for k, v in data.items()}
    preds["TS1"][:, 3, 0] += 50.0  # one joint 50 mm off in one sequence
    np.savez(tmp_path / "pred.npz", **preds)
    out_json = tmp_path / "out.json"
    assert eval_3dhp.main(["--gt", path, "--pred", str(tmp_path / "pred.npz"), "--json", str(out_json)]) == 0
    text = capsys.readouterr().out
    assert "legacy_weighted" in text and "TS6" in text
    import json

    result = json.loads(out_json.read_text())
    assert set(result) == {"pooled", "sequence_mean", "legacy_weighted", "per_sequence"}
    assert set(result["per_sequence"]["TS1"]) == {"pck", "auc", "mpjpe", "frames"}
    assert result["per_sequence"]["TS1"]["mpjpe"] == pytest.approx(50.0 / 17)
    assert result["per_sequence"]["TS2"]["mpjpe"] == pytest.approx(0.0, abs=1e-4)
    assert result["pooled"]["frames"] == 3 * 10 + 3 * 7


@pytest.mark.parametrize("mutate, message", [
    (lambda p: p.pop("TS3"), "no array 'TS3'"),
    (lambda p: p.update(TS2=p["TS2"][:, :16]), "'TS2' is float64 \\(9, 16, 3\\), expected \\(9, 17, 3\\)"),
    (lambda p: p.update(TS2=p["TS2"][:-1]), "'TS2' is float64 \\(8, 17, 3\\)"),
    (lambda p: p["TS5"].__setitem__((4, 0, 0), np.nan), "'TS5' has NaN or infinite values \\(frame 4\\)"),
    (lambda p: p.update(TS9=p["TS1"]), "'TS9' is not a test sequence"),
])
def test_eval_cli_bad_predictions_exit_2_with_one_line(tmp_path, gt_file, capsys, mutate, message):
    path, data = gt_file
    preds = {k: v["data_3d"].copy() for k, v in data.items()}
    mutate(preds)
    np.savez(tmp_path / "pred.npz", **preds)
    assert eval_3dhp.main(["--gt", path, "--pred", str(tmp_path / "pred.npz")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(tmp_path / "pred.npz") in err
    assert pytest.importorskip("re").search(message, err), err


def test_eval_cli_nan_in_an_invalid_frame_is_ignored(tmp_path, gt_file):
    path, data = gt_file
    preds = {k: v["data_3d"].copy() for k, v in data.items()}
    preds["TS5"][0] = np.nan  # frame 0 is invalid
    np.savez(tmp_path / "pred.npz", **preds)
    assert eval_3dhp.main(["--gt", path, "--pred", str(tmp_path / "pred.npz")]) == 0


def test_eval_cli_bad_ground_truth_exit_2(tmp_path, gt_file, capsys):
    path, data = gt_file
    np.savez(tmp_path / "pred.npz", **{k: v["data_3d"] for k, v in data.items()})
    del data["TS1"]["valid"]
    bad = _write_npz(tmp_path / "bad_gt.npz", data)
    assert eval_3dhp.main(["--gt", bad, "--pred", str(tmp_path / "pred.npz")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "bad_gt.npz: 'data/TS1' has no 'valid'" in err
    # the predictions given as ground truth: another layout
    assert eval_3dhp.main(["--gt", str(tmp_path / "pred.npz"), "--pred", str(tmp_path / "pred.npz")]) == 2
    assert "no array 'data'" in capsys.readouterr().err


def test_load_predictions_reads_what_the_evaluator_expects(tmp_path, gt_file):
    path, data = gt_file
    gt = read_test_file(path)
    np.savez(tmp_path / "p.npz", **{k: v["data_3d"].astype(np.float32) for k, v in data.items()})
    preds = load_predictions(tmp_path / "p.npz", gt)
    assert list(preds) == list(TEST_SEQUENCES) and preds["TS1"].shape == (12, 17, 3)


class _Keep2D(torch.nn.Module):
    """A Human3.6M model's root-relative 2.5D output whose x, y are perfect: the input's x, y relative to
    the pelvis (joint 0 in Human3.6M's order), depth 0."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        xy = x[..., :2] - x[..., :1, :2]
        return torch.cat([xy, torch.zeros_like(x[..., :1])], dim=-1)


def test_cross_dataset_path_recovers_x_y_in_millimetres(tmp_path):
    from easydict import EasyDict

    from lib.engine.distributed import DistEnv
    from lib.engine.evaluate_3dhp import load_test_data, predict_3dhp

    _, test = make_synthetic_3dhp(Synthetic3DHPConfig(train_subjects=1, sequences_per_subject=1,
                                                      frames=(20, 20), test_frames=(25, 30)))
    _write_npz(tmp_path / "data_test_3dhp.npz", test)
    data = load_test_data(str(tmp_path), 5, H36M_SKELETON)
    env = DistEnv(rank=0, world_size=1, local_rank=0, device=torch.device("cpu"))
    cfg = EasyDict(flip=True, rootrel=True, gt_2d=False)
    preds = predict_3dhp(_Keep2D(), data, cfg, env, batch_size=16, progress=False)
    for name in ("TS2", "TS6"):
        gt = test[name]["data_3d"] - test[name]["data_3d"][:, 14:15]
        assert preds[name].shape == gt.shape
        uv = test[name]["data_2d"] - test[name]["data_2d"][:, 14:15]
        mm_per_px = depth_scale_from_ground_truth(data.sequences[name])
        np.testing.assert_allclose(preds[name][..., :2], uv * mm_per_px[:, None, None], atol=0.05)
        np.testing.assert_allclose(preds[name][..., 2], 0.0, atol=1e-4)
        xy_error = np.linalg.norm(preds[name][..., :2] - gt[..., :2], axis=-1).mean()
        assert xy_error < 40.0, xy_error  # perspective only: the joints are not all at the pelvis' depth


def test_reader_names_the_file_of_a_damaged_pickle(tmp_path):
    path = tmp_path / "damaged.npz"
    with zipfile.ZipFile(path, "w") as zf, zf.open("data.npy", "w") as fh:
        np.lib.format.write_array_header_1_0(fh, {"descr": "|O", "fortran_order": False, "shape": ()})
        fh.write(b"\x80\x03not a pickle")
    with pytest.raises(Mpi3dhpFormatError, match="damaged.npz: 'data' cannot be unpickled"):
        read_test_file(path)
