"""Tests of the mono-forward method: each layer's update is the gradient of its own cross-entropy of
G_i = a_i M_i^T and nothing else, one block's activations held at a time, prediction from the last
layer's projection, a zoo model with named blocks, exact resume, and refused inputs."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import zoo
from zoo.errors import ConfigError
from zoo.training.method import MethodConflictError, MethodMismatchError
from zoo_plugins.mono_forward.memory import SavedTensorMeter
from zoo_plugins.mono_forward.method import MonoForward, goodness, init_projections, local_cuts, mono_forward_step

SLUG = "mono-forward"


@pytest.fixture(scope="module")
def digits():
    return zoo.get_task("digits")


def mlp(seed: int = 0, hidden: int = 16, depth: int = 3) -> nn.Sequential:
    torch.manual_seed(seed)
    layers: list[nn.Module] = [nn.Flatten()]
    size = 64
    for _ in range(depth):
        layers += [nn.Linear(size, hidden), nn.ReLU()]
        size = hidden
    return nn.Sequential(*layers, nn.Linear(size, 10))


def batch_of(digits, n: int = 32):
    return tuple(t[:n].clone() for t in digits.splits()["train"].tensors[:2])


def projections_for(hidden: int, count: int, seed: int = 1) -> list[nn.Parameter]:
    return [nn.Parameter(m) for m in init_projections([hidden] * count, 10, torch.Generator().manual_seed(seed))]


def test_each_layer_follows_only_its_own_local_loss(digits):
    model = mlp()
    x, y = batch_of(digits)
    projections = projections_for(16, 2)
    loss, local = mono_forward_step(model, (x,), local_cuts(model, None), projections,
                                    lambda s: F.cross_entropy(s, y))
    got = [p.grad.clone() for p in model.parameters()]
    got_m = [m.grad.clone() for m in projections]

    # reference: each layer's gradient of CE(a_i M_i^T) on the detached input a_{i-1} (the paper's rule)
    h0 = x.flatten(1)
    ref = [p.detach().clone().requires_grad_() for p in model.parameters()]
    w1, b1, w2, b2, w3, b3, w4, b4 = ref
    m1, m2 = (m.detach().clone().requires_grad_() for m in projections)
    a1 = F.relu(h0 @ w1.T + b1)
    F.cross_entropy(a1 @ m1.T, y).backward()
    a2 = F.relu(a1.detach() @ w2.T + b2)
    F.cross_entropy(a2 @ m2.T, y).backward()
    a3 = F.relu(a2.detach() @ w3.T + b3)
    last = F.cross_entropy(a3 @ w4.T + b4, y)  # the output Linear is the last layer's projection M_L
    last.backward()
    for g, r in zip(got + got_m, [p.grad for p in ref] + [m1.grad, m2.grad]):
        assert torch.allclose(g, r, atol=1e-6)
    assert torch.allclose(loss, last) and len(local) == 2
    # and it is not backprop: the first layer's gradient differs from the end-to-end one
    model.zero_grad()
    F.cross_entropy(model(x), y).backward()
    assert not torch.allclose(model[1].weight.grad, got[0], atol=1e-4)


def test_goodness_is_activations_times_projection_transposed():
    h, m = torch.randn(5, 2, 3), torch.randn(10, 6)
    assert torch.allclose(goodness(h, m), h.reshape(5, 6) @ m.T)


def test_one_block_of_activations_is_held_at_a_time(digits):
    model = mlp(hidden=200)
    x, y = batch_of(digits, 64)
    projections = projections_for(200, 2)
    held = []
    with SavedTensorMeter(exclude=[*model.parameters(), *projections]) as meter:
        mono_forward_step(model, (x,), local_cuts(model, None), projections, lambda s: F.cross_entropy(s, y),
                          on_block=lambda i: held.append(meter.live))
    activation = 64 * 200 * 4
    # block 2 and 3 each hold their input and output, never block 1's: BP would hold all three
    assert held[1] <= 2 * activation + 4096 and held[2] <= 2 * activation + 4096
    with SavedTensorMeter(exclude=list(model.parameters())) as bp:
        F.cross_entropy(model(x), y).backward()
    assert bp.peak >= 3 * activation > meter.peak
    assert meter.live == 0 and bp.live == 0  # everything held was released after the backward passes


def test_training_learns_and_predicts_with_the_last_projection(digits):
    model = mlp(hidden=64)
    method = zoo.method(SLUG)
    result = zoo.train(model, digits, methods=[method], epochs=3, lr=3e-3, batch_size=64, eval_splits=[],
                       final_splits=["test"], progress=False)
    assert result.final["test_accuracy"] > 0.6  # chance is 0.1
    assert [tuple(m.shape) for m in method.projections] == [(10, 64), (10, 64)]
    x, y = batch_of(digits, 200)
    with torch.no_grad():  # the earlier layers' own goodness classifies too: they learned locally
        a1 = model[2](model[1](model[0](x)))
        assert (goodness(a1, method.projections[0]).argmax(1) == y).float().mean() > 0.5


def test_named_blocks_of_a_zoo_model(digits):
    model = zoo.create("mlp-mixer", variant="digits", task="digits", num_blocks=2, hidden_dim=32)
    method = zoo.method(SLUG, blocks=["stem", "blocks.0", "blocks.1"])
    stem = model.stem.proj.weight.detach().clone()
    zoo.train(model, digits, methods=[method], epochs=1, batch_size=128, eval_splits=[], final_splits=[],
              progress=False)
    assert not torch.equal(stem, model.stem.proj.weight)
    assert [tuple(m.shape) for m in method.projections] == [(10, 16 * 32)] * 2  # the last block trains with the head


def test_exact_resume(digits, tmp_path):
    def run(out, epochs, resume=False):
        model = mlp(hidden=24)
        method = zoo.method(SLUG)
        zoo.train(model, digits, methods=[method], epochs=epochs, batch_size=128, out_dir=out, resume=resume,
                  eval_splits=[], final_splits=[], progress=False)
        return model, method

    whole, whole_method = run(tmp_path / "whole", 2)
    run(tmp_path / "cut", 1)
    resumed, resumed_method = run(tmp_path / "cut", 2, resume=True)
    assert all(torch.equal(a, b) for a, b in zip(whole.parameters(), resumed.parameters()))
    assert all(torch.equal(a, b) for a, b in zip(whole_method.projections, resumed_method.projections))


def test_refusals(digits):
    class Wide(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nn.Linear(64, 10)

        def forward(self, x):
            return self.body(x.flatten(1))

    with pytest.raises(MethodMismatchError, match=r"'mono-forward'.*'Wide'.*nn.Sequential"):
        zoo.train(Wide(), digits, methods=[SLUG], epochs=1, progress=False)
    x = torch.rand(40, 64)
    with pytest.raises(MethodMismatchError, match=r"'mono-forward'.*classification"):
        zoo.train(mlp(), (x.view(40, 1, 8, 8), torch.rand(40, 10)), loss=F.mse_loss, methods=[SLUG], epochs=1,
                  progress=False)
    with pytest.raises(ConfigError, match=r"did you mean 'projection_seed'"):
        zoo.method(SLUG, projection_sed=1)
    with pytest.raises(MethodConflictError, match=r"'dfa' and 'mono-forward' conflict"):
        zoo.train(mlp(), digits, methods=["dfa", SLUG], epochs=1, progress=False)
    with pytest.raises(MethodConflictError, match=r"'mono-forward' replaces the training step.*'ewc'"):
        zoo.train(mlp(), digits, methods=[SLUG, "ewc"], epochs=1, progress=False)
    assert isinstance(zoo.method(SLUG), MonoForward)
