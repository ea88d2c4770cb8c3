"""The interpolation back to T frames equals F.interpolate(mode="linear", align_corners=False)."""

import pytest
import torch
import torch.nn.functional as F

from lib.model.dual_stream import layer_compress_ratios
from lib.model.interpolation import TimeInterpolation, interpolation_matrix
from lib.model.spectral import compressed_length
from lib.model.time_operator import apply_along

MAXLEN = 243
SIGMAS = [s / 10 for s in range(1, 11)]


def model_length_pairs() -> list[tuple[int, int]]:
    """Every (T', T) with T' != T that a model of maxlen 243 interpolates: T in 1..243, sigma in 0.1..1,
    1 to 5 compressed layers (the lengths after each layer)."""
    pairs = set()
    for sigma in SIGMAS:
        for layers in range(1, 6):
            ratios = layer_compress_ratios(sigma, range(layers), depth=5)
            for frames in range(1, MAXLEN + 1):
                length = frames
                for ratio in ratios:
                    length = compressed_length(length, ratio)
                    if length != frames:
                        pairs.add((length, frames))
    return sorted(pairs)


PAIRS = model_length_pairs()


def reference(x: torch.Tensor, length: int) -> torch.Tensor:
    """F.interpolate along axis 1 of (B, T', ...), in the (B, features, T') layout it wants."""
    time_last = x.movedim(1, -1)
    out = F.interpolate(time_last.reshape(x.shape[0], -1, x.shape[1]), size=length, mode="linear",
                        align_corners=False)
    return out.reshape(*time_last.shape[:-1], length).movedim(-1, 1)


def test_pairs_cover_the_released_model():
    assert len(PAIRS) > 1000
    assert {(146, 243), (88, 243), (53, 243), (32, 243), (20, 243)} <= set(PAIRS)  # sigma 0.6, 5 layers
    assert (1, 243) in PAIRS and (1, 2) in PAIRS  # sigma 0.1 shrinks to one frame
    assert all(1 <= short < frames <= MAXLEN for short, frames in PAIRS)


def test_matrix_by_hand():
    # 2 -> 4 frames: sources -0.25 (clamped to 0), 0.25, 0.75, 1.25 (past the last frame: its value)
    expected = torch.tensor([[1.0, 0.0], [0.75, 0.25], [0.25, 0.75], [0.0, 1.0]])
    torch.testing.assert_close(interpolation_matrix(2, 4), expected, atol=0, rtol=0)
    torch.testing.assert_close(interpolation_matrix(1, 3), torch.ones(3, 1), atol=0, rtol=0)


CHANNELS = 6
BF16_TOLERANCE = dict(atol=2e-2, rtol=2e-2)  # a product in bfloat16 (8 significant bits), summed in float32


@pytest.fixture(scope="module")
def interpolate():
    """One module, so each matrix is built once for the tests below."""
    return TimeInterpolation()


def _grouped_by_short_length() -> dict[int, list[int]]:
    groups: dict[int, list[int]] = {}
    for short, frames in PAIRS:
        groups.setdefault(short, []).append(frames)
    return groups


def _interpolate_all(signals: torch.Tensor, groups: dict[int, list[int]], apply) -> torch.Tensor:
    """Each T' signal interpolated to all its T (``apply(x, lengths)``); then one random gradient is
    backpropagated through all outputs. Returns the outputs, concatenated along time."""
    outputs = [apply(x[None], lengths) for x, lengths in zip(signals.split(list(groups)), groups.values(), strict=True)]
    out = torch.cat([o.float() for o in outputs], dim=1)
    (out * torch.randn(out.shape, generator=torch.Generator().manual_seed(1))).sum().backward()
    return out.detach()


