"""lssl: conformance, HiPPO-LegS and the GBT / ZOH discretisations against their closed forms, the
recurrent view equal to the convolutional one, the delayed-digits task, bad input, and training."""

import math

import pytest
import torch

import zoo
from zoo.testing import assert_conforms
from zoo_plugins.lssl.model import LSSLLayer, discretize, hippo_legs, krylov_kernel

SMALL = {"d_model": 8, "d_state": 6, "n_layers": 2}


def test_conforms_default_shape_and_variants():
    assert_conforms("lssl", **SMALL)
    assert_conforms("lssl", variant="fixed", **SMALL)
    assert_conforms("lssl", variant="recurrent", **SMALL, channels=2, pool="mean", discretization="zoh")


def test_hippo_legs_matches_the_closed_form():
    a, b = hippo_legs(5)
    for n in range(5):
        assert b[n] == pytest.approx(math.sqrt(2 * n + 1))
        for k in range(5):
            expected = (-math.sqrt(2 * n + 1) * math.sqrt(2 * k + 1) if n > k else -(n + 1) if n == k else 0.0)
            assert a[n, k].item() == pytest.approx(expected)


@pytest.mark.parametrize("method, alpha", [("forward_euler", 0.0), ("bilinear", 0.5), ("backward_euler", 1.0)])
def test_gbt_matches_its_formula(method, alpha):
    a, b = hippo_legs(4)
    dt = torch.tensor([0.05, 0.3], dtype=torch.float64)
    d_a, d_b = discretize(a, b, dt, method)
    eye = torch.eye(4, dtype=torch.float64)
    for i, step in enumerate(dt):
        left_inverse = torch.linalg.inv(eye - alpha * step * a)
        torch.testing.assert_close(d_a[i], left_inverse @ (eye + (1 - alpha) * step * a))
        torch.testing.assert_close(d_b[i], step * left_inverse @ b)
    if method == "forward_euler":  # no inverse at all: I + dt A, dt B
        torch.testing.assert_close(d_a[0], eye + dt[0] * a)


def test_zoh_matches_matrix_exponential_and_tends_to_gbt_for_small_dt():
    a, b = hippo_legs(4)
    dt = torch.tensor([0.2, 1e-4], dtype=torch.float64)
    d_a, d_b = discretize(a, b, dt, "zoh")
    expected_a = torch.linalg.matrix_exp(0.2 * a)
    torch.testing.assert_close(d_a[0], expected_a)
    torch.testing.assert_close(d_b[0], torch.linalg.solve(a, (expected_a - torch.eye(4, dtype=a.dtype)) @ b))
    bilinear_a, bilinear_b = discretize(a, b, dt, "bilinear")
    torch.testing.assert_close(d_a[1], bilinear_a[1], atol=1e-7, rtol=0)
    torch.testing.assert_close(d_b[1], bilinear_b[1], atol=1e-9, rtol=1e-6)


def test_krylov_kernel_is_c_times_powers_of_da_times_db():
    torch.manual_seed(0)
    d_a, d_b, c = torch.randn(3, 5, 5) * 0.4, torch.randn(3, 5), torch.randn(3, 2, 5)
    kernel = krylov_kernel(d_a, d_b, c, 7)
    for h in range(3):
        for k in range(7):
            torch.testing.assert_close(kernel[h, :, k], c[h] @ torch.linalg.matrix_power(d_a[h], k) @ d_b[h])


@pytest.mark.parametrize("method", ["bilinear", "zoh", "backward_euler"])
def test_recurrence_equals_convolution(method):
    torch.manual_seed(0)
    layer = LSSLLayer(4, 8, channels=2, dt_min=1e-2, dt_max=0.3, discretization=method)
    u = torch.randn(3, 37, 4)
    torch.testing.assert_close(layer(u, "recurrence"), layer(u, "convolution"), atol=2e-5, rtol=1e-4)
    torch.manual_seed(1)
    model = zoo.create("lssl", **SMALL, dropout=0.0).eval()
    x = torch.randn(2, 21, 1)
    torch.testing.assert_close(model.features(x, "recurrence"), model.features(x, "convolution"), atol=2e-5,
                               rtol=1e-4)


