"""aila: conformance, the inter-layer attention against its formula, the gated mix, every layer reading
all earlier outputs, the baselines' shapes, training, and bad input."""

import math

import pytest
import torch

import zoo
from zoo.testing import assert_conforms
from zoo_plugins.aila.baselines import LSTMBaseline, ResidualMLP, TransformerBaseline
from zoo_plugins.aila.model import LayerAttention


def test_conforms_default_and_variants():
    assert_conforms("aila")
    for variant in ("gated", "plain"):
        assert_conforms("aila", variant=variant, input_dim=6, output_dim=3, hidden_dim=8, layers=2)


def test_layer_attention_formula():
    torch.manual_seed(0)
    attention = LayerAttention(4)
    state, outputs = torch.randn(2, 4), torch.randn(2, 3, 4)
    context, weights = attention(state, outputs)
    for b in range(2):
        q = attention.query.weight @ state[b]
        scores = torch.stack([q @ (attention.key.weight @ outputs[b, j]) for j in range(3)]) / math.sqrt(4)
        alpha = scores.softmax(0)
        torch.testing.assert_close(weights[b], alpha)
        torch.testing.assert_close(context[b], (alpha[:, None] * outputs[b]).sum(0))


def test_every_layer_reads_all_earlier_outputs():
    torch.manual_seed(0)
    model = zoo.create("aila", input_dim=5, output_dim=2, hidden_dim=6, layers=3)
    model(torch.randn(4, 5))
    assert [w.shape for w in model.last_weights] == [(4, 1), (4, 2), (4, 3)]
    assert all(torch.allclose(w.sum(-1), torch.ones(4)) for w in model.last_weights)
    # the first layer's output reaches the last layer directly: zero the middle layer and the output still
    # depends on it through the attention connection
    with torch.no_grad():
        model.layers[1].weight.zero_(), model.layers[1].bias.zero_()
    x = torch.randn(4, 5, requires_grad=True)
    model(x).sum().backward()
    assert x.grad.abs().sum() > 0
    gated = zoo.create("aila", input_dim=5, output_dim=2, hidden_dim=6, layers=3, connection="gated")
    gated(torch.randn(2, 5))
    torch.testing.assert_close(gated.last_weights[2], torch.full((3,), 1 / 3))  # zero logits: the average
    plain = zoo.create("aila", input_dim=5, output_dim=2, hidden_dim=6, layers=3, connection="none")
    plain(torch.randn(2, 5))
    assert plain.last_weights == []


def test_gated_mix_by_hand():
    torch.manual_seed(0)
    model = zoo.create("aila", input_dim=3, output_dim=1, hidden_dim=4, layers=2, connection="gated")
    with torch.no_grad():
        model.gates[1].copy_(torch.tensor([0.0, math.log(3.0)]))  # weights 1/4, 3/4 on h0, h1
    x = torch.randn(5, 3)
    h0 = torch.relu(model.input(x))
    h1 = torch.relu(model.layers[0](h0))  # layer 0 mixes h0 alone
    h2 = torch.relu(model.layers[1](0.25 * h0 + 0.75 * h1))
    torch.testing.assert_close(model(x), model.head(h2))


def test_baselines_shapes():
    x = torch.randn(3, 30, 1)
    assert LSTMBaseline(30, 1, 5)(x).shape == (3, 5)
    assert TransformerBaseline(30, 1, 5)(x).shape == (3, 5)
    assert ResidualMLP(30, 5)(x).shape == (3, 5)
    assert LSTMBaseline(8, 8, 10)(torch.rand(2, 1, 8, 8)).shape == (2, 10)


def test_training_improves():
    torch.manual_seed(0)
    x = torch.randn(256, 6)
    y = torch.sin(x[:, :2]).sum(1, keepdim=True) + x[:, 2:3] * x[:, 3:4]
    model = zoo.create("aila", input_dim=6, output_dim=1, hidden_dim=16, layers=2)
    mse = lambda: torch.nn.functional.mse_loss(model(x), y).item()  # noqa: E731
    before = mse()
    zoo.train(model, (x, y), loss=torch.nn.functional.mse_loss, optimizer="adam", lr=1e-2, batch_size=64, epochs=15,
              eval_splits=[], final_splits=[])
    assert mse() < 0.3 * before


def test_bad_input_and_config():
    model = zoo.create("aila", input_dim=4, output_dim=2)
    with pytest.raises(ValueError, match=r"\(batch, 4\)"):
        model(torch.randn(3, 5))
    with pytest.raises(TypeError, match="floating-point"):
        model(torch.ones(3, 4, dtype=torch.long))
    for bad in ({"layers": 0}, {"connection": "dense"}, {"dropout": 1.0}, {"hidden_dim": 10**6}):
        with pytest.raises(zoo.ConfigError):
            zoo.create("aila", **bad)
