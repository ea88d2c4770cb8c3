"""Training losses for 3D pose lifting (torch), with MotionBERT's definitions.

Every function takes poses of shape ``(B, T, J, 3)`` and returns a scalar tensor (the mean over all the
terms it sums), so that averaging the losses of equal-sized shards gives the loss of the whole batch
(what DistributedDataParallel relies on).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .skeleton import H36M_PARENTS

# The 16 limbs (child, parent pairs as MotionBERT lists them) and the 18 pairs of limbs whose angles are
# compared, indices into that limb list.
LIMBS: tuple[tuple[int, int], ...] = (
    (0, 1), (1, 2), (2, 3), (0, 4), (4, 5), (5, 6), (0, 7), (7, 8), (8, 9), (9, 10),
    (8, 11), (11, 12), (12, 13), (8, 14), (14, 15), (15, 16),
)
LIMB_ANGLE_PAIRS: tuple[tuple[int, int], ...] = (
    (0, 3), (0, 6), (3, 6), (0, 1), (1, 2), (3, 4), (4, 5), (6, 7), (7, 10),
    (7, 13), (8, 13), (10, 13), (7, 8), (8, 9), (10, 11), (11, 12), (13, 14), (14, 15),
)
assert all(H36M_PARENTS[b] == a for a, b in LIMBS)  # every limb joins a joint to its parent


def _same_shape(predicted: torch.Tensor, target: torch.Tensor) -> None:
    if predicted.shape != target.shape:
        raise ValueError(f"predicted {tuple(predicted.shape)} and target {tuple(target.shape)} differ")


def loss_mpjpe(predicted: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean per-joint position error: mean over B, T, J of ``||pred - target||``. ``(B,T,J,3) -> ()``."""
    _same_shape(predicted, target)
    return torch.linalg.vector_norm(predicted - target, dim=-1).mean()


def loss_n_mpjpe(predicted: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Scale-normalised MPJPE: each frame's prediction is first scaled by the least-squares factor
    ``s = mean_j <p_j, g_j> / mean_j <p_j, p_j>`` (per sample and frame). ``(B,T,J,3) -> ()``."""
    _same_shape(predicted, target)
    norm_pred = (predicted ** 2).sum(dim=-1, keepdim=True).mean(dim=-2, keepdim=True)
    norm_cross = (target * predicted).sum(dim=-1, keepdim=True).mean(dim=-2, keepdim=True)
    return loss_mpjpe(norm_cross / norm_pred * predicted, target)


def loss_velocity(predicted: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean per-joint velocity error: MPJPE of the first differences along T. ``(B,T,J,3) -> ()``."""
    _same_shape(predicted, target)
    if predicted.shape[1] < 2:
        return predicted.new_zeros(())
    return loss_mpjpe(predicted[:, 1:] - predicted[:, :-1], target[:, 1:] - target[:, :-1])


def limb_lengths(x: torch.Tensor) -> torch.Tensor:
    """Lengths of the 16 limbs: ``(B, T, 17, 3) -> (B, T, 16)``."""
    idx = torch.tensor(LIMBS, device=x.device)
    return torch.linalg.vector_norm(x[..., idx[:, 0], :] - x[..., idx[:, 1], :], dim=-1)


def loss_limb_var(predicted: torch.Tensor) -> torch.Tensor:
    """Limb-length variance over time (unbiased, as ``torch.var``), averaged over samples and limbs.
    ``(B, T, 17, 3) -> ()``."""
    return torch.var(limb_lengths(predicted), dim=1).mean()


def loss_limb_gt(predicted: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """L1 distance between predicted and ground-truth limb lengths. ``(B,T,17,3) -> ()``."""
    _same_shape(predicted, target)
    return F.l1_loss(limb_lengths(predicted), limb_lengths(target))


def limb_angles(x: torch.Tensor, eps: float = 1e-7) -> torch.Tensor:
    """Angles (radians) between the 18 limb pairs of :data:`LIMB_ANGLE_PAIRS`: ``(B,T,17,3) -> (B,T,18)``.
    The cosine is clamped to ``[-1+eps, 1-eps]`` so the gradient of acos stays finite."""
    idx = torch.tensor(LIMBS, device=x.device)
    limbs = x[..., idx[:, 0], :] - x[..., idx[:, 1], :]  # (B, T, 16, 3)
    pairs = torch.tensor(LIMB_ANGLE_PAIRS, device=x.device)
    cos = F.cosine_similarity(limbs[..., pairs[:, 0], :], limbs[..., pairs[:, 1], :], dim=-1)
    return torch.acos(cos.clamp(-1 + eps, 1 - eps))


def loss_angle(predicted: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """L1 distance between predicted and ground-truth limb-pair angles. ``(B,T,17,3) -> ()``."""
    _same_shape(predicted, target)
    return F.l1_loss(limb_angles(predicted), limb_angles(target))


def loss_angle_velocity(predicted: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """L1 distance between the first differences along T of the two inputs. ``(B,T,...) -> ()``.

    MotionBERT's training loop applies this to the joint positions themselves (not to the angles), and
    :func:`lib.engine.trainer.compute_losses` does the same so that ``lambda_av`` means what it meant
    there.
    """
    _same_shape(predicted, target)
    if predicted.shape[1] < 2:
        return predicted.new_zeros(())
    return F.l1_loss(predicted[:, 1:] - predicted[:, :-1], target[:, 1:] - target[:, :-1])
