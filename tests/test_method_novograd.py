"""Tests of the novograd method: one step equals Eqs. 2-7 computed by hand (first-step
initialisation, layer-wise v, decoupled weight decay inside m), agreement with pytorch_optimizer's
NovoGrad where both implement the paper (eps = 0), picked by name in zoo.train, a zoo model,
exact resume, and refused inputs."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

import zoo
from zoo.errors import ConfigError
from zoo.training.method import MethodConflictError
from zoo_plugins.novograd.method import NovoGrad, novograd_update

SLUG = "novograd"
QUIET = {"eval_splits": [], "final_splits": [], "progress": False, "device": "cpu"}


def tiny(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(3, 2), nn.Tanh(), nn.Linear(2, 2))


def grads_of(model, x):
    model.zero_grad()
    model(x).square().mean().backward()
    return [p.grad.clone() for p in model.parameters()]


def test_two_steps_equal_the_papers_equations_by_hand():
    lr, b1, b2, d, eps = 0.1, 0.95, 0.98, 0.01, 1e-8
    model, x = tiny(), torch.randn(8, 3)
    optimizer = NovoGrad(model.parameters(), lr=lr, betas=(b1, b2), weight_decay=d, eps=eps)
    w = [p.detach().clone() for p in model.parameters()]
    # step 1 (Eq. 6): v1 = ||g1||^2 per layer, m1 = g1 / sqrt(v1 (+ eps)) + d w1
    g = grads_of(model, x)
    optimizer.step()
    v = [gi.pow(2).sum() for gi in g]
    m = [gi / math.sqrt(vi + eps) + d * wi for gi, vi, wi in zip(g, v, w)]
    w = [wi - lr * mi for wi, mi in zip(w, m)]
    for p, wi in zip(model.parameters(), w):
        assert torch.allclose(p, wi, atol=1e-7)
    assert all(optimizer.state[p]["v"].dim() == 0 for p in model.parameters())  # one scalar per layer
    # step 2 (Eqs. 2, 5, 7)
    g = grads_of(model, x)
    optimizer.step()
    v = [b2 * vi + (1 - b2) * gi.pow(2).sum() for vi, gi in zip(v, g)]
    m = [b1 * mi + (gi / torch.sqrt(vi + eps) + d * wi) for mi, gi, vi, wi in zip(m, g, v, w)]
    w = [wi - lr * mi for wi, mi in zip(w, m)]
    for p, wi in zip(model.parameters(), w):
        assert torch.allclose(p, wi, atol=1e-7)


def test_the_update_is_invariant_to_the_scale_of_a_layers_gradient():
    weight, state_a, state_b = torch.zeros(4), {}, {}
    a, b = weight.clone(), weight.clone()
    for g in (torch.tensor([1.0, -2.0, 0.5, 3.0]), torch.tensor([0.3, 0.1, -1.0, 2.0])):
        novograd_update(a, g, state_a, lr=0.1, beta1=0.9, beta2=0.5, weight_decay=0.0, eps=0.0)
        novograd_update(b, 1000 * g, state_b, lr=0.1, beta1=0.9, beta2=0.5, weight_decay=0.0, eps=0.0)
    assert torch.allclose(a, b, atol=1e-6) and not torch.equal(a, weight)


def test_agrees_with_pytorch_optimizer_novograd_step_by_step():
    pytorch_optimizer = pytest.importorskip("pytorch_optimizer")
    ours, theirs = tiny(), tiny()
    x = torch.randn(16, 3)
    ours_opt = NovoGrad(ours.parameters(), lr=0.05, weight_decay=0.01, eps=0.0)
    theirs_opt = pytorch_optimizer.NovoGrad(theirs.parameters(), lr=0.05, betas=(0.95, 0.98), weight_decay=0.01,
                                            eps=0.0, foreach=False)
    for _ in range(6):
        for model, optimizer in ((ours, ours_opt), (theirs, theirs_opt)):
            optimizer.zero_grad()
            model(x).square().mean().backward()
            optimizer.step()
        for a, b in zip(ours.parameters(), theirs.parameters()):
            assert torch.allclose(a, b, atol=1e-6)


def digits_subset(n: int = 128):
    x, y = zoo.get_task("digits").splits()["train"].tensors[:2]
    return x[:n], y[:n]


def mlp(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 16), nn.ReLU(), nn.Linear(16, 10))


def test_picked_by_name_it_trains_with_novograd_and_the_runs_weight_decay():
    x, y = digits_subset()
    seen = []

    class Spy:
        def zoo_train_start(self, run):
            seen.append(run.optimizers["main"].optimizer)

    model = mlp()
    zoo.train(model, (x, y), optimizer=SLUG, lr=0.05, weight_decay=0.1, epochs=1, batch_size=64, callbacks=[Spy()],
              **QUIET)
    assert isinstance(seen[0], NovoGrad) and seen[0].param_groups[0]["weight_decay"] == 0.1
    assert seen[0].param_groups[0]["betas"] == (0.95, 0.98) and seen[0].param_groups[0]["lr"] == 0.05
    assert all(seen[0].state[p]["v"].dim() == 0 for p in model.parameters())  # it stepped: one v per layer


def test_acts_on_a_zoo_model():
    torch.manual_seed(0)
    model = zoo.create("mlp-mixer", variant="digits", task="digits", hidden_dim=16, num_blocks=2)
    before = [p.detach().clone() for p in model.parameters()]
    result = zoo.train(model, "digits", optimizer=SLUG, lr=0.01, epochs=1, batch_size=128, progress=False,
                       final_splits=["val"], device="cpu")
    assert math.isfinite(result.history[-1]["train_loss"])
    assert all(not torch.equal(a, b) for a, b in zip(before, model.parameters()))


def test_resume_is_bitwise_identical(tmp_path):
    x, y = digits_subset()
    options = dict(optimizer=SLUG, lr=0.02, batch_size=32, seed=1, **QUIET)
    whole = mlp()
    zoo.train(whole, (x, y), epochs=2, **options)
    zoo.train(mlp(), (x, y), epochs=1, out_dir=tmp_path / "run", **options)
    resumed = mlp()
    zoo.train(resumed, (x, y), epochs=2, out_dir=tmp_path / "run", resume=True, **options)
    for a, b in zip(whole.parameters(), resumed.parameters()):
        assert torch.equal(a, b)


def test_bad_inputs_are_refused():
    with pytest.raises(ConfigError, match="beta1"):
        zoo.method(SLUG, beta_1=0.9)
    with pytest.raises(ConfigError):
        zoo.method(SLUG, beta2=1.0)
    with pytest.raises(ConfigError, match="optimizer='sgd'"):
        zoo.train(mlp(), digits_subset(), methods=[SLUG], optimizer="sgd", epochs=1, **QUIET)

    class OtherOptimizer(zoo.Method):
        name = "other-optimizer"

        def build_optimizer(self, params, config):
            return torch.optim.SGD(params, lr=config.lr)

    with pytest.raises(MethodConflictError, match="optimizer slot"):
        zoo.train(mlp(), digits_subset(), methods=[SLUG, OtherOptimizer()], epochs=1, **QUIET)


def test_a_layer_with_a_zero_first_gradient_stays_finite():
    weight, state = torch.ones(3), {}
    novograd_update(weight, torch.zeros(3), state, lr=0.1, beta1=0.95, beta2=0.98, weight_decay=0.01, eps=1e-8)
    assert torch.allclose(weight, torch.full((3,), 1 - 0.1 * 0.01))  # only the decay d w acted
    novograd_update(weight, torch.ones(3), state, lr=0.1, beta1=0.95, beta2=0.98, weight_decay=0.0, eps=1e-8)
    assert torch.isfinite(weight).all() and torch.isfinite(state["v"])