def test_layer_output_is_causal_and_includes_d_skip():
    torch.manual_seed(0)
    layer = LSSLLayer(2, 4)
    u = torch.randn(1, 10, 2)
    changed = u.clone()
    changed[:, 6:] += 1.0
    y, y_changed = layer(u), layer(changed)
    torch.testing.assert_close(y[:, :6], y_changed[:, :6])
    with torch.no_grad():
        layer.c.zero_()  # only D u is left
    torch.testing.assert_close(layer(u), u.unsqueeze(-1) * layer.d)


def test_timescales_start_log_uniform_in_range_and_fixed_variant_freezes_a():
    torch.manual_seed(0)
    model = zoo.create("lssl", d_model=512, d_state=4, n_layers=1, dt_min=1e-3, dt_max=1e-1)
    dt = model.blocks[0].lssl.log_dt.exp()
    assert dt.min() >= 1e-3 and dt.max() <= 1e-1
    assert abs(model.blocks[0].lssl.log_dt.mean().item() - (math.log(1e-3) + math.log(1e-1)) / 2) < 0.3
    fixed = zoo.create("lssl", variant="fixed", **SMALL)
    names = {n for n, _ in fixed.named_parameters()}
    assert "blocks.0.lssl.a" not in names and "blocks.0.lssl.log_dt" in names
    torch.testing.assert_close(fixed.blocks[0].lssl.a, hippo_legs(6)[0].float())


def test_delayed_digits_task():
    task = zoo.get_task("lssl/delayed-digits", length=100)
    x, y = task.splits()["train"].tensors
    assert x.shape[1:] == (100, 1) and task.info.extra["delay"] == 36
    assert x[:, 64:].abs().max() == 0 and x[:, :64].max() <= 1 and x[:, :64].sum() > 0
    digits = zoo.get_task("digits").splits()["train"].tensors
    torch.testing.assert_close(x[:, :64, 0], digits[0].reshape(-1, 64))
    torch.testing.assert_close(y, digits[1])
    permuted = zoo.get_task("lssl/delayed-digits-permuted", length=64).splits()["train"].tensors[0]
    assert not torch.equal(permuted[:, :, 0], x[:, :64, 0])
    torch.testing.assert_close(permuted[:, :, 0].sort(1).values, x[:, :64, 0].sort(1).values)


def test_bad_input_and_config():
    model = zoo.create("lssl", **SMALL)
    with pytest.raises(ValueError, match=r"\(batch, length, 1\)"):
        model(torch.randn(2, 5, 3))
    with pytest.raises(ValueError, match=r"\(batch, length, 1\)"):
        model(torch.randn(2, 5))
    with pytest.raises(TypeError, match="floating-point"):
        model(torch.ones(2, 5, 1, dtype=torch.long))
    with pytest.raises(ValueError, match="mode"):
        model.blocks[0].lssl(torch.randn(1, 3, 8), "fft")
    for bad in ({"dt_min": 0.5, "dt_max": 0.1}, {"d_state": 0}, {"dropout": 1.0}, {"discretization": "rk4"}):
        with pytest.raises(zoo.ConfigError):
            zoo.create("lssl", **bad)
    with pytest.raises(ValueError, match="length"):
        zoo.get_task("lssl/delayed-digits", length=10)


def test_training_lowers_the_loss():
    task = zoo.get_task("lssl/delayed-digits", length=64)
    torch.manual_seed(0)
    model = zoo.create("lssl", task=task, d_model=16, d_state=16, n_layers=1, dropout=0.0)
    before = zoo.evaluate(model, task, split="val")["loss"]
    zoo.train(model, task, epochs=2, batch_size=32, lr=1e-2, seed=0, eval_splits=[], final_splits=[], progress=False)
    assert zoo.evaluate(model, task, split="val")["loss"] < 0.85 * before
