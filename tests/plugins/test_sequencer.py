"""sequencer: conformance, same outputs as timm's Sequencer2d, the BiLSTM2D layer against its
definition, bad input and config, and a few training epochs on digits."""

from __future__ import annotations

import pytest
import timm
import torch
from timm.models.sequencer import Sequencer2d

import zoo
from zoo.errors import ConfigError
from zoo.tasks import ArrayTask, TaskInfo
from zoo.testing import assert_conforms

TINY = {"img_size": 8, "in_chans": 1, "num_classes": 10, "layers": [1, 1], "patch_sizes": [2, 2],
        "embed_dims": [8, 16], "hidden_sizes": [2, 4], "mlp_ratios": [3.0, 3.0]}


@pytest.fixture(autouse=True)
def _one_thread():
    """The cores are shared: one intra-op thread avoids oversubscription stalls."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _variant(name: str) -> dict:
    return zoo.resolve_config("sequencer", variant=name)[2].to_dict()


def test_digits_variant_conforms():
    assert_conforms("sequencer", **_variant("digits"))


@pytest.mark.parametrize("variant", ["s", "m", "l"])
def test_named_variants_conform_when_small(variant):
    # the variant's structure (stages, union) at a tiny width and image, so conformance stays cheap
    assert_conforms("sequencer", variant=variant, img_size=28, embed_dims=[8, 16, 16, 16],
                    hidden_sizes=[2, 4, 4, 4], layers=[1, 1, 1, 1])


def test_ablation_unions_conform():
    assert_conforms("sequencer", **TINY, union="add")
    assert_conforms("sequencer", **TINY, union="vertical", bidirectional=False)
    assert_conforms("sequencer", **{**TINY, "hidden_sizes": [2, 4]}, with_fc=False)


def _perturbed(model):
    with torch.no_grad():  # move every weight off its init so the zero head does not hide differences
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    return model.eval()


def test_same_weights_same_outputs_as_timm_sequencer2d_s():
    torch.manual_seed(0)
    ours = _perturbed(zoo.create("sequencer"))
    reference = timm.create_model("sequencer2d_s").eval()
    reference.load_state_dict(ours.state_dict(), strict=True)
    x = torch.rand(1, 3, 224, 224)
    with torch.no_grad():
        out = ours(x)
        assert out.abs().max() > 0
        torch.testing.assert_close(out, reference(x))


@pytest.mark.parametrize("variant, timm_name", [("s", "sequencer2d_s"), ("m", "sequencer2d_m"),
                                                ("l", "sequencer2d_l")])
def test_named_variants_are_timms_architectures_with_the_papers_sizes(variant, timm_name):
    with torch.device("meta"):  # shapes only: no memory, no init cost
        ours = zoo.create("sequencer", variant=variant)
        theirs = timm.create_model(timm_name)
    assert ({k: tuple(v.shape) for k, v in ours.state_dict().items()}
            == {k: tuple(v.shape) for k, v in theirs.state_dict().items()})
    millions = sum(p.numel() for p in ours.parameters()) / 1e6
    assert round(millions) == {"s": 28, "m": 38, "l": 54}[variant]  # the paper's 28M, 38M, 54M


def test_digits_variant_equals_timm_built_with_the_same_arguments():
    torch.manual_seed(0)
    ours = _perturbed(zoo.create("sequencer", variant="digits"))
    c = ours.config
    reference = Sequencer2d(num_classes=10, in_chans=1, layers=c.layers, patch_sizes=c.patch_sizes,
                            embed_dims=c.embed_dims, hidden_sizes=c.hidden_sizes, mlp_ratios=c.mlp_ratios).eval()
    reference.load_state_dict(ours.state_dict(), strict=True)
    x = torch.rand(5, 1, 8, 8)
    torch.testing.assert_close(ours(x), reference(x))


def test_bilstm2d_is_a_vertical_and_a_horizontal_bilstm_concatenated_then_fc():
    """Paper Sec. 3.2: columns and rows each go through their own BiLSTM; outputs concatenated
    (vertical first), then the point-wise fully connected layer."""
    torch.manual_seed(0)
    model = zoo.create("sequencer", **TINY)
    layer = model.stages[0].blocks[0].rnn_tokens
    x = torch.randn(2, 4, 3, 8)  # (batch, H, W, C): a 4x3 grid
    b, h, w, c = x.shape
    vertical = torch.stack([layer.rnn_v(x[:, :, j, :])[0] for j in range(w)], dim=2)  # each column, top to bottom
    horizontal = torch.stack([layer.rnn_h(x[:, i, :, :])[0] for i in range(h)], dim=1)  # each row, left to right
    expected = layer.fc(torch.cat([vertical, horizontal], dim=-1))
    torch.testing.assert_close(layer(x), expected)
    # a BiLSTM: the backward direction reads the column bottom-up, so the top output depends on the bottom input
    y = x.clone().requires_grad_(True)
    layer.rnn_v(y[:, :, 0, :])[0][:, 0, 2:].sum().backward()
    assert y.grad[:, -1, 0].abs().sum() > 0


def test_token_mixing_reaches_every_position_of_the_grid():
    """Rows then columns: after one block, the output at one patch depends on every patch."""
    torch.manual_seed(0)
    model = _perturbed(zoo.create("sequencer", **{**TINY, "layers": [1], "patch_sizes": [2], "embed_dims": [8],
                                                   "hidden_sizes": [2], "mlp_ratios": [3.0]}))
    x = torch.rand(1, 1, 8, 8, requires_grad=True)
    features = model.forward_features(x)  # (1, 4, 4, C)
    features[0, 0, 0].sum().backward()
    # a patch that shares neither row nor column with patch (0, 0) still reaches it through the rows+columns of
    # the next block; with one block, exactly the same row and column are reached
    patch_grad = x.grad[0, 0].reshape(4, 2, 4, 2).abs().sum(dim=(1, 3))
    reached = patch_grad > 0
    assert reached[0].all() and reached[:, 0].all() and not reached[1:, 1:].any()


def test_wrong_input_shape_and_dtype_name_the_expected_shape():
    model = zoo.create("sequencer", variant="digits")
    with pytest.raises(ValueError, match=r"\(batch, 1, 8, 8\)"):
        model(torch.rand(2, 3, 8, 8))
    with pytest.raises(ValueError, match=r"\(batch, 1, 8, 8\)"):
        model(torch.rand(2, 64))
    with pytest.raises(TypeError, match=r"\(batch, 1, 8, 8\).*uint8"):
        model(torch.zeros(2, 1, 8, 8, dtype=torch.uint8))


@pytest.mark.parametrize("bad", [{"layers": [0]}, {"hidden_sizes": [0]}, {"mlp_ratios": [0.0]}, {"union": "mul"},
                                 {"drop_rate": 1.0}, {"layers": [4, 4]}, {"num_rnn_layers": 0},
                                 {"with_fc": False, "hidden_sizes": [12]}])
def test_out_of_range_configs_are_refused_at_create(bad):
    with pytest.raises(ConfigError):
        zoo.create("sequencer", variant="digits", **bad)


def test_patches_that_do_not_tile_the_image_say_so():
    with pytest.raises(ConfigError, match="must divide img_size=8"):
        zoo.create("sequencer", img_size=8)


class _ImageTask:
    info = TaskInfo("classification", (1, 8, 8), 10, 10)


def test_sized_from_a_task():
    model = zoo.create("sequencer", task=_ImageTask(), layers=[1], patch_sizes=[2], embed_dims=[8],
                       hidden_sizes=[2], mlp_ratios=[3.0])
    assert (model.config.img_size, model.config.in_chans, model.config.num_classes) == (8, 1, 10)
    assert model(torch.rand(3, 1, 8, 8)).shape == (3, 10)


def test_trains_on_digits():
    splits = zoo.get_task("digits").splits()
    x, y = splits["train"].tensors[:2]
    val_x, val_y = splits["val"].tensors[:2]
    task = ArrayTask("digits-part", "classification", {"train": (x, y), "val": (val_x[:128], val_y[:128])},
                     num_classes=10)
    torch.manual_seed(0)
    model = zoo.create("sequencer", variant="digits", layers=[2])
    before = zoo.evaluate(model, task, split="val")["loss"]
    zoo.train(model, task, epochs=2, batch_size=32, lr=3e-3, optimizer="adamw", seed=0, progress=False)
    after = zoo.evaluate(model, task, split="val")
    assert after["loss"] < before - 0.3 and after["accuracy"] > 0.3
