"""Pose-error metrics against hand computations and an independent Procrustes (scipy's Kabsch)."""

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from lib.utils.metrics import mpjpe, mpjve, n_mpjpe, p_mpjpe, procrustes_align


def _reference_p_mpjpe(pred: np.ndarray, gt: np.ndarray) -> float:
    """One frame: proper rotation by scipy (Kabsch), optimal scale and translation in closed form."""
    p0 = pred - pred.mean(0)
    g0 = gt - gt.mean(0)
    rot, _ = Rotation.align_vectors(g0, p0)  # g0 ~ R p0, det R = +1
    rp = rot.apply(p0)
    scale = (g0 * rp).sum() / (rp * rp).sum()
    return float(np.linalg.norm(scale * rp - g0, axis=-1).mean())


def test_mpjpe_hand_computed():
    gt = np.zeros((2, 2, 3))
    pred = np.array([[[3.0, 4.0, 0.0], [0.0, 0.0, 1.0]],
                     [[0.0, 0.0, 0.0], [0.0, 6.0, 8.0]]])
    np.testing.assert_allclose(mpjpe(pred, gt), [3.0, 5.0])


def test_p_mpjpe_removes_similarity_transform():
    rng = np.random.default_rng(0)
    gt = rng.normal(size=(4, 17, 3)) * 100
    rot = Rotation.random(4, random_state=1).as_matrix()
    pred = 0.7 * np.einsum("fij,fkj->fki", rot, gt) + rng.normal(size=(4, 1, 3)) * 50
    np.testing.assert_allclose(p_mpjpe(pred, gt), 0.0, atol=1e-8)
    assert mpjpe(pred, gt).min() > 10


def test_p_mpjpe_matches_independent_procrustes_on_noisy_poses():
    rng = np.random.default_rng(2)
    gt = rng.normal(size=(5, 17, 3)) * 100
    pred = gt @ Rotation.random(random_state=3).as_matrix().T * 1.3 + rng.normal(size=(5, 17, 3)) * 20
    expected = [_reference_p_mpjpe(pred[i], gt[i]) for i in range(5)]
    np.testing.assert_allclose(p_mpjpe(pred, gt), expected, rtol=1e-6)


def test_p_mpjpe_reflection_fix_gives_proper_rotation():
    # A mirrored pose: the best orthogonal map is a reflection, which P2 must not use.
    rng = np.random.default_rng(4)
    gt = rng.normal(size=(3, 17, 3)) * 100
    pred = gt * np.array([-1.0, 1.0, 1.0])
    err = p_mpjpe(pred, gt)
    expected = [_reference_p_mpjpe(pred[i], gt[i]) for i in range(3)]
    np.testing.assert_allclose(err, expected, rtol=1e-6)
    assert err.min() > 1.0  # a reflection would have made it 0
    aligned = procrustes_align(pred, gt)
    # the map pred -> aligned is a*R with det(R) > 0
    for f in range(3):
        a, *_ = np.linalg.lstsq(np.c_[pred[f], np.ones(17)], aligned[f], rcond=None)
        assert np.linalg.det(a[:3]) > 0


def test_n_mpjpe_removes_scale_only():
    rng = np.random.default_rng(5)
    gt = rng.normal(size=(3, 17, 3))
    np.testing.assert_allclose(n_mpjpe(2.5 * gt, gt), 0.0, atol=1e-12)
    shifted = gt + 1.0
    assert n_mpjpe(shifted, gt).min() > 0.1


def test_mpjve_is_error_of_frame_differences():
    gt = np.zeros((3, 1, 3))
    pred = np.array([[[0.0, 0, 0]], [[1.0, 0, 0]], [[1.0, 2.0, 0]]])
    np.testing.assert_allclose(mpjve(pred, gt), [1.0, 2.0])
    assert mpjve(pred[:1], gt[:1]).shape == (0,)


def test_shape_mismatch_is_an_error():
    with pytest.raises(ValueError, match="same shape"):
        mpjpe(np.zeros((1, 17, 3)), np.zeros((1, 16, 3)))
