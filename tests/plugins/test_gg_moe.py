"""gg-moe: conformance, the mixture is sum_k g_k E_k, the Gumbel-Softmax gate's distribution, the
evaluation gate is a fixed Monte Carlo mean, a tiny training that improves, and bad input."""

import pytest
import torch

import zoo
from zoo.testing import assert_conforms
from zoo_plugins.gg_moe.loop import evaluate, fit
from zoo_plugins.gg_moe.model import gumbel_softmax_gate


def test_conforms_default_and_variants():
    for variant in ("default", "moe", "hidden-experts", "periodic"):
        assert_conforms("gg-moe", variant=variant)


def test_output_is_the_gated_sum_of_experts():
    torch.manual_seed(0)
    model = zoo.create("gg-moe", d_in=5, d_out=3, num_experts=4, expert_dim=6, gating="softmax").eval()
    x = torch.randn(7, 5)
    e = model.embed(x).flatten(1)
    g = torch.softmax(e @ model.gate.weight.T + model.gate.bias, dim=-1)
    expected = torch.zeros(7, 3)
    for k in range(4):  # expert k: Linear(width, 6) -> ReLU -> Linear(6, 3)
        hidden = torch.relu(e @ model.first[k] + model.first_bias[k])
        expected += g[:, k:k + 1] * (hidden @ model.second[k] + model.second_bias[k])
    torch.testing.assert_close(model(x), expected)
    linear = zoo.create("gg-moe", d_in=5, d_out=1, num_experts=3, embedding="none", gating="softmax").eval()
    g = torch.softmax(linear.gate(x), -1)
    expected = sum(g[:, k:k + 1] * (x @ linear.first[k] + linear.first_bias[k]) for k in range(3))
    torch.testing.assert_close(linear(x), expected)


def test_gumbel_gate_samples_the_softmax():
    # Gumbel-max: at low temperature the gate is one-hot on expert k with probability softmax(h)_k
    torch.manual_seed(0)
    logits = torch.tensor([[1.0, 0.0, -1.0]]).expand(20000, 3)
    gate = gumbel_softmax_gate(logits, temperature=0.02)
    assert torch.allclose(gate.sum(-1), torch.ones(20000))
    assert (gate.max(-1).values > 0.99).float().mean() > 0.95
    frequency = torch.bincount(gate.argmax(-1), minlength=3).float() / 20000
    assert torch.allclose(frequency, torch.softmax(logits[0], -1), atol=0.015)


def test_evaluation_gate_is_a_fixed_monte_carlo_mean():
    torch.manual_seed(0)
    model = zoo.create("gg-moe", d_in=4, d_out=2)
    x = torch.randn(6, 4)
    model.train()
    assert not torch.allclose(model(x), model(x))  # a fresh gate draw per training forward
    model.eval()
    torch.testing.assert_close(model(x), model(x))
    e = model.embed(x).flatten(1)
    many = torch.stack([model.gate_weights(e) for _ in range(2)])
    assert torch.equal(many[0], many[1])
    model.config = model.config.model_copy(update={"mc_samples": 0})
    torch.testing.assert_close(model.gate_weights(e), torch.softmax(model.gate(e), -1))
    model.config = model.config.model_copy(update={"mc_samples": 1000})
    # the mean of many draws is a smoothed softmax: every expert keeps some weight, rows sum to 1
    averaged = model.gate_weights(e)
    assert torch.allclose(averaged.sum(-1), torch.ones(6)) and (averaged > 0).all()


def test_tiny_training_improves():
    task = zoo.get_task("wine", seed=0)
    torch.manual_seed(0)
    model = zoo.create("gg-moe", task=task)
    before = evaluate(model, task, "test")
    fit(model, task, epochs=15, batch_size=32, lr=3e-3, weight_decay=0.0, patience=15, seed=0)
    after = evaluate(model, task, "test")
    assert after["loss"] < 0.5 * before["loss"] and after["accuracy"] > 0.85


def test_bad_input_and_config():
    model = zoo.create("gg-moe", d_in=3)
    with pytest.raises(ValueError, match=r"\(batch, 3\)"):
        model(torch.randn(4, 5))
    with pytest.raises(TypeError, match="floating-point"):
        model(torch.ones(4, 3, dtype=torch.long))
    for bad in ({"num_experts": 0}, {"temperature": 0.0}, {"gating": "top2"}, {"d_in": 10**6}, {"dropout": 1.0}):
        with pytest.raises(zoo.ConfigError):
            zoo.create("gg-moe", **bad)
    assert zoo.create("gg-moe", task="diabetes").config.d_out == 1  # regression: one target out
    with pytest.raises(ValueError, match="classification or regression"):
        zoo.create("gg-moe", task="forecast/mackey-glass")
