"""tkan: conformance, the paper's cell equations checked step by step, bad input, the task, and
training through zoo.train."""

from __future__ import annotations

import pytest
import torch

import zoo
from zoo.errors import ConfigError
from zoo.testing import assert_conforms

SMALL = dict(hidden=[6, 5], sub_kan_orders=[0, 2, 3], sub_kan_dim=3, output_dim=4)


def test_conforms_small_and_multivariate():
    assert_conforms("tkan", **SMALL)
    assert_conforms("tkan", input_dim=3, hidden=[4], sub_kan_orders=[1], output_dim=2)


def test_default_config_builds_the_papers_two_layers_of_100():
    model = zoo.create("tkan")
    assert [layer.units for layer in model.layers] == [100, 100]
    assert [kan.k for kan in model.layers[0].sub_kans] == [0, 1, 2, 3, 4]
    assert model(torch.randn(2, 5, 1)).shape == (2, 1)


def test_one_layer_follows_the_paper_equations():
    torch.manual_seed(0)
    model = zoo.create("tkan", input_dim=2, hidden=[3], sub_kan_orders=[1, 3], sub_kan_dim=2, output_dim=1)
    layer = model.layers[0]
    x = torch.randn(4, 3, 2)
    h, c = torch.zeros(4, 3), torch.zeros(4, 3)
    sub_h = [torch.zeros(4, 2) for _ in layer.sub_kans]
    for t in range(3):
        z = x[:, t] @ layer.kernel + h @ layer.recurrent_kernel + layer.bias
        i, f, c_tilde = torch.sigmoid(z[:, :3]), torch.sigmoid(z[:, 3:6]), torch.sigmoid(z[:, 6:])
        c = f * c + i * c_tilde
        outs = []
        for l, kan in enumerate(layer.sub_kans):
            s = x[:, t] @ layer.sub_input_kernel[l] + sub_h[l] @ layer.sub_state_kernel[l]
            o = kan(s)
            sub_h[l] = layer.sub_memory[l, 0] * o + layer.sub_memory[l, 1] * sub_h[l]
            outs.append(o)
        h = torch.sigmoid(layer.output_gate(torch.cat(outs, dim=-1))) * torch.tanh(c)
    assert torch.allclose(layer(x)[:, -1], h, atol=1e-6)
    assert torch.allclose(model(x), model.head(h), atol=1e-6)


def test_univariate_series_may_omit_the_feature_axis():
    model = zoo.create("tkan", **SMALL)
    x = torch.randn(3, 7)
    assert torch.equal(model(x), model(x.unsqueeze(-1)))


@pytest.mark.parametrize("bad, error, match", [
    (torch.randn(2, 5, 3), ValueError, r"\(batch, time, 1\)"),
    (torch.randn(2), ValueError, r"\(batch, time, 1\)"),
    (torch.ones(2, 5, 1, dtype=torch.long), TypeError, "floating-point"),
])
def test_bad_input_names_the_expected_shape(bad, error, match):
    with pytest.raises(error, match=match):
        zoo.create("tkan", **SMALL)(bad)


@pytest.mark.parametrize("config", [
    {"hidden": []}, {"hidden": [4, 0]}, {"sub_kan_orders": []}, {"sub_kan_orders": [11]},
    {"grid": 0}, {"grid_range": (1.0, -1.0)}, {"sub_kan_dim": 0}, {"output_dim": 0},
])
def test_out_of_range_configs_fail_at_create(config):
    with pytest.raises(ConfigError):
        zoo.create("tkan", **config)


def test_mackey_glass_task_sizes_the_model_and_splits_chronologically():
    task = zoo.get_task("forecast/mackey-glass", lookback=16, horizon=4, length=600)
    splits = task.splits()
    x, y = splits["train"][0]
    assert x.shape == (16, 1) and y.shape == (4,)
    # consecutive windows overlap: the series is sliced, not shuffled
    assert torch.equal(splits["train"][1][0][:-1], splits["train"][0][0][1:])
    model = zoo.create("tkan", task=task, hidden=[4], sub_kan_orders=[1])
    assert model.zoo_identity.config.output_dim == 4
    with pytest.raises(ValueError, match="lookback"):
        zoo.get_task("forecast/mackey-glass", lookback=0)


def test_zoo_train_lowers_the_loss():
    task = zoo.get_task("forecast/mackey-glass", lookback=8, horizon=2, length=300)
    torch.manual_seed(0)
    model = zoo.create("tkan", task=task, hidden=[6], sub_kan_orders=[1], sub_kan_dim=2)
    before = zoo.evaluate(model, task, split="train")["loss"]
    zoo.train(model, task, epochs=6, batch_size=32, lr=1e-2, seed=0)
    assert zoo.evaluate(model, task, split="train")["loss"] < 0.6 * before
