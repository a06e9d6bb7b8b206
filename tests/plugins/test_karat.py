"""karat: conformance (blockwise and universal), the Fourier-KArAt operator against its formula,
only the softmax replaced in timm's ViT, bad input, and training through zoo.train."""

from __future__ import annotations

import pytest
import torch

import zoo
from zoo.errors import ConfigError
from zoo.testing import assert_conforms
from zoo_plugins.karat.model import FourierKArAtOperator, vit_kwargs

TINY = dict(embed_dim=16, depth=2, num_heads=2, rank=4)


@pytest.mark.parametrize("mode", ["blockwise", "universal"])
def test_conforms(mode):
    assert_conforms("karat", variant="digits", mode=mode, **TINY)


def test_operator_is_the_low_rank_fourier_kan_then_l1_rows():
    torch.manual_seed(0)
    op = FourierKArAtOperator(num_tokens=3, num_heads=2, grid=2, rank=2)
    scores = torch.randn(1, 2, 3, 3)
    coef = op.coef.reshape(2, 3, 4, 2)  # (heads, token q, [cos g=1, cos g=2, sin g=1, sin g=2], rank)
    expected = torch.zeros(1, 2, 3, 3)
    for h in range(2):
        for i in range(3):
            hidden = torch.zeros(2)
            for q in range(3):
                s = scores[0, h, i, q]
                basis = torch.stack([torch.cos(s), torch.cos(2 * s), torch.sin(s), torch.sin(2 * s)])
                hidden += basis @ coef[h, q]
            row = hidden @ op.projection[h]
            expected[0, h, i] = row / row.abs().sum()
    assert torch.allclose(op(scores), expected, atol=1e-5)
    assert torch.allclose(op(scores).abs().sum(-1), torch.ones(1, 2, 3), atol=1e-5)


def test_only_the_attention_activation_differs_from_timms_vit():
    from timm.models.vision_transformer import VisionTransformer

    model = zoo.create("karat", variant="digits", **TINY)
    vit = VisionTransformer(**vit_kwargs(model.zoo_identity.config))
    ours = {k: v.shape for k, v in model.vit.state_dict().items() if ".operator." not in k}
    assert ours == {k: v.shape for k, v in vit.state_dict().items()}


def test_universal_mode_shares_one_operator_across_blocks():
    blockwise = zoo.create("karat", variant="digits", **TINY)
    universal = zoo.create("karat", variant="digits", mode="universal", **TINY)
    ops = [block.attn.operator for block in universal.vit.blocks]
    assert ops[0] is ops[1]
    assert blockwise.vit.blocks[0].attn.operator is not blockwise.vit.blocks[1].attn.operator
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    one_operator = sum(p.numel() for p in ops[0].parameters())
    assert count(blockwise) - count(universal) == one_operator


@pytest.mark.parametrize("bad, error, match", [
    (torch.rand(2, 64), ValueError, r"\(batch, 1, 8, 8\)"),
    (torch.rand(2, 1, 16, 16), ValueError, r"\(batch, 1, 8, 8\)"),
    (torch.ones(2, 1, 8, 8, dtype=torch.long), TypeError, "floating-point"),
])
def test_bad_input_names_the_expected_shape(bad, error, match):
    with pytest.raises(error, match=match):
        zoo.create("karat", variant="digits", **TINY)(bad)


@pytest.mark.parametrize("config", [
    {"grid": 0}, {"rank": 0}, {"mode": "global"}, {"row_norm": "softmax"}, {"embed_dim": 10, "num_heads": 3},
    {"patch_size": 5}, {"input_shape": [8, 8]}, {"mlp_ratio": 0.0},
])
def test_out_of_range_configs_fail_at_create(config):
    with pytest.raises(ConfigError):
        zoo.create("karat", **config)


def test_digits_task_sizes_the_model_and_training_lowers_the_loss():
    task = zoo.get_task("digits")
    torch.manual_seed(0)
    model = zoo.create("karat", variant="digits", task=task, **TINY)
    assert model.zoo_identity.config.num_classes == 10
    before = zoo.evaluate(model, task, split="test")["loss"]
    zoo.train(model, task, epochs=2, batch_size=64, lr=3e-3, seed=0)
    assert zoo.evaluate(model, task, split="test")["loss"] < 0.9 * before
