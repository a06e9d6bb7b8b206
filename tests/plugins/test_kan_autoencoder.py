"""kan-autoencoder: conformance, the paper's encoder/decoder structure, bad input, the
reconstruction task, and training through zoo.train."""

from __future__ import annotations

import pytest
import torch

import zoo
from zoo.errors import ConfigError
from zoo.testing import assert_conforms
from zoo_plugins.kan.model import KANLayer


def test_conforms_default_and_unbounded_output():
    assert_conforms("kan-autoencoder")
    assert_conforms("kan-autoencoder", input_shape=[5], hidden=4, latent_dim=2, output_activation="none", k=1)


def test_encoder_and_decoder_are_kan_relu_dense():
    model = zoo.create("kan-autoencoder", hidden=6, latent_dim=3)
    kinds = [type(m) for m in (*model.encoder, *model.decoder)]
    assert kinds == [KANLayer, torch.nn.ReLU, torch.nn.Linear] * 2
    x = torch.rand(5, 1, 8, 8)
    z = model.encode(x)
    assert z.shape == (5, 3)
    out = model.decode(z)
    assert out.shape == x.shape and torch.equal(out, model(x))
    assert 0 <= out.min() and out.max() <= 1  # sigmoid output for [0, 1] data


@pytest.mark.parametrize("bad, error, match", [
    (torch.rand(2, 64), ValueError, r"\(batch, 1, 8, 8\)"),
    (torch.rand(2, 1, 8, 7), ValueError, r"\(batch, 1, 8, 8\)"),
    (torch.ones(2, 1, 8, 8, dtype=torch.long), TypeError, "floating-point"),
])
def test_bad_input_names_the_expected_shape(bad, error, match):
    with pytest.raises(error, match=match):
        zoo.create("kan-autoencoder")(bad)


def test_decode_checks_the_code_shape():
    with pytest.raises(ValueError, match=r"\(batch, 8\)"):
        zoo.create("kan-autoencoder").decode(torch.rand(2, 7))


@pytest.mark.parametrize("config", [
    {"hidden": 0}, {"latent_dim": 0}, {"input_shape": []}, {"input_shape": [0, 8]}, {"k": 11},
    {"grid_range": (0.0, 0.0)}, {"output_activation": "tanh"},
])
def test_out_of_range_configs_fail_at_create(config):
    with pytest.raises(ConfigError):
        zoo.create("kan-autoencoder", **config)


def test_reconstruction_task_targets_are_the_inputs():
    task = zoo.get_task("digits/reconstruction")
    x, y = task.splits()["test"][:4]
    assert x.shape == (4, 1, 8, 8) and torch.equal(x, y) and 0 <= x.min() and x.max() <= 1
    assert sum(len(s) for s in task.splits().values()) == 1797
    with pytest.raises(ValueError, match="reconstruction"):
        zoo.create("kan-autoencoder", task="digits")


def test_zoo_train_lowers_the_loss():
    task = zoo.get_task("digits/reconstruction")
    torch.manual_seed(0)
    model = zoo.create("kan-autoencoder", task=task)
    before = zoo.evaluate(model, task, split="test")["mse"]
    zoo.train(model, task, epochs=3, batch_size=64, lr=1e-2, seed=0)
    assert zoo.evaluate(model, task, split="test")["mse"] < 0.6 * before
