"""Tests of the gradient-noise method: the variance schedule of Eq. 2, the noise added to every
gradient in one zoo.train step (exactly, from the method's generator), once per optimizer step under
accumulation, a zoo model, exact resume, and refused inputs."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

import zoo
from zoo.errors import ConfigError
from zoo.training.method import MethodMismatchError
from zoo_plugins.gradient_noise.method import add_gradient_noise, noise_std, noise_variance

SLUG = "gradient-noise"
QUIET = {"eval_splits": [], "final_splits": [], "progress": False, "device": "cpu"}


def mlp(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 16), nn.ReLU(), nn.Linear(16, 10))


def data(n: int = 64):
    x, y = zoo.get_task("digits").splits()["train"].tensors[:2]
    return x[:n], y[:n]


def test_variance_anneals_as_eta_over_one_plus_t_to_the_gamma():
    assert noise_variance(0, 0.3) == pytest.approx(0.3)
    assert noise_variance(99, 1.0, 0.55) == pytest.approx(100 ** -0.55)
    assert noise_std(9, 0.01) == pytest.approx(math.sqrt(0.01 / 10 ** 0.55))
    assert noise_variance(1000, 1.0) < noise_variance(10, 1.0) < noise_variance(0, 1.0)


def test_added_noise_has_the_scheduled_spread():
    p = nn.Parameter(torch.zeros(200_000))
    p.grad = torch.zeros_like(p)
    sigma = add_gradient_noise([p], 24, eta=1.0, gamma=0.55, generator=torch.Generator().manual_seed(0))
    assert sigma == pytest.approx(25 ** -0.275)
    assert p.grad.mean().abs() < 0.01 and p.grad.std() == pytest.approx(sigma, rel=0.01)
    frozen = nn.Parameter(torch.zeros(3))  # no gradient: left alone
    add_gradient_noise([frozen], 0, eta=1.0)
    assert frozen.grad is None


def sgd_steps(model, methods, steps, **options):
    x, y = data()
    zoo.train(model, (x, y), methods=methods, optimizer="sgd", lr=0.1, momentum=0.0, batch_size=64, shuffle=False,
              max_steps=steps, epochs=steps, seed=3, **QUIET, **options)


def test_sgd_steps_follow_the_noisy_gradient_exactly():
    """Two SGD steps with the method: w <- w - lr (g_t + sigma_t z_t), z from a generator seeded with
    the run's seed, drawn in parameter order, sigma_t from Eq. 2 with t = 0, 1."""
    x, y = data()
    ours, reference = mlp(), mlp()
    sgd_steps(ours, [zoo.method(SLUG, eta=0.3)], 2)
    generator = torch.Generator().manual_seed(3)
    for t in range(2):
        reference.zero_grad()
        nn.functional.cross_entropy(reference(x), y).backward()
        with torch.no_grad():
            for p in reference.parameters():
                noisy = p.grad + noise_std(t, 0.3) * torch.randn(p.shape, generator=generator)
                p.sub_(0.1 * noisy)
    for a, b in zip(ours.parameters(), reference.parameters()):
        assert torch.allclose(a, b, atol=1e-6)
    plain = mlp()
    sgd_steps(plain, [], 2)
    assert not torch.allclose(next(plain.parameters()), next(ours.parameters()), atol=1e-3)  # noise did act


def test_noise_is_added_once_per_optimizer_step_under_accumulation():
    method = zoo.method(SLUG, eta=1.0, seed=5)
    x, y = data()
    calls = []
    original = method.after_backward

    def counting(run):
        before = method.generator.get_state().clone()
        original(run)
        calls.append(not torch.equal(before, method.generator.get_state()))

    method.after_backward = counting
    zoo.train(mlp(), (x, y), methods=[method], optimizer="sgd", lr=0.1, batch_size=32, grad_accumulation=2,
              shuffle=False, epochs=1, **QUIET)
    assert calls == [False, True]  # two micro-batches, one draw: on the last, with complete gradients
    assert method.last_sigma == pytest.approx(1.0)  # t = 0 at the first optimizer step


def test_acts_on_a_zoo_model_and_composes_with_adamw():
    torch.manual_seed(0)
    model = zoo.create("mlp-mixer", variant="digits", task="digits", hidden_dim=16, num_blocks=2)
    result = zoo.train(model, "digits", methods=[SLUG], epochs=1, batch_size=128, progress=False,
                       final_splits=["val"], device="cpu")
    assert result.steps == 9 and math.isfinite(result.history[-1]["train_loss"])


def test_resume_is_bitwise_identical(tmp_path):
    x, y = data(128)
    options = dict(optimizer="sgd", lr=0.05, batch_size=32, seed=1, **QUIET)
    whole, whole_method = mlp(), zoo.method(SLUG, eta=1.0)
    zoo.train(whole, (x, y), methods=[whole_method], epochs=2, **options)
    first = mlp()
    zoo.train(first, (x, y), methods=[zoo.method(SLUG, eta=1.0)], epochs=1, out_dir=tmp_path / "run", **options)
    resumed, resumed_method = mlp(), zoo.method(SLUG, eta=1.0)
    zoo.train(resumed, (x, y), methods=[resumed_method], epochs=2, out_dir=tmp_path / "run", resume=True, **options)
    for a, b in zip(whole.parameters(), resumed.parameters()):
        assert torch.equal(a, b)
    assert torch.equal(whole_method.state_dict()["generator"], resumed_method.state_dict()["generator"])
    assert whole_method.last_sigma == resumed_method.last_sigma == pytest.approx(noise_std(7, 1.0))


def test_bad_inputs_are_refused():
    with pytest.raises(ConfigError, match="gamma"):
        zoo.method(SLUG, gama=0.5)
    with pytest.raises(ConfigError):
        zoo.method(SLUG, eta=-1.0)
    frozen = mlp()
    for p in frozen.parameters():
        p.requires_grad_(False)
    with pytest.raises(MethodMismatchError, match="gradient-noise.*Sequential.*trainable"):
        zoo.train(frozen, data(), methods=[SLUG], epochs=1, **QUIET)


class TrainsItself(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = mlp()

    def forward(self, x):
        return self.net(x)

    def training_step(self, batch, step):
        loss = nn.functional.cross_entropy(self(batch[0]), batch[1])
        step.backward(loss)
        step.step()
        return {"loss": loss}


def test_a_model_with_its_own_training_step_is_refused():
    with pytest.raises(MethodMismatchError, match="own training_step"):
        zoo.train(TrainsItself(), data(), methods=[SLUG], epochs=1, **QUIET)
