"""Training losses against direct formulas written with loops."""

import math

import numpy as np
import torch

from lib.utils.losses import (
    LIMBS,
    limb_angles,
    limb_lengths,
    loss_angle,
    loss_angle_velocity,
    loss_limb_gt,
    loss_limb_var,
    loss_mpjpe,
    loss_n_mpjpe,
    loss_velocity,
)


def _poses(seed: int, shape=(2, 5, 17, 3)) -> torch.Tensor:
    return torch.from_numpy(np.random.default_rng(seed).normal(size=shape)).double()


def test_mpjpe_direct():
    pred, gt = _poses(0), _poses(1)
    total, n = 0.0, 0
    for b in range(2):
        for t in range(5):
            for j in range(17):
                total += math.dist(pred[b, t, j].tolist(), gt[b, t, j].tolist())
                n += 1
    assert math.isclose(loss_mpjpe(pred, gt).item(), total / n, rel_tol=1e-12)


def test_n_mpjpe_direct_formula():
    pred, gt = _poses(2), _poses(3)
    total, n = 0.0, 0
    for b in range(2):
        for t in range(5):
            p, g = pred[b, t].numpy(), gt[b, t].numpy()
            s = (p * g).sum() / (p * p).sum()  # least-squares scale of this frame
            total += np.linalg.norm(s * p - g, axis=-1).sum()
            n += 17
    assert math.isclose(loss_n_mpjpe(pred, gt).item(), total / n, rel_tol=1e-10)
    # scale invariance: a scaled copy of the target costs nothing
    assert loss_n_mpjpe(3.0 * gt, gt).item() < 1e-12


def test_velocity_direct_formula():
    pred, gt = _poses(4), _poses(5)
    total, n = 0.0, 0
    for b in range(2):
        for t in range(1, 5):
            for j in range(17):
                vp = pred[b, t, j] - pred[b, t - 1, j]
                vg = gt[b, t, j] - gt[b, t - 1, j]
                total += torch.linalg.norm(vp - vg).item()
                n += 1
    assert math.isclose(loss_velocity(pred, gt).item(), total / n, rel_tol=1e-12)
    # a constant offset has no velocity error
    assert loss_velocity(gt + 7.0, gt).item() < 1e-12
    assert loss_velocity(pred[:, :1], gt[:, :1]).item() == 0.0


def test_limb_terms():
    pred, gt = _poses(6), _poses(7)
    lens = limb_lengths(pred)
    assert lens.shape == (2, 5, 16)
    c, p = LIMBS[4]
    assert math.isclose(lens[1, 2, 4].item(), torch.linalg.norm(pred[1, 2, c] - pred[1, 2, p]).item())
    assert math.isclose(loss_limb_var(pred).item(), np.var(lens.numpy(), axis=1, ddof=1).mean(), rel_tol=1e-10)
    assert math.isclose(loss_limb_gt(pred, gt).item(),
                        np.abs(lens.numpy() - limb_lengths(gt).numpy()).mean(), rel_tol=1e-10)
    # a rigidly moving skeleton has constant limbs
    moving = gt[:, :1].repeat(1, 5, 1, 1) + torch.arange(5.0).double().view(1, 5, 1, 1)
    assert loss_limb_var(moving).item() < 1e-20


def test_angles_hand_made():
    # pelvis at 0, r_hip along x, l_hip along y: the angle between limbs 0 and 3 is 90 degrees
    pose = torch.zeros(1, 1, 17, 3, dtype=torch.float64)
    pose[..., 1, :] = torch.tensor([1.0, 0, 0])
    pose[..., 4, :] = torch.tensor([0, 1.0, 0])
    pose[..., 2, :] = torch.tensor([2.0, 0, 0])  # r_knee continues the r_hip limb: angle 0 (clamped)
    ang = limb_angles(pose)
    assert ang.shape == (1, 1, 18)
    assert math.isclose(ang[0, 0, 0].item(), math.pi / 2, rel_tol=1e-9)  # pair (0, 3)
    assert ang[0, 0, 3].item() < 1e-3  # pair (0, 1): collinear
    assert loss_angle(pose, pose).item() == 0.0


def test_angle_velocity_is_l1_of_differences():
    pred, gt = _poses(8), _poses(9)
    dp = pred[:, 1:] - pred[:, :-1]
    dg = gt[:, 1:] - gt[:, :-1]
    assert math.isclose(loss_angle_velocity(pred, gt).item(), (dp - dg).abs().mean().item(), rel_tol=1e-12)


def test_total_loss_is_the_weighted_sum():
    from easydict import EasyDict

    from lib.engine.trainer import compute_losses

    pred = _poses(10).requires_grad_(True)
    gt = _poses(11)
    cfg = EasyDict(lambda_scale=0.5, lambda_3d_velocity=20.0, lambda_lv=0.0, lambda_lg=2.0, lambda_a=0.0,
                   lambda_av=3.0)
    t = compute_losses(pred, gt, cfg)
    expected = (loss_mpjpe(pred, gt) + 0.5 * loss_n_mpjpe(pred, gt) + 20 * loss_velocity(pred, gt)
                + 2 * loss_limb_gt(pred, gt) + 3 * loss_angle_velocity(pred, gt))
    assert math.isclose(t["total"].item(), expected.item(), rel_tol=1e-12)
    assert math.isclose(t["angle"].item(), loss_angle(pred, gt).item(), rel_tol=1e-12)  # logged
    assert not t["angle"].requires_grad and t["total"].requires_grad
