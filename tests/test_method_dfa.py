"""Tests of the dfa method: the DFA update of Nokland's Eq. 3 (and backprop when B_l is the true
transpose), no gradient between blocks, fixed feedback matrices, a zoo model with named blocks, exact
resume, and refused models, options and methods."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import zoo
from zoo.errors import ConfigError
from zoo.training.method import MethodConflictError, MethodMismatchError
from zoo.training.blocks import Cuts, cut_modules
from zoo_plugins.dfa.method import DirectFeedbackAlignment, dfa_objective, feedback_matrices, project_error

SLUG = "dfa"


@pytest.fixture(scope="module")
def digits():
    return zoo.get_task("digits")


def mlp(seed: int = 0, hidden: int = 16) -> nn.Sequential:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Flatten(), nn.Linear(64, hidden), nn.Tanh(), nn.Linear(hidden, hidden), nn.Tanh(),
                         nn.Linear(hidden, 10))


def batch_of(digits, n: int = 32):
    x, y = (t[:n] for t in digits.splits()["train"].tensors[:2])
    return x, y


def dfa_gradients(model, x, y, feedback):
    model.zero_grad()
    _, surrogate = dfa_objective(model, (x,), cut_modules(model, None), feedback, lambda out: F.cross_entropy(out, y))
    surrogate.backward()
    return [p.grad.clone() for p in model.parameters()]


def test_blocks_of_a_sequential_are_cut_after_each_activation():
    model = mlp()
    assert cut_modules(model, None) == [model[2], model[4]]  # the two Tanh: hidden blocks end there


def test_update_is_the_projected_error_times_the_derivative(digits):
    """Nokland Eq. 3: delta a_l = (B_l e) * f'(a_l); dW_l = delta a_l h_{l-1}^T; the output layer gets e."""
    model = mlp()
    x, y = batch_of(digits)
    feedback = feedback_matrices([16, 16], 10, torch.Generator().manual_seed(3))
    grads = dfa_gradients(model, x, y, feedback)

    h0 = x.flatten(1)
    h1 = torch.tanh(model[1](h0))
    h2 = torch.tanh(model[3](h1))
    out = model[5](h2)
    e = (out.softmax(1) - F.one_hot(y, 10)) / len(y)  # dLoss/d(output) of the mean cross-entropy
    d1 = (e @ feedback[0].T) * (1 - h1 ** 2)
    d2 = (e @ feedback[1].T) * (1 - h2 ** 2)
    expected = [d1.T @ h0, d1.sum(0), d2.T @ h1, d2.sum(0), e.T @ h2, e.sum(0)]
    for got, want in zip(grads, expected):
        assert torch.allclose(got, want, atol=1e-6)


def test_with_the_true_transpose_as_feedback_one_hidden_layer_gets_backprop(digits):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 16), nn.Tanh(), nn.Linear(16, 10))
    x, y = batch_of(digits)
    dfa = dfa_gradients(model, x, y, [model[3].weight.detach().T.clone()])
    model.zero_grad()
    F.cross_entropy(model(x), y).backward()
    for got, want in zip(dfa, [p.grad for p in model.parameters()]):
        assert torch.allclose(got, want, atol=1e-6)
    # with a random feedback matrix the first layer's update differs: the test above can fail
    random = dfa_gradients(model, x, y, feedback_matrices([16], 10, torch.Generator().manual_seed(0)))
    assert not torch.allclose(random[0], dfa[0], atol=1e-3)


def test_no_gradient_crosses_a_cut(digits):
    model = mlp()
    x, _ = batch_of(digits, 4)
    with Cuts(cut_modules(model, None)) as cuts:
        out = model(x)
    out.sum().backward()
    assert model[1].weight.grad is None and model[3].weight.grad is None  # the output sends nothing down
    assert model[5].weight.grad is not None
    assert len(cuts.outputs) == 2 and all(h.requires_grad for h in cuts.outputs)


def test_training_keeps_feedback_fixed_and_learns(digits):
    model = mlp(hidden=32)
    method = zoo.method(SLUG)
    before = [p.detach().clone() for p in model.parameters()]
    result = zoo.train(model, digits, methods=[method], epochs=3, lr=3e-3, batch_size=64, eval_splits=[],
                       final_splits=["test"], progress=False)
    assert result.final["test_accuracy"] > 0.5
    assert all(not torch.equal(a, b) for a, b in zip(before, model.parameters()))  # every layer learned
    expected = feedback_matrices([32, 32], 10, torch.Generator().manual_seed(0))  # the run's seed
    assert all(torch.equal(a, b) for a, b in zip(method.state_dict()["feedback"], expected))


