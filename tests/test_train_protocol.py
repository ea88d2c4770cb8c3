"""The Human3.6M evaluation protocol on hand-made data with hand-computed P1/P2/MPJVE."""

import numpy as np
import pytest

from lib.data.datareader_h36m import DataReaderH36M
from lib.data.eval_metadata import EvalMetadata
from lib.engine.evaluate import SKIPPED_SOURCES, evaluate_h36m, format_table, protocol_errors
from tests._train_data import write_tiny_h36m

# A pose with the root at 0 and every other joint at distance 1: a root-relative pose scaled by k has
# P1 = |k - 1| * U and P2 = 0.
_dirs = np.random.default_rng(0).normal(size=(17, 3))
G = _dirs / np.linalg.norm(_dirs, axis=1, keepdims=True)
G[0] = 0
U = 16 / 17


def _hand_made():
    """Walking: frames 0-5, two overlapping clips; Eating: frames 6-9 (factor 2) and a skipped video."""
    sources = (["s_01_act_15_subact_01_ca_01"] * 6 + ["s_11_act_03_subact_01_ca_02"] * 4
               + ["s_09_act_05_subact_02_ca_03"] * 4)
    actions = ["Walking"] * 6 + ["Eating"] * 10
    factors = np.array([1.0] * 6 + [2.0] * 4 + [1.0] * 4)
    offset = np.arange(14)[:, None, None] * np.array([5.0, -3.0, 100.0])  # root positions: removed
    gts = G[None] + offset
    split = [range(0, 4), range(2, 6), range(6, 10), range(10, 14)]
    k = [[2, 2, 2, 2], [4, 4, 4, 4], [1, 1.5, 1, 1.5], [100, 100, 100, 100]]
    preds = np.stack([np.asarray(kk)[:, None, None] * G[None] + 7.0 for kk in k])  # + any translation
    return preds, split, actions, factors, gts, sources


def test_protocol_hand_computed():
    preds, split, actions, factors, gts, sources = _hand_made()
    res = protocol_errors(preds, split, actions, factors, gts, sources)
    # Walking: frames 0,1 -> U; frames 2,3 covered twice -> (U + 3U) / 2; frames 4,5 -> 3U: mean 2U
    # Eating: factor 2 and k = 1, 1.5, 1, 1.5 -> 2G, 3G, 2G, 3G: errors U, 2U, U, 2U: mean 1.5U
    assert res.per_action["Walking"]["p1"] == pytest.approx(2 * U)
    assert res.per_action["Eating"]["p1"] == pytest.approx(1.5 * U)
    assert res.p1 == pytest.approx((2 * U + 1.5 * U) / 2)  # mean over actions, not over frames
    assert res.p2 == pytest.approx(0.0, abs=1e-9)
    # velocity: constant within the Walking clips; +-G jumps in Eating (3 transitions of U each)
    assert res.per_action["Walking"]["mpjve"] == pytest.approx(0.0, abs=1e-12)
    assert res.per_action["Eating"]["mpjve"] == pytest.approx(U)
    assert res.mpjve == pytest.approx(U / 2)
    assert res.per_action["Eating"]["frames"] == 4  # the skipped video's frames are not counted
    assert res.skipped_clips == 1 and res.num_clips == 3 and res.num_frames == 10


def test_per_joint_and_per_axis_errors_hand_computed():
    # a depth error of 30 mm on joint 3 and a 12 mm x error on joint 5 in every frame, nothing else
    F, T = 12, 4
    gts = np.tile(G[None] * 100.0, (F, 1, 1))
    err = np.zeros((17, 3))
    err[3, 2], err[5, 0] = 30.0, -12.0
    split = [range(k, k + T) for k in range(0, F, T)]
    preds = np.stack([gts[list(ids)] + err for ids in split])
    res = protocol_errors(preds, split, ["Walking"] * F, np.ones(F), gts, ["s_01_act_02_subact_01_ca_01"] * F)
    expected_joint = np.zeros(17)
    expected_joint[3], expected_joint[5] = 30.0, 12.0
    np.testing.assert_allclose(res.per_joint, expected_joint, atol=1e-9)
    assert res.per_axis == pytest.approx({"x": 12.0 / 17, "y": 0.0, "z": 30.0 / 17})
    assert res.p1 == pytest.approx(42.0 / 17)
    assert "Mean |error| per axis over the frames (depth is z): x 0.7, y 0.0, z 1.8 mm" in format_table(res)


def test_protocol_skips_exactly_the_three_sources():
    preds, split, actions, factors, gts, sources = _hand_made()
    with_skip = protocol_errors(preds, split, actions, factors, gts, sources)
    no_skip = protocol_errors(preds, split, actions, factors, gts, sources, skipped_sources=())
    # without the skip, Eating gets 4 frames with error 99U
    assert no_skip.per_action["Eating"]["p1"] == pytest.approx((1.5 * U * 4 + 99 * U * 4) / 8)
    assert with_skip.p1 < no_skip.p1
    assert SKIPPED_SOURCES == ("s_09_act_05_subact_02", "s_09_act_10_subact_02", "s_09_act_13_subact_01")


