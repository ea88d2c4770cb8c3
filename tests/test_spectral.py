import math

import numpy as np
import pytest
import scipy.fft
import torch

from lib.model.spectral import (
    SpectralCompression,
    compressed_length,
    compression_matrix,
    dct_matrix,
    idct_matrix,
    spectral_compress,
)


def scipy_compress(x: np.ndarray, ratio: float, axis: int) -> np.ndarray:
    """The definition: unscaled DCT-II, keep ceil(T*ratio) coefficients, unscaled inverse of that length."""
    kept = math.ceil(x.shape[axis] * ratio)
    coeffs = scipy.fft.dct(x, type=2, axis=axis, norm=None)
    coeffs = np.take(coeffs, np.arange(kept), axis=axis)
    return scipy.fft.idct(coeffs, type=2, axis=axis, norm=None)


@pytest.mark.parametrize("length", [1, 2, 27, 81, 100, 243])
@pytest.mark.parametrize("ratio", [0.3, 0.6, 0.7, 0.95])
def test_compression_matches_scipy(length, ratio):
    rng = np.random.default_rng(length)
    x = rng.standard_normal((2, length, 4, 3))
    expected = scipy_compress(x, ratio, axis=1)
    got = spectral_compress(torch.from_numpy(x), ratio, dim=1).numpy()
    assert got.shape == expected.shape == (2, compressed_length(length, ratio), 4, 3)
    np.testing.assert_allclose(got, expected, atol=1e-10)


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_any_axis(dim):
    x = torch.randn(20, 30, 40, dtype=torch.float64)
    expected = scipy_compress(x.numpy(), 0.5, axis=dim)
    np.testing.assert_allclose(spectral_compress(x, 0.5, dim=dim).numpy(), expected, atol=1e-10)


def test_dct_matrices_are_the_unscaled_pair():
    x = np.random.default_rng(0).standard_normal(50)
    np.testing.assert_allclose(dct_matrix(50).numpy() @ x, scipy.fft.dct(x, norm=None), atol=1e-10)
    np.testing.assert_allclose(idct_matrix(50).numpy() @ dct_matrix(50).numpy(), np.eye(50), atol=1e-12)


def test_ratio_one_is_identity():
    x = torch.randn(3, 81, 17, 8)
    assert torch.equal(spectral_compress(x, 1.0), x)
    assert torch.equal(SpectralCompression(1.0)(x), x)
    np.testing.assert_allclose(compression_matrix(81, 1.0, dtype=torch.float64).numpy(), np.eye(81), atol=1e-12)


def test_constant_signal_amplitude_grows_by_length_ratio():
    x = torch.ones(1, 243, 1, 1, dtype=torch.float64)
    y = spectral_compress(x, 0.6)
    assert y.shape[1] == 146
    np.testing.assert_allclose(y.numpy(), 243 / 146, rtol=1e-12)


def test_compressed_length():
    assert compressed_length(243, 0.6) == 146
    assert compressed_length(100, 0.7) == 70
    assert compressed_length(70, 0.7) == 49
    assert compressed_length(1, 0.1) == 1
    with pytest.raises(ValueError, match="ratio"):
        compressed_length(10, 0.0)
    with pytest.raises(ValueError, match="ratio"):
        SpectralCompression(1.5)


def test_module_caches_operator_per_length_and_dtype():
    module = SpectralCompression(0.6)
    module(torch.randn(1, 243, 2, 2))
    module(torch.randn(1, 243, 2, 2))
    module(torch.randn(1, 100, 2, 2))
    module(torch.randn(1, 100, 2, 2, dtype=torch.float64))
    assert {(k[0], k[2]) for k in module.operators.keys()} == {
        (100, torch.float32), (100, torch.float64), (243, torch.float32)}


def test_module_matches_function_and_backpropagates():
    x = torch.randn(2, 50, 3, 4, requires_grad=True)
    y = SpectralCompression(0.5)(x)
    torch.testing.assert_close(y, spectral_compress(x, 0.5))
    y.sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
