"""pfn: conformance, the bar distribution (a normalised density with the stated moments), the
attention mask (queries see only the training set; the training set is a set), the exact GP
posterior against scikit-learn, and training on prior draws that lowers the loss."""

import math

import pytest
import torch

import zoo
from zoo.testing import assert_conforms
from zoo_plugins.pfn.bar_distribution import BarDistribution, equal_probability_borders
from zoo_plugins.pfn.prior import GPPrior, gp_posterior_predictive


def test_conforms_default_and_tiny():
    assert_conforms("pfn", variant="tiny")
    assert_conforms("pfn", nlayers=1)


def test_bar_distribution_is_normalised_with_matching_moments():
    torch.manual_seed(0)
    borders = equal_probability_borders(20, 1.0)
    bar = BarDistribution(borders)
    logits = torch.randn(3, 20) * 2
    # quadrature exact on each inner bar (2-point Gauss-Legendre), fine midpoint rule on the tails
    lo, hi = borders[1:-2], borders[2:-1]
    mid, half = (lo + hi) / 2, (hi - lo) / 2
    offset = half / math.sqrt(3)
    tail = torch.linspace(0, 12, 100001)
    step = tail[1] - tail[0]
    tail_mid = tail[:-1] + step / 2
    y = torch.cat([mid - offset, mid + offset, borders[1] - tail_mid, borders[-2] + tail_mid])
    w = torch.cat([half, half, torch.full_like(tail_mid, step), torch.full_like(tail_mid, step)])
    density = bar.log_prob(logits.unsqueeze(1).expand(-1, len(y), -1), y.expand(3, -1)).exp()
    torch.testing.assert_close((density * w).sum(-1), torch.ones(3), atol=1e-4, rtol=0)
    mean = (density * w * y).sum(-1)
    torch.testing.assert_close(bar.mean(logits), mean, atol=1e-4, rtol=0)
    torch.testing.assert_close(bar.variance(logits), (density * w * (y - mean[:, None]) ** 2).sum(-1),
                               atol=1e-4, rtol=1e-4)


def test_queries_attend_only_to_training_points():
    torch.manual_seed(0)
    model = zoo.create("pfn", variant="tiny").eval()
    x, y, q = torch.rand(2, 6, 1), torch.randn(2, 6), torch.rand(2, 5, 1)
    with torch.no_grad():
        full = model(x, y, q)
        alone = model(x, y, q[:, :1])  # other queries do not change a query's prediction
        permuted = model(x[:, [5, 3, 1, 0, 2, 4]], y[:, [5, 3, 1, 0, 2, 4]], q)  # the training set is a set
    torch.testing.assert_close(full[:, :1], alone, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(full, permuted, atol=1e-5, rtol=1e-5)


def test_exact_gp_posterior_matches_sklearn():
    from sklearn.gaussian_process import GaussianProcessRegressor
    from sklearn.gaussian_process.kernels import RBF, ConstantKernel

    prior = GPPrior(lengthscale=0.2, outputscale=1.5, noise_std=0.1)
    x, y = prior.sample(1, 12, torch.Generator().manual_seed(0))
    q = torch.rand(1, 7, 1)
    kernel = ConstantKernel(1.5, "fixed") * RBF(0.2, "fixed")
    gp = GaussianProcessRegressor(kernel, alpha=0.01, optimizer=None).fit(x[0].numpy(), y[0].numpy())
    mean, std = gp.predict(q[0].numpy(), return_std=True)
    ours_mean, ours_var = gp_posterior_predictive(prior, x, y, q)
    torch.testing.assert_close(ours_mean[0], torch.as_tensor(mean, dtype=torch.float64), atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(ours_var[0], torch.as_tensor(std ** 2 + 0.01, dtype=torch.float64), atol=1e-4, rtol=1e-4)


def test_bad_input_and_config():
    model = zoo.create("pfn", variant="tiny")
    with pytest.raises(ValueError, match=r"x_train \(batch, n, 1\)"):
        model(torch.rand(2, 5), torch.randn(2, 5), torch.rand(2, 3, 1))
    with pytest.raises(ValueError, match="at least one training point"):
        model(torch.rand(2, 0, 1), torch.randn(2, 0), torch.rand(2, 3, 1))
    with pytest.raises(zoo.ConfigError, match="divisible"):
        zoo.create("pfn", emsize=10, nhead=4)
    with pytest.raises(zoo.ConfigError):
        zoo.create("pfn", num_buckets=2)


def test_training_on_prior_draws_lowers_the_loss():
    torch.manual_seed(0)
    model = zoo.create("pfn", task="gp-prior/rbf-1d", emsize=32, nhead=2, nhid=64, nlayers=2, num_buckets=50)
    task = zoo.get_task("gp-prior/rbf-1d", test_draws=64, train_draws=640)  # one epoch of 40 steps
    before = zoo.evaluate(model, task, split="test")["nll"]
    zoo.train(model, task, max_steps=40, batch_size=16, lr=3e-3, eval_splits=[])
    after = zoo.evaluate(model, task, split="test")["nll"]
    assert after < before - 0.15, (before, after)
    assert math.isfinite(after)