def test_p2_hand_computed_nonzero():
    # One clip of one frame: the prediction is G with joint 1 pushed by d along its own direction.
    # Procrustes cannot undo a single-joint change; P2 is the metric's value (tested against scipy).
    from lib.utils.metrics import p_mpjpe

    pred = G.copy()
    pred[1] *= 3.0
    res = protocol_errors(pred[None, None], [[0]], ["A"], np.ones(1), G[None], ["s_01_act_02_subact_01_ca_01"])
    assert res.p1 == pytest.approx(2.0 / 17)
    assert res.p2 == pytest.approx(p_mpjpe(pred[None], G[None])[0])
    assert res.p2 > 0.01  # least squares spreads the single-joint error, it does not vanish


def test_repeated_frames_in_one_clip_count_once_as_motionbert():
    # A 2-frame video resampled to a 4-frame clip [0, 0, 1, 1]: each frame keeps its last occurrence.
    k = np.array([2.0, 3.0, 2.0, 5.0])
    pred = (k[:, None, None] * G[None])[None]
    res = protocol_errors(pred, [np.array([0, 0, 1, 1])], ["A", "A"], np.ones(2), np.stack([G, G]),
                          ["s_01_act_02_subact_01_ca_01"] * 2)
    assert res.p1 == pytest.approx((2 * U + 4 * U) / 2)


def test_mismatched_clip_count_is_an_error():
    preds, split, actions, factors, gts, sources = _hand_made()
    with pytest.raises(ValueError, match="predicted clips"):
        protocol_errors(preds[:2], split, actions, factors, gts, sources)


def test_evaluate_h36m_through_the_reader(tmp_path):
    keys = write_tiny_h36m(tmp_path)
    reader = DataReaderH36M(n_frames=8, sample_stride=1, data_stride_train=4, data_stride_test=8,
                            dt_root=keys["dt_root"], dt_file=keys["dt_file"])
    _, _, _, labels = reader.get_sliced_data()
    meta = EvalMetadata.from_reader(reader)
    exact = evaluate_h36m(labels, meta)
    assert exact.p1 == pytest.approx(0.0, abs=1e-3) and exact.p2 == pytest.approx(0.0, abs=1e-3)
    assert set(exact.per_action) == {"Directions", "Discussion", "Eating"}

    # root-relative labels scaled by 1.1: P1 = 0.1 * mean root-relative joint distance in mm, per action
    rel = labels - labels[:, :, :1]
    res = evaluate_h36m(labels[:, :, :1] + 1.1 * rel, meta)
    test = reader.dt_dataset["test"]
    gt = test["joints_2.5d_image"] - test["joints_2.5d_image"][:, :1]
    dist = np.linalg.norm(gt, axis=-1).mean(axis=1)
    src = np.array([s[:-6] for s in test["source"]])
    _, split = reader.get_split_id()
    covered = np.zeros(len(src), bool)
    for ids in split:
        covered[np.asarray(ids)] = True
    keep = covered & ~np.isin(src, SKIPPED_SOURCES)
    expected = {a: 0.1 * dist[keep & (test["action"] == a)].mean() for a in ("Directions", "Discussion", "Eating")}
    for action, value in expected.items():
        assert res.per_action[action]["p1"] == pytest.approx(value, rel=1e-4)
    assert res.p1 == pytest.approx(np.mean(list(expected.values())), rel=1e-4)
    assert res.p2 == pytest.approx(0.0, abs=1e-3)
    text = format_table(res)
    assert f"Protocol #1 Error (MPJPE): {res.p1} mm" in text
    assert f"Protocol #2 Error (P-MPJPE): {res.p2} mm" in text


def test_eval_metadata_follows_sample_stride(tmp_path):
    # the clips index every sample_stride-th frame: so do the evaluation's per-frame arrays
    keys = write_tiny_h36m(tmp_path)
    reader = DataReaderH36M(n_frames=4, sample_stride=2, data_stride_train=2, data_stride_test=4,
                            dt_root=keys["dt_root"], dt_file=keys["dt_file"])
    meta = EvalMetadata.from_reader(reader)
    test = reader.dt_dataset["test"]
    np.testing.assert_array_equal(meta.gts, test["joints_2.5d_image"][::2])
    np.testing.assert_array_equal(meta.sources, test["source"][::2])
    assert (meta.num_clips, meta.clip_len) == (len(reader.get_split_id()[1]), 4)
    _, _, _, labels = reader.get_sliced_data()
    exact = evaluate_h36m(labels, meta)
    assert exact.p1 == pytest.approx(0.0, abs=1e-3) and exact.num_clips > 0
    with pytest.raises(ValueError, match=f"{len(labels) - 1} predicted clips, but the test split of .*tiny.pkl"):
        meta.denormalize(labels[:-1])
