"""resmlp: conformance, agreement with timm's ResMLP, the paper's init, bad input."""

from __future__ import annotations

from functools import partial

import pytest
import timm
import torch
from timm.models.mlp_mixer import Affine, MlpMixer, ResBlock

import zoo
from zoo.errors import ConfigError
from zoo.testing import assert_conforms


@pytest.fixture(autouse=True)
def _one_thread():
    """The cores are shared: one intra-op thread avoids oversubscription stalls."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _variant(name: str) -> dict:
    return zoo.resolve_config("resmlp", variant=name)[2].to_dict()


def test_digits_variant_conforms():
    assert_conforms("resmlp", **_variant("digits"))


@pytest.mark.slow
def test_default_variant_conforms():
    assert_conforms("resmlp")


def test_same_weights_same_outputs_as_timm():
    torch.manual_seed(0)
    model = zoo.create("resmlp", variant="digits")
    with torch.no_grad():  # LayerScale starts at 0.1: make every branch count
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    reference = MlpMixer(num_classes=10, img_size=8, in_chans=1, patch_size=2, num_blocks=4, embed_dim=64,
                         mlp_ratio=4, block_layer=partial(ResBlock, init_values=0.1), norm_layer=Affine)
    reference.load_state_dict(model.state_dict(), strict=True)
    model.eval(), reference.eval()
    x = torch.rand(6, 1, 8, 8)
    torch.testing.assert_close(model(x), reference(x))


@pytest.mark.parametrize("variant, timm_name", [
    ("s12", "resmlp_12_224"), ("s24", "resmlp_24_224"), ("s36", "resmlp_36_224"), ("b24-8", "resmlp_big_24_224"),
])
def test_named_variants_are_timms_architectures(variant, timm_name):
    with torch.device("meta"):  # shapes only: no memory, no init cost
        ours = zoo.create("resmlp", variant=variant).state_dict()
        theirs = timm.create_model(timm_name).state_dict()
    assert {k: tuple(v.shape) for k, v in ours.items()} == {k: tuple(v.shape) for k, v in theirs.items()}


@pytest.mark.parametrize("variant, scale", [("s12", 0.1), ("s24", 1e-5), ("s36", 1e-6)])
def test_layerscale_starts_where_the_paper_says(variant, scale):
    with torch.device("meta"):
        model = zoo.create("resmlp", variant=variant)
    assert model.config.layerscale_init == scale


def test_initialisation_follows_the_authors():
    torch.manual_seed(0)
    model = zoo.create("resmlp", variant="digits", hidden_dim=128)
    block = model.blocks[0]
    assert torch.all(block.ls1 == 0.1) and torch.all(block.ls2 == 0.1)
    assert torch.all(block.norm1.alpha == 1) and torch.all(block.norm1.beta == 0)
    fc = block.mlp_channels.fc1.weight  # 512 x 128 draws from timm's trunc_normal_(std=0.02)
    assert abs(fc.std().item() - 0.02) < 0.001
    assert torch.all(block.mlp_channels.fc1.bias == 0)
    assert model.head.weight.abs().sum() > 0  # the authors do not zero the head, unlike timm


def test_wrong_input_shape_and_dtype_name_the_expected_shape():
    model = zoo.create("resmlp", variant="digits")
    with pytest.raises(ValueError, match=r"\(batch, 1, 8, 8\)"):
        model(torch.rand(2, 1, 16, 16))
    with pytest.raises(TypeError, match=r"\(batch, 1, 8, 8\).*int64"):
        model(torch.zeros(2, 1, 8, 8, dtype=torch.long))


@pytest.mark.parametrize("bad", [{"patch_size": 3}, {"layerscale_init": 0.0}, {"layerscale_init": 2.0},
                                 {"mlp_ratio": 0.0}, {"img_size": "8"}, {"depth": 12}])
def test_out_of_range_configs_are_refused_at_create(bad):
    with pytest.raises(ConfigError):
        zoo.create("resmlp", variant="digits", **bad)
