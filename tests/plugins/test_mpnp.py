"""mpnp: conformance, the mixture predictive log-likelihood by hand, the martingale-posterior
predictive is the decoder on the context completed by generated pseudo contexts, only context values
are read, the GP task, a short training that improves, and bad input."""

import math

import numpy as np
import pytest
import torch

import zoo
from zoo.testing import assert_conforms
from zoo_plugins.mpnp.model import ConditionalNP, LatentNP, predictive_log_likelihood
from zoo_plugins.mpnp.task import CONTEXT, TARGET, GPTask, rbf_kernel, sample_gp_batch


def small(**options):
    torch.manual_seed(0)
    return zoo.create("mpnp", hidden=16, n_pseudo=4, n_samples=3, **options)


def gp_batch(n=4, seed=0):
    x, y, role = sample_gp_batch(n, np.random.default_rng(seed))
    return torch.tensor(x, dtype=torch.float32), torch.tensor(y, dtype=torch.float32), torch.tensor(role)


def test_conforms_default_and_variants():
    assert_conforms("mpnp")
    assert_conforms("mpnp", variant="small")


def test_mixture_log_likelihood_by_hand():
    y = torch.tensor([[[0.3], [-1.0], [2.0]]])
    mask = torch.tensor([[True, True, False]])
    mean = torch.tensor([[[[0.0], [0.0], [5.0]]], [[[1.0], [-1.0], [0.0]]]])  # K = 2 components
    std = torch.tensor([[[[1.0], [2.0], [1.0]]], [[[0.5], [0.5], [1.0]]]])
    logpdf = lambda v, m, s: -0.5 * ((v - m) / s) ** 2 - math.log(s) - 0.5 * math.log(2 * math.pi)  # noqa: E731
    joint = [logpdf(0.3, 0, 1) + logpdf(-1, 0, 2), logpdf(0.3, 1, 0.5) + logpdf(-1, -1, 0.5)]
    expected = (np.logaddexp(*joint) - math.log(2)) / 2  # log-mean-exp over K, per masked point
    assert predictive_log_likelihood((mean, std), y, mask).item() == pytest.approx(expected, rel=1e-5)


def test_predictive_is_the_decoder_on_the_completed_context():
    model = small()
    x, y, role = gp_batch()
    torch.manual_seed(5)
    r_context, px, py, (mean, std) = model.parts(x, y, role, 3)
    assert mean.shape == (3, 4, 50, 1) and px.shape == (3, 4, 4, 1)
    b, k = 1, 2  # by hand: pool the encodings of the real contexts and pseudo set k, decode
    ctx = role[b] == CONTEXT
    pairs = torch.cat([torch.cat([x[b][ctx], y[b][ctx]], -1), torch.cat([px[k, b], py[k, b]], -1)])
    r = model.encoder(pairs).mean(0)
    m, s = model.decode(x[b], r)
    torch.testing.assert_close(mean[k, b], m, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(std[k, b], s, rtol=1e-4, atol=1e-5)
    assert (mean[0] - mean[1]).abs().max() > 1e-4  # the draws differ: the pseudo contexts carry the uncertainty
    torch.testing.assert_close(r_context[b], model.encoder(torch.cat([x[b][ctx], y[b][ctx]], -1)).mean(0))


def test_only_context_values_are_read():
    for model in (small(), LatentNP(small().config), ConditionalNP(small().config)):
        model.eval()
        x, y, role = gp_batch()
        changed = torch.where((role != CONTEXT)[..., None], y + 10.0, y)
        torch.manual_seed(1)
        a = model(x, y, role)
        torch.manual_seed(1)
        b = model(x, changed, role)
        torch.testing.assert_close(a, b)


def test_gp_task():
    x, y, role = sample_gp_batch(3000, np.random.default_rng(0), lengthscale=(0.3, 0.3), scale=(0.5, 0.5))
    assert x.shape == (3000, 50, 1) and y.shape == (3000, 50, 1)
    assert abs(y.var() - (0.25 + 0.02 ** 2)) < 0.02  # marginal variance s^2 + noise^2
    near = np.abs(x[:, :, 0, None] - x[:, None, :, 0]) < 0.02  # close points are strongly correlated
    assert np.mean((y[:, :, 0, None] * y[:, None, :, 0])[near]) > 0.9 * 0.25
    n_context, n_target = (role == CONTEXT).sum(1), (role == TARGET).sum(1)
    assert n_context.min() >= 3 and n_context.max() <= 47 and n_target.min() >= 3 and (n_context + n_target).max() <= 50
    assert np.all(np.diff(role, axis=1)[(role[:, 1:] > 0)] >= 0)  # contexts first, then targets, then padding
    k = rbf_kernel(np.array([[0.0, 1.0]]), np.array([0.5]), np.array([2.0]))
    np.testing.assert_allclose(k[0], [[4.0, 4.0 * math.exp(-2.0)], [4.0 * math.exp(-2.0), 4.0]])
    task = GPTask(train=20, val=5, test=5)
    assert len(task.splits()["train"]) == 20
    with pytest.raises(ValueError, match="lengthscale"):
        GPTask(lengthscale=(0.5, 0.1))


def test_training_improves_the_predictive():
    torch.manual_seed(0)
    model = zoo.create("mpnp", hidden=32, n_pseudo=4, n_samples=3)
    x, y, role = gp_batch(64, seed=9)

    def scores():
        with torch.no_grad():
            total, count = model.pooled(x, y, role == CONTEXT)
            amortised = tuple(t.unsqueeze(0) for t in model.decode(x, total / count))
            torch.manual_seed(0)
            objective = sum(model.losses(x, y, role).values()).item()
        return predictive_log_likelihood(amortised, y, role == TARGET).mean().item(), objective

    before = scores()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    rng = np.random.default_rng(1)
    for _ in range(150):
        bx, by, br = (torch.as_tensor(a) for a in sample_gp_batch(16, rng))
        loss = sum(model.losses(bx.float(), by.float(), br).values())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    after = scores()
    assert after[0] > before[0] + 0.1  # p(y | x, r(C)) on held-out functions
    assert after[1] < before[1] - 0.2  # the MPNP objective (L_marg + L_amort + L_pseudo)


def test_bad_input_and_config():
    model = small()
    x, y, role = gp_batch(2)
    with pytest.raises(ValueError, match="at least one context"):
        model(x, y, torch.full_like(role, TARGET))
    with pytest.raises(ValueError, match="role must be an integer"):
        model(x, y, role.float())
    with pytest.raises(ValueError, match=r"\(batch, points, 1\)"):
        model(x[..., 0], y, role)
    for bad in ({"x_low": 2.0, "x_high": -2.0}, {"n_pseudo": 0}, {"hidden": 0}, {"min_std": 0.0}):
        with pytest.raises(zoo.ConfigError):
            zoo.create("mpnp", **bad)
