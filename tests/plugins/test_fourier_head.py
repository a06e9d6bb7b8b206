"""fourier-head: conformance (Fourier and linear heads), the head's density against Algorithm 1
(non-negative, integrates to 1, the FFT autocorrelation equals the direct sum, the pmf is the
density at the bin centres normalised), the regulariser's closed form, the smoothness metric's
extremes, the toy tasks' true pmfs, bad input and config, and training that lowers the loss."""

import math

import numpy as np
import pytest
import torch

import zoo
from zoo.testing import assert_conforms
from zoo_plugins.fourier_head.data import quantize, toy_samples, true_pmfs
from zoo_plugins.fourier_head.model import (FourierHead, autocorrelation, autocorrelation_direct, bin_centres,
                                            smoothness)


def test_conforms_fourier_and_variants():
    assert_conforms("fourier-head")
    assert_conforms("fourier-head", variant="linear")
    assert_conforms("fourier-head", variant="no-regularization", num_bins=20, num_frequencies=3, hidden=[8])


def test_fft_autocorrelation_equals_the_direct_sum():
    torch.manual_seed(0)
    real, imag = torch.randn(3, 9, dtype=torch.float64), torch.randn(3, 9, dtype=torch.float64)
    for fast, direct in zip(autocorrelation(real, imag), autocorrelation_direct(real, imag)):
        torch.testing.assert_close(fast, direct)
    # c_0 = sum |a_l|^2
    torch.testing.assert_close(autocorrelation(real, imag)[0][:, 0], (real ** 2 + imag ** 2).sum(-1))


def test_density_is_nonnegative_and_integrates_to_one():
    torch.manual_seed(0)
    head = FourierHead(4, num_bins=50, num_frequencies=6, init_denominator=1.0).double()
    x = torch.randn(5, 4, dtype=torch.float64) * 3
    c_real, c_imag = head.fourier_coefficients(x)
    z = torch.linspace(-1, 1, 20001, dtype=torch.float64)
    p = head.density(c_real, c_imag, z)
    assert p.min() >= -1e-9  # the autocorrelation makes the series a squared modulus
    integral = torch.trapezoid(p, z, dim=-1)
    torch.testing.assert_close(integral, torch.ones(5, dtype=torch.float64), atol=1e-6, rtol=0)
    # the density is |sum_l a_l e^{-i pi l z}|^2 / (2 c_0)
    params = head.coefficients(x)
    a = torch.complex(params[:, :7], params[:, 7:])
    modulus = (a[:, :, None] * torch.exp(-1j * math.pi * torch.arange(7, dtype=torch.float64)[:, None] * z[None, :])).sum(1).abs() ** 2
    torch.testing.assert_close(p, modulus / (2 * c_real[:, :1]), atol=1e-9, rtol=1e-9)
    # the head's output: log of the density at the bin centres, normalised, plus eps
    pmf = head.density(c_real, c_imag, bin_centres(50))
    pmf = pmf / pmf.sum(-1, keepdim=True)
    torch.testing.assert_close(head(x), torch.log(pmf + head.eps), atol=1e-5, rtol=1e-5)  # float32 tables


def test_mixed_precision_keeps_the_series_in_float32():
    torch.manual_seed(0)
    head = FourierHead(8, num_bins=20, num_frequencies=5, init_denominator=1.0)
    x = torch.randn(4, 8)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        low = head(x)
    assert low.dtype == torch.float32 and torch.isfinite(low).all()
    torch.testing.assert_close(low.exp(), head(x).exp(), atol=0.02, rtol=0)  # only the linear layer ran in bf16


def test_regularizer_closed_form():
    torch.manual_seed(0)
    head = FourierHead(3, num_bins=10, num_frequencies=4, regularization_gamma=0.5).double()
    x = torch.randn(2, 3, dtype=torch.float64)
    head(x)
    c_real, c_imag = head.fourier_coefficients(x)
    k = torch.arange(5, dtype=torch.float64)
    expected = 0.5 * (4 * math.pi ** 2 * k ** 2 * (c_real ** 2 + c_imag ** 2)).sum(-1).mean()
    torch.testing.assert_close(head.regularization_loss, expected)
    assert zoo.create("fourier-head", variant="linear").regularization_loss() == 0


