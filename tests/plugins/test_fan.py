"""fan: conformance, the FAN layer's formula and parameter saving, p_ratio=0 as the MLP baseline,
bad input, and training that lowers the loss on a periodic task."""

import pytest
import torch
import torch.nn.functional as F

import zoo
from zoo.testing import assert_conforms


def test_conforms_fan_and_mlp_variant():
    assert_conforms("fan")
    assert_conforms("fan", variant="mlp", hidden_dim=64)
    assert_conforms("fan", p_bias=True, hidden_dim=64, in_features=3, out_features=2)


def test_layer_matches_the_paper_formula():
    torch.manual_seed(0)
    model = zoo.create("fan", hidden_dim=16, num_layers=2)
    layer = model.layers[0]
    assert (layer.d_p, layer.d_pbar) == (4, 8)
    x = torch.randn(5, 1)
    w_p, w_pbar = layer.weight[:4], layer.weight[4:]
    expected = torch.cat([torch.cos(x @ w_p.T), torch.sin(x @ w_p.T), F.gelu(x @ w_pbar.T + layer.bias_pbar)], -1)
    torch.testing.assert_close(layer(x), expected)


def test_fewer_parameters_than_the_mlp_of_equal_size():
    fan = zoo.create("fan", hidden_dim=256)
    mlp = zoo.create("fan", variant="mlp", hidden_dim=256)
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    # hidden FAN layer: d*(3d/4) weights + d/2 biases, against d*d + d for the MLP layer
    assert count(mlp) - count(fan) == (256 * 256 + 256) - (256 * 192 + 128) + (256 + 256) - (192 + 128)


def test_mlp_variant_is_a_plain_mlp():
    torch.manual_seed(0)
    model = zoo.create("fan", variant="mlp", hidden_dim=8)
    x = torch.randn(3, 1)
    h = F.gelu(F.linear(x, model.layers[0].weight, model.layers[0].bias_pbar))
    h = F.gelu(F.linear(h, model.layers[1].weight, model.layers[1].bias_pbar))
    torch.testing.assert_close(model(x), model.output(h))


def test_bad_input_and_config():
    model = zoo.create("fan", hidden_dim=8, in_features=2)
    with pytest.raises(ValueError, match=r"\(batch, 2\)"):
        model(torch.randn(4, 3))
    with pytest.raises(TypeError, match="floating-point"):
        model(torch.ones(4, 2, dtype=torch.long))
    for bad in ({"p_ratio": 0.5}, {"num_layers": 1}, {"hidden_dim": 1}, {"activation": "sin"}):
        with pytest.raises(zoo.ConfigError):
            zoo.create("fan", **bad)


def test_periodic_task_splits_in_and_out_of_range():
    task = zoo.get_task("periodic/mod")
    splits = task.splits()
    x_train, x_test = splits["train"].tensors[0], splits["test"].tensors[0]
    assert x_train.abs().max() <= 20 and x_test.abs().min() >= 20 and x_test.abs().max() <= 40
    torch.testing.assert_close(splits["train"].tensors[1], torch.remainder(x_train, 5.0))


def test_training_lowers_the_loss():
    torch.manual_seed(0)
    model = zoo.create("fan", hidden_dim=64, task="periodic/sin")
    before = zoo.evaluate(model, "periodic/sin", split="val")["rmse"]
    zoo.train(model, "periodic/sin", epochs=2, batch_size=128, lr=3e-3, eval_splits=[])
    assert zoo.evaluate(model, "periodic/sin", split="val")["rmse"] < 0.8 * before
