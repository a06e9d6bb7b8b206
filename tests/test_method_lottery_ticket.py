"""Tests of the lottery-ticket method: magnitude masks, rewinding, the iterative procedure and its resume."""

from __future__ import annotations

import json
import shutil

import pytest
import torch
from torch import nn

import zoo
from zoo.errors import ConfigError
from zoo.training.method import Method, MethodConflictError, MethodMismatchError
from zoo_plugins.lottery_ticket.method import (
    LotteryTicketConfig, attach_masks, dense_state, layer_rates, masks_of, prunable_layers, prune_by_magnitude,
    reinitialize, remaining, rewind)
from zoo_plugins.lottery_ticket.nets import conv2, lenet_300_100

FAST = {"batch_size": 60, "progress": False, "device": "cpu", "eval_splits": [], "final_splits": []}


@pytest.fixture(scope="module")
def digits():
    return zoo.get_task("digits")


def small_lenet(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return lenet_300_100(hidden=(40, 20))


def tiny_mixer(seed: int = 0):
    torch.manual_seed(seed)
    return zoo.create("mlp-mixer", variant="digits", task="digits", hidden_dim=16, num_blocks=1)


def masked(model: nn.Module) -> nn.Module:
    attach_masks(model, prunable_layers(model))
    return model


def pruned_entries_are_zero(model: nn.Module) -> bool:
    return all(bool((module.weight_orig[module.weight_mask == 0] == 0).all())
               for module in model.modules() if hasattr(module, "weight_mask"))


# --- the functional core --------------------------------------------------------------------------------


def test_prune_removes_the_smallest_fraction_of_survivors_in_each_layer():
    model = masked(small_lenet())
    layer = model[1]  # 64 -> 40: 2560 weights
    prune_by_magnitude(model, {"1": 0.2})
    assert int(layer.weight_mask.sum()) == 2560 - 512
    kept, gone = layer.weight_orig[layer.weight_mask == 1].abs(), layer.weight_mask == 0
    first_cut = gone.clone()
    # the pruned weights are the smallest by magnitude (their stored values are zero now, so compare the init)
    torch.manual_seed(0)
    init = lenet_300_100(hidden=(40, 20))[1].weight.detach().abs()
    assert init[gone].max() <= kept.min()
    prune_by_magnitude(model, {"1": 0.2})  # 20% of the 2048 survivors, not of all 2560
    assert int(layer.weight_mask.sum()) == 2048 - round(0.2 * 2048)
    assert bool((layer.weight_mask[first_cut] == 0).all())  # masks only shrink
    assert pruned_entries_are_zero(model)
    assert int(model[3].weight_mask.sum()) == model[3].weight_mask.numel()  # layers not named are untouched


def test_layer_rates_follow_the_paper():
    conv = masked(conv2(width=4))
    rates = layer_rates(prunable_layers(conv), LotteryTicketConfig())
    assert rates == {"0": 0.1, "2": 0.1, "6": 0.2, "8": 0.2, "10": 0.1}  # conv 10%, fc 20%, output half of fc
    rates = layer_rates(prunable_layers(conv), LotteryTicketConfig(output_prune_rate=0.3, conv_prune_rate=0.15,
                                                                   output_layer="8"))
    assert rates == {"0": 0.15, "2": 0.15, "6": 0.2, "8": 0.3, "10": 0.2}


def test_rewind_sets_every_survivor_to_theta0_and_pruned_weights_to_zero(digits):
    model = masked(small_lenet())
    theta0 = dense_state(model)
    zoo.train(model, digits, methods=["lottery-ticket"], epochs=1, **FAST)
    prune_by_magnitude(model, layer_rates(prunable_layers(model), LotteryTicketConfig()))
    rewind(model, theta0)
    for name, module in prunable_layers(model).items():
        assert torch.equal(module.weight_orig, theta0[f"{name}.weight"] * module.weight_mask)
        assert torch.equal(module.bias, theta0[f"{name}.bias"])
        assert 0 < int(module.weight_mask.sum()) < module.weight_mask.numel()


def test_reinitialize_keeps_the_masks_and_draws_new_weights():
    model = masked(small_lenet())
    theta0 = dense_state(model)
    prune_by_magnitude(model, {"1": 0.5, "3": 0.5, "5": 0.5})
    masks = {k: v.clone() for k, v in masks_of(model).items()}
    reinitialize(model, seed=7)
    first = dense_state(model)
    assert pruned_entries_are_zero(model)
    assert all(torch.equal(masks[k], v) for k, v in masks_of(model).items())
    assert not torch.equal(first["1.weight"], theta0["1.weight"] * masks["1"])
    reinitialize(model, seed=7)
    assert all(torch.equal(first[k], v) for k, v in dense_state(model).items())  # seeded
    reinitialize(model, seed=8)
    assert not torch.equal(first["1.weight"], dense_state(model)["1.weight"])


# --- the step method in zoo.train ------------------------------------------------------------------------


class StepWatch:
    """Checks after every optimizer step that the masks are unchanged and the pruned weights are zero."""

    def __init__(self, model):
        self.model, self.masks, self.steps, self.bad = model, {k: v.clone() for k, v in masks_of(model).items()}, 0, 0

    def zoo_train_batch_end(self, run, logs):
        self.steps += 1
        same = all(torch.equal(self.masks[k], v) for k, v in masks_of(self.model).items())
        self.bad += not (same and pruned_entries_are_zero(self.model))


@pytest.mark.parametrize("options", [{"optimizer": "sgd", "momentum": 0.9, "weight_decay": 0.01, "lr": 0.05},
                                     {"optimizer": "adamw", "weight_decay": 0.1, "lr": 0.01}])
def test_sparsity_is_exact_after_every_step(digits, options):
    model = masked(small_lenet())
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():  # masks set from outside: the stored weights under them are not zero yet
        for module in masks_of(model).values():
            module.copy_((torch.rand(module.shape, generator=generator) > 0.6).float())
    assert not pruned_entries_are_zero(model)
    before, _ = remaining(model)
    watch = StepWatch(model)
    zoo.train(model, digits, methods=[zoo.method("lottery-ticket")], epochs=1, callbacks=[watch], **FAST, **options)
    assert watch.steps == 20 and watch.bad == 0
    assert remaining(model)[0] == before
    out = model(torch.rand(3, 1, 8, 8))  # the forward weight is the masked one
    assert out.shape == (3, 10) and bool((model[1].weight[model[1].weight_mask == 0] == 0).all())


def test_exact_resume_with_pruned_masks(digits, tmp_path):
    def pruned():
        model = masked(small_lenet())
        prune_by_magnitude(model, {"1": 0.5, "3": 0.5, "5": 0.25})
        return model

    whole = pruned()
    zoo.train(whole, digits, methods=["lottery-ticket"], epochs=2, **FAST)
    zoo.train(pruned(), digits, methods=["lottery-ticket"], epochs=1, out_dir=tmp_path / "run", **FAST)
    resumed = small_lenet(seed=5)  # another init and no masks: everything must come from the checkpoint
    zoo.train(resumed, digits, methods=["lottery-ticket"], epochs=2, out_dir=tmp_path / "run", resume=True, **FAST)
    a, b = whole.state_dict(), resumed.state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_conforms_on_a_zoo_model_and_saves_its_masks(digits, tmp_path):
    from zoo.testing import assert_method_conforms

    assert_method_conforms("lottery-ticket", tiny_mixer, "digits", train_options={"epochs": 2, "batch_size": 64})
    model = tiny_mixer()
    result = zoo.method("lottery-ticket", rounds=1).run(model, digits, epochs=1, **FAST)
    assert result.model is model and result.remaining < 1
    folder = zoo.save(model, tmp_path / "ticket")
    assert [m["name"] for m in json.loads((folder / "config.json").read_text())["methods"]] == ["lottery-ticket"]
    back = zoo.load(folder)
    x = torch.rand(4, 1, 8, 8)
    assert torch.equal(model.eval()(x), back.eval()(x))
    assert remaining(back) == remaining(model) and pruned_entries_are_zero(back)
    # the ticket trains on under the same masks with the method's defaults, whatever rounds made it
    zoo.train(back, digits, methods=["lottery-ticket"], epochs=1, **FAST)
    assert remaining(back) == remaining(model) and pruned_entries_are_zero(back)
    assert "rounds {0: 100.0% left, 1: 80.9% left}" in repr(result)  # not the masks and histories
    assert set(masks_of(back)) == {"stem.proj", "blocks.0.mlp_tokens.fc1", "blocks.0.mlp_tokens.fc2",
                                   "blocks.0.mlp_channels.fc1", "blocks.0.mlp_channels.fc2", "head"}


# --- the procedure -----------------------------------------------------------------------------------------


def test_procedure_prunes_each_round_at_the_paper_rates(digits):
    model = small_lenet()
    theta0 = {k: v.clone() for k, v in model.state_dict().items()}
    result = zoo.method("lottery-ticket", rounds=2).run(model, digits, epochs=1, **FAST)
    assert [r.round for r in result.rounds] == [0, 1, 2]
    assert result.rounds[0].remaining == 1.0
    sizes = {"1": 64 * 40, "3": 40 * 20, "5": 20 * 10}
    expected = {"1": 0.2, "3": 0.2, "5": 0.1}
    for r in result.rounds[1:]:
        for name, size in sizes.items():
            left = size
            for _ in range(r.round):
                left -= round(expected[name] * left)
            assert r.layers[name] == left / size
            assert int(r.masks[name].sum()) == left
    for earlier, later in zip(result.rounds, result.rounds[1:]):  # masks only shrink
        assert all(bool((later.masks[k] <= earlier.masks[k]).all()) for k in later.masks)
    # the last round started from m * theta_0: its first step is the only thing between them
    assert pruned_entries_are_zero(model)
    assert torch.equal(result.rounds[2].masks["1"], model[1].weight_mask.bool())
    assert not torch.equal(model[1].weight_orig, theta0["1.weight"] * model[1].weight_mask)  # it trained


class Starts:
    def __init__(self):
        self.count = 0

    def zoo_train_start(self, run):
        self.count += 1


def test_procedure_interrupted_between_rounds_resumes_at_the_right_round(digits, tmp_path):
    options = dict(epochs=1, **FAST)
    whole = small_lenet()
    zoo.method("lottery-ticket", rounds=2).run(whole, digits, out_dir=tmp_path / "whole", **options)

    out = tmp_path / "cut"
    zoo.method("lottery-ticket", rounds=2).run(small_lenet(), digits, out_dir=out, **options)
    record = json.loads((out / "procedure.json").read_text())
    assert sorted(record["done"]) == ["round-0", "round-1", "round-2"]
    del record["done"]["round-2"]  # as if stopped after round 1
    (out / "procedure.json").write_text(json.dumps(record))
    shutil.rmtree(out / "round-2")

    starts = Starts()
    resumed = small_lenet(seed=3)  # another init: theta_0 must come from the procedure's init.safetensors
    result = zoo.method("lottery-ticket", rounds=2).run(resumed, digits, out_dir=out, resume=True,
                                                        callbacks=[starts], **options)
    assert starts.count == 1  # only round 2 trained again
    assert [r.round for r in result.rounds] == [0, 1, 2]
    a, b = whole.state_dict(), resumed.state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    with pytest.raises(ConfigError, match="resume"):
        zoo.method("lottery-ticket", rounds=3).run(small_lenet(), digits, out_dir=out, resume=True, **options)


# --- bad input --------------------------------------------------------------------------------------------


class NoLayers(nn.Module):
    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(torch.ones(64, 10))

    def forward(self, x):
        return x.flatten(1) @ self.scale


class FakeDoReFa(Method):
    name = "dorefa"


def test_bad_input_is_refused(digits):
    with pytest.raises(ConfigError, match="prune_rate"):
        zoo.method("lottery-ticket", prune_rat=0.3)
    with pytest.raises(ConfigError):
        zoo.method("lottery-ticket", prune_rate=1.5)
    with pytest.raises(MethodMismatchError, match=r"lottery-ticket.*NoLayers.*Linear"):
        zoo.train(NoLayers(), digits, methods=["lottery-ticket"], epochs=1, **FAST)
    with pytest.raises(MethodMismatchError, match=r"lottery-ticket.*NoLayers.*Linear"):
        zoo.method("lottery-ticket").run(NoLayers(), digits, epochs=1, **FAST)
    with pytest.raises(MethodMismatchError, match="'fc9' is not a module"):
        zoo.train(small_lenet(), digits, methods=[zoo.method("lottery-ticket", layers=["fc9"])], epochs=1, **FAST)
    with pytest.raises(MethodMismatchError, match="output_layer"):
        zoo.train(small_lenet(), digits, methods=[zoo.method("lottery-ticket", layers=["1"], output_layer="5")],
                  epochs=1, **FAST)
    with pytest.raises(MethodConflictError, match="dorefa"):
        zoo.train(small_lenet(), digits, methods=[zoo.method("lottery-ticket"), FakeDoReFa()], epochs=1, **FAST)