def test_smoothness_metric_extremes():
    m = 50
    uniform = np.full((1, m), 1 / m)
    assert smoothness(uniform)[0] == pytest.approx(0.0, abs=1e-12)  # filtering a constant changes nothing
    spike = np.zeros((1, m))
    spike[0, 20] = 1
    alternating = np.tile([2 / m, 0.0], m // 2)[None]
    bump = np.exp(-0.5 * ((np.arange(m) - 25) / 5.0) ** 2)[None]
    bump = bump / bump.sum()
    values = smoothness(np.concatenate([spike, alternating, bump]))
    assert values[2] < values[1] and values[2] < values[0]  # a wide bump is smoother than a spike or zigzag


def test_toy_tasks_true_pmfs_and_quantisation():
    assert quantize(np.array([-1.5, -0.99, 0.0, 0.999, 3.0]), 50).tolist() == [0, 0, 25, 49, 49]
    conditions = np.array([[0.1, 0.3], [-0.5, 0.5]])
    for name in ("gaussian", "gmm2", "beta"):
        pmf = true_pmfs(name, conditions, 50)
        assert pmf.shape == (2, 50) and np.allclose(pmf.sum(1), 1) and (pmf >= 0).all()
    centres = (np.linspace(-1, 1, 51)[:-1] + np.linspace(-1, 1, 51)[1:]) / 2
    assert centres[true_pmfs("gaussian", conditions, 50)[0].argmax()] == pytest.approx(0.3, abs=0.02)  # z ~ N(y, .)
    gmm = true_pmfs("gmm2", conditions, 50)[1]
    assert set(np.round(centres[np.argsort(gmm)[-2:]], 2)) == {-0.5, 0.5} or gmm[12] > 0.05  # modes at x and y
    beta = true_pmfs("beta", conditions, 50)[0]
    np.testing.assert_allclose(beta, beta[::-1])  # random sign: symmetric in z
    samples = toy_samples("gaussian", 2000, seed=0)
    assert np.std(samples[:, 2] - samples[:, 1]) == pytest.approx(0.1, rel=0.1)
    task = zoo.get_task("fourier-head/gmm2", n_samples=500)
    assert task.true_pmf.shape == (100, 50) and task.info.num_classes == 50


def test_bad_input_and_config():
    model = zoo.create("fourier-head")
    with pytest.raises(ValueError, match=r"\(batch, 2\)"):
        model(torch.randn(4, 3))
    with pytest.raises(TypeError, match="floating-point"):
        model(torch.ones(4, 2, dtype=torch.long))
    with pytest.raises(ValueError, match=r"\(\.\.\., 32\)"):
        model.head(torch.randn(4, 31))
    for bad in ({"num_bins": 1}, {"num_frequencies": 0}, {"head": "gmm"}, {"regularization_gamma": -1.0},
                {"hidden": [0]}, {"inverse_softmax_eps": 0.0}):
        with pytest.raises(zoo.ConfigError):
            zoo.create("fourier-head", **bad)
    with pytest.raises(ValueError, match="unknown toy dataset"):
        toy_samples("cauchy", 10, 0)


@pytest.mark.parametrize("variant", ["default", "linear"])
def test_training_lowers_the_loss(variant):
    torch.manual_seed(0)
    task = zoo.get_task("fourier-head/gaussian", n_samples=1000)
    model = zoo.create("fourier-head", variant=variant, task=task)
    before = zoo.evaluate(model, task, split="test")["loss"]
    zoo.train(model, task, epochs=2, batch_size=32, lr=3e-3, optimizer="adam", eval_splits=[], progress=False)
    after = zoo.evaluate(model, task, split="test")["loss"]
    assert after < before - 0.3
