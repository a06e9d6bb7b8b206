"""mlp-kan: conformance, the mixture of MLP and KAN experts with its router, bad input, task
sizing, and training through zoo.train."""

from __future__ import annotations

import pytest
import torch

import zoo
from zoo.errors import ConfigError
from zoo.testing import assert_conforms
from zoo_plugins.kan.model import KAN

TINY = dict(embed_dim=16, depth=1, num_heads=2, ffn_dim=8, num_experts=4, kan_grid=3)


def test_conforms_on_images_and_vectors():
    assert_conforms("mlp-kan", variant="digits", **TINY)
    assert_conforms("mlp-kan", variant="function", **TINY)


def test_variants_build():
    for variant in ("digits", "function"):
        model = zoo.create("mlp-kan", variant=variant)
        shape = model.zoo_identity.config.input_shape
        assert model(torch.rand(2, *shape)).shape == (2, model.zoo_identity.config.output_dim)


def test_experts_are_half_mlp_half_kan_and_routing_matches_the_mixture():
    torch.manual_seed(0)
    model = zoo.create("mlp-kan", variant="function", **TINY)
    moe = model.vit.blocks[0].mlp
    kinds = [type(e).__name__ for e in moe.experts]
    assert kinds == ["Mlp", "Mlp", "KAN", "KAN"] and isinstance(moe.experts[2], KAN)
    tokens = torch.randn(10, 16)
    weights, chosen = moe.routing(tokens)
    assert chosen.shape == (10, 2) and torch.allclose(weights.sum(-1), torch.ones(10))
    expected = torch.stack([
        sum(w * moe.experts[int(e)](t[None])[0] for w, e in zip(weights[i], chosen[i]))
        for i, t in enumerate(tokens)])
    assert torch.allclose(moe(tokens), expected, atol=1e-5)


def test_top_k_all_experts_is_the_dense_softmax_mixture():
    torch.manual_seed(0)
    model = zoo.create("mlp-kan", variant="function", **{**TINY, "top_k": 4})
    moe = model.vit.blocks[0].mlp
    tokens = torch.randn(6, 16)
    probs = torch.softmax(moe.router(tokens), dim=-1)
    dense = sum(probs[:, e, None] * expert(tokens) for e, expert in enumerate(moe.experts))
    assert torch.allclose(moe(tokens), dense, atol=1e-5)


@pytest.mark.parametrize("bad, error, match", [
    (torch.rand(2, 64), ValueError, r"\(batch, 1, 8, 8\)"),
    (torch.rand(2, 3, 8, 8), ValueError, r"\(batch, 1, 8, 8\)"),
    (torch.ones(2, 1, 8, 8, dtype=torch.long), TypeError, "floating-point"),
])
def test_bad_input_names_the_expected_shape(bad, error, match):
    with pytest.raises(error, match=match):
        zoo.create("mlp-kan", variant="digits", **TINY)(bad)


@pytest.mark.parametrize("config", [
    {"num_experts": 3}, {"top_k": 9}, {"embed_dim": 10, "num_heads": 3}, {"input_shape": [1, 8]},
    {"input_shape": [1, 8, 8], "patch_size": 3}, {"kan_grid_range": (1.0, 0.0)}, {"depth": 0},
])
def test_out_of_range_configs_fail_at_create(config):
    with pytest.raises(ConfigError):
        zoo.create("mlp-kan", **config)


def test_tasks_size_the_model():
    digits = zoo.create("mlp-kan", variant="digits", task="digits", **TINY).zoo_identity.config
    assert digits.input_shape == [1, 8, 8] and digits.output_dim == 10
    toy = zoo.create("mlp-kan", variant="function", task="toy/four-var", **TINY).zoo_identity.config
    assert toy.input_shape == [4] and toy.output_dim == 1


def test_zoo_train_lowers_the_loss():
    task = zoo.get_task("toy/exp-sin")
    torch.manual_seed(0)
    model = zoo.create("mlp-kan", variant="function", task=task, **TINY)
    before = zoo.evaluate(model, task, split="test")["rmse"]
    zoo.train(model, task, epochs=3, batch_size=50, lr=3e-3, seed=0)
    assert zoo.evaluate(model, task, split="test")["rmse"] < 0.75 * before
