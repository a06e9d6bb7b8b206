"""mlp-mixer: conformance, agreement with timm's MlpMixer, bad input, a few training steps."""

from __future__ import annotations

import pytest
import timm
import torch
from timm.models.mlp_mixer import MlpMixer

import zoo
from zoo.errors import ConfigError
from zoo.tasks import TaskInfo
from zoo.testing import assert_conforms


@pytest.fixture(autouse=True)
def _one_thread():
    """The cores are shared: one intra-op thread avoids oversubscription stalls."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _variant(name: str) -> dict:
    return zoo.resolve_config("mlp-mixer", variant=name)[2].to_dict()


def test_digits_variant_conforms():
    assert_conforms("mlp-mixer", **_variant("digits"))


@pytest.mark.slow
def test_default_variant_conforms():
    assert_conforms("mlp-mixer")


def test_same_weights_same_outputs_as_timm():
    torch.manual_seed(0)
    model = zoo.create("mlp-mixer", variant="digits")
    with torch.no_grad():  # move every weight off its init so the head is not all zeros
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    reference = MlpMixer(num_classes=10, img_size=8, in_chans=1, patch_size=2, num_blocks=4, embed_dim=64)
    reference.load_state_dict(model.state_dict(), strict=True)
    model.eval(), reference.eval()
    x = torch.rand(6, 1, 8, 8)
    out = model(x)
    assert out.abs().max() > 0
    torch.testing.assert_close(out, reference(x))


@pytest.mark.parametrize("variant, timm_name", [
    ("s-16", "mixer_s16_224"), ("s-32", "mixer_s32_224"), ("b-16", "mixer_b16_224"),
    ("b-32", "mixer_b32_224"), ("l-16", "mixer_l16_224"), ("l-32", "mixer_l32_224"),
])
def test_named_variants_are_timms_architectures(variant, timm_name):
    with torch.device("meta"):  # shapes only: no memory, no init cost
        ours = zoo.create("mlp-mixer", variant=variant).state_dict()
        theirs = timm.create_model(timm_name).state_dict()
    assert {k: tuple(v.shape) for k, v in ours.items()} == {k: tuple(v.shape) for k, v in theirs.items()}


def test_wrong_input_shape_and_dtype_name_the_expected_shape():
    model = zoo.create("mlp-mixer", variant="digits")
    with pytest.raises(ValueError, match=r"\(batch, 1, 8, 8\)"):
        model(torch.rand(2, 3, 8, 8))
    with pytest.raises(ValueError, match=r"\(batch, 1, 8, 8\)"):
        model(torch.rand(2, 64))
    with pytest.raises(TypeError, match=r"\(batch, 1, 8, 8\).*uint8"):
        model(torch.zeros(2, 1, 8, 8, dtype=torch.uint8))


@pytest.mark.parametrize("bad", [{"patch_size": 3}, {"patch_size": 0}, {"hidden_dim": 0},
                                 {"token_mlp_ratio": -1.0}, {"dropout": 1.0}, {"num_blocks": 2.5}])
def test_out_of_range_configs_are_refused_at_create(bad):
    with pytest.raises(ConfigError):
        zoo.create("mlp-mixer", variant="digits", **bad)


def test_patch_that_does_not_tile_the_image_says_so():
    with pytest.raises(ConfigError, match="must divide img_size=8"):
        zoo.create("mlp-mixer", img_size=8)


class _ImageTask:
    info = TaskInfo("classification", (1, 8, 8), 10, 10)


def test_sized_from_a_task():
    model = zoo.create("mlp-mixer", variant="s-16", patch_size=4, task=_ImageTask())
    assert (model.config.img_size, model.config.in_chans, model.config.num_classes) == (8, 1, 10)
    assert model(torch.rand(3, 1, 8, 8)).shape == (3, 10)