@pytest.mark.parametrize("autocast", [False, pytest.param(True, marks=pytest.mark.slow)])
def test_equals_f_interpolate_for_every_model_length(interpolate, autocast):
    """Values and gradients for every (T', T) pair against float32 F.interpolate, in float32 and under
    bfloat16 autocast (the product then runs in bfloat16). Under autocast the pairs that share a T' run as
    one product of their stacked cached matrices, which keeps the test fast (oneDNN compiles a bfloat16 CPU
    kernel per matrix shape); the module's own forward is checked below, under autocast too. The autocast
    case takes ~10 s of CPU time (bfloat16 products of skinny matrices), so it runs with the slow tests."""
    groups = _grouped_by_short_length()
    x = torch.randn(sum(groups), CHANNELS, generator=torch.Generator().manual_seed(0))
    ours_in, ref_in = x.clone().requires_grad_(), x.clone().requires_grad_()

    def ours(x: torch.Tensor, lengths: list[int]) -> torch.Tensor:
        matrices = [interpolate.operators.get((x.shape[1], t), x.device, x.dtype) for t in lengths]
        if not autocast:  # float32: one product per pair
            return torch.cat([apply_along(m, x, dim=1) for m in matrices], dim=1)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            return apply_along(torch.cat(matrices), x, dim=1)

    ours_out = _interpolate_all(ours_in, groups, ours)
    ref_out = _interpolate_all(ref_in, groups, lambda x, lengths: torch.cat([reference(x, t) for t in lengths], 1))
    assert ours_out.shape[1] == sum(frames for _, frames in PAIRS)
    assert ours_out.abs().mean() > 0.1  # real signals, not zeros
    torch.testing.assert_close(ours_out, ref_out, **(BF16_TOLERANCE if autocast else dict(atol=1e-6, rtol=1e-6)))
    # the gradient of T' sums the products of all its T, rounded (bfloat16) or summed in another order
    for short, got, expected in zip(groups, ours_in.grad.split(list(groups)), ref_in.grad.split(list(groups)),
                                    strict=True):
        error = torch.linalg.norm(got - expected) / torch.linalg.norm(expected)
        assert error < (1e-2 if autocast else 1e-5), f"gradient for T'={short}: relative error {error:.2g}"


@pytest.mark.parametrize(("autocast", "input_dtype"), [(False, torch.float32), (True, torch.float32),
                                                       (True, torch.bfloat16)])
@pytest.mark.parametrize(("short", "frames"), [(146, 243), (20, 243), (1, 243), (1, 2), (60, 61)])
def test_module_equals_f_interpolate(short, frames, autocast, input_dtype):
    """The module in the model's (B, T', J, C) layout, values and gradients, against float32 F.interpolate."""
    generator = torch.Generator().manual_seed(short)
    x = torch.randn(2, short, 17, 8, generator=generator).to(input_dtype)
    grad = torch.randn(2, frames, 17, 8, generator=generator)
    x_ours, x_ref = x.clone().requires_grad_(), x.clone().requires_grad_()
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
        ours = TimeInterpolation()(x_ours, frames)
    expected = reference(x_ref.float(), frames)
    (ours.float() * grad).sum().backward()
    (expected * grad).sum().backward()
    assert ours.shape == (2, frames, 17, 8) and ours.is_contiguous()
    torch.testing.assert_close(ours.float(), expected, **(BF16_TOLERANCE if autocast else dict(atol=1e-6, rtol=1e-6)))
    error = torch.linalg.norm(x_ours.grad.float() - x_ref.grad) / torch.linalg.norm(x_ref.grad)
    assert error < (1e-2 if autocast else 1e-6)


def test_same_length_is_the_input_itself():
    x = torch.randn(1, 7, 2, 3)
    assert TimeInterpolation()(x, 7) is x


def test_cache_per_length_device_and_dtype_and_reused_after_inference_mode():
    module = TimeInterpolation()
    with torch.inference_mode():
        module(torch.randn(1, 20, 2, 2), 243)
    x = torch.randn(1, 20, 2, 2, requires_grad=True)
    module(x, 243).sum().backward()  # the matrix built under inference_mode serves training
    module(torch.randn(1, 20, 2, 2, dtype=torch.float64), 243)
    module(torch.randn(1, 146, 2, 2), 243)
    assert {(k[0], k[1], k[3]) for k in module.operators.keys()} == {
        (20, 243, torch.float32), (20, 243, torch.float64), (146, 243, torch.float32)}
    # every output frame's weights sum to 1, so the gradient of the sum is 243 per (joint, channel)
    torch.testing.assert_close(x.grad.sum(), torch.tensor(243.0 * 4))