def test_named_blocks_of_a_zoo_model(digits):
    model = zoo.create("mlp-mixer", variant="digits", task="digits", num_blocks=2, hidden_dim=32)
    method = zoo.method(SLUG, blocks=["stem", "blocks.0", "blocks.1"])
    stem = model.stem.proj.weight.detach().clone()
    zoo.train(model, digits, methods=[method], epochs=1, batch_size=128, eval_splits=[], final_splits=[],
              progress=False)
    assert not torch.equal(stem, model.stem.proj.weight)  # the first block (before the first cut) learns
    assert [tuple(b.shape) for b in method.feedback] == [(16 * 32, 10)] * 3


def test_position_shared_feedback_gives_every_position_the_same_signal():
    """Launay et al.'s transformers: token positions are batch dimensions, so each position of h_l
    (N, positions, d) receives the same B_l e (B_l: d x E), here scaled by 1/sqrt(positions)."""
    error = torch.randn(5, 10)
    feedback = torch.randn(64, 10)
    signal = project_error(error, feedback, torch.Size([5, 8, 64]))
    for position in range(8):
        assert torch.allclose(signal[:, position], error @ feedback.T / 8 ** 0.5)
    per_unit = torch.randn(8 * 64, 10)  # one row per unit of h_l: a different signal per position
    signal = project_error(error, per_unit, torch.Size([5, 8, 64]))
    assert torch.allclose(signal.flatten(1), error @ per_unit.T)
    assert not torch.allclose(signal[:, 0], signal[:, 1])


def test_position_shared_feedback_on_a_token_model(digits):
    """The zoo's MLP-Mixer has patch tokens: with shared_positions each B_l has one row per channel."""
    model = zoo.create("mlp-mixer", variant="digits", task="digits", num_blocks=2, hidden_dim=32)
    method = zoo.method(SLUG, blocks=["stem", "blocks.0", "blocks.1"], shared_positions=True)
    token_mixing = model.blocks[0].mlp_tokens
    before = [p.detach().clone() for p in token_mixing.parameters()]
    zoo.train(model, digits, methods=[method], epochs=1, batch_size=128, eval_splits=[], final_splits=[],
              progress=False)
    assert [tuple(b.shape) for b in method.feedback] == [(32, 10)] * 3
    assert all(not torch.equal(a, b) for a, b in zip(before, token_mixing.parameters()))


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
    assert all(torch.equal(a, b) for a, b in zip(whole_method.feedback, resumed_method.feedback))


def test_refusals(digits):
    class Branchy(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nn.Linear(64, 10)

        def forward(self, x):
            return self.body(x.flatten(1))

    with pytest.raises(MethodMismatchError, match=r"'dfa'.*'Branchy'.*nn.Sequential"):
        zoo.train(Branchy(), digits, methods=[SLUG], epochs=1, progress=False)
    with pytest.raises(MethodMismatchError, match=r"at least two layers with parameters"):
        zoo.train(nn.Sequential(nn.Flatten(), nn.Linear(64, 10)), digits, methods=[SLUG], epochs=1, progress=False)
    model = zoo.create("mlp-mixer", variant="digits", task="digits", num_blocks=2, hidden_dim=32)
    with pytest.raises(MethodMismatchError, match=r"out of order"):
        zoo.train(model, digits, methods=[zoo.method(SLUG, blocks=["blocks.1", "blocks.0"])], epochs=1,
                  progress=False)
    with pytest.raises(MethodMismatchError, match=r"no submodule 'trunk'"):
        zoo.train(model, digits, methods=[zoo.method(SLUG, blocks=["trunk"])], epochs=1, progress=False)
    with pytest.raises(ConfigError, match=r"did you mean 'blocks'"):
        zoo.method(SLUG, block=["stem"])
    with pytest.raises(MethodConflictError, match=r"'dfa' replaces the training step.*'fgsm-adv-training'"):
        zoo.train(mlp(), digits, methods=[SLUG, "fgsm-adv-training"], epochs=1, progress=False)
    assert isinstance(zoo.method(SLUG), DirectFeedbackAlignment)
