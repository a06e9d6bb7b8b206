"""Tests of the `collaborative-ff` method: the FF and CFF objectives against their equations (no
gradient between layers; CFF's logit is the network's goodness with the other layers held constant),
the label embedding and goodness readout, training through zoo.train, exact resume, save/load, and
refusals."""

from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import zoo
from zoo.errors import ConfigError
from zoo.training.method import MethodMismatchError
from zoo_plugins.collaborative_ff.method import (embed_label, ff_logits, ff_loss, goodness, goodness_per_label,
                                                 layer_activities, normalize, thresholds_of, wrong_labels)

TRAIN = {"batch_size": 64, "eval_splits": [], "final_splits": [], "progress": False, "device": "cpu",
         "optimizer": "adam", "lr": 0.01}


def ff_net(width=32, layers=3):
    modules, d = [nn.Flatten()], 64
    for _ in range(layers):
        modules += [nn.Linear(d, width), nn.ReLU()]
        d = width
    return nn.Sequential(*modules)


def linears(model):
    return [m for m in model if isinstance(m, nn.Linear)]


# --- the equations ----------------------------------------------------------------------------------


def test_label_is_written_one_hot_into_the_first_pixels_and_the_rest_is_kept():
    x = torch.rand(5, 1, 8, 8) + 0.5
    y = torch.tensor([0, 3, 9, 3, 7])
    embedded = embed_label(x, y, 10)
    assert torch.equal(embedded[:, :10], F.one_hot(y, 10).float())
    assert torch.equal(embedded[:, 10:], x.reshape(5, -1)[:, 10:])


def test_each_layer_reads_the_normalised_activity_below_and_no_gradient_crosses_layers():
    torch.manual_seed(0)
    layers = linears(ff_net())
    x = torch.rand(6, 64)
    acts = layer_activities(layers, x)
    assert torch.allclose(acts[1], F.relu(layers[1](normalize(acts[0]))))
    assert torch.allclose(normalize(acts[0]).norm(dim=1), torch.ones(6), atol=1e-3)
    goodness(acts[2]).sum().backward()  # the top layer's goodness moves only the top layer
    assert layers[2].weight.grad is not None and layers[2].weight.grad.abs().sum() > 0
    assert layers[0].weight.grad is None and layers[1].weight.grad is None


def test_ff_logit_is_own_goodness_minus_threshold_and_cff_adds_the_other_layers_held_constant():
    goods = [torch.tensor([1.0, 3.0], requires_grad=True), torch.tensor([2.0, 0.5], requires_grad=True),
             torch.tensor([4.0, 1.0], requires_grad=True)]
    theta = [2.0, 2.0, 2.0]
    plain = ff_logits(goods, theta, collaboration=False)
    assert all(torch.equal(p, g - 2.0) for p, g in zip(plain, goods))
    collab = ff_logits(goods, theta, collaboration=True)
    total = goods[0] + goods[1] + goods[2]
    for logit in collab:  # every layer sees the network's goodness against the summed threshold
        assert torch.allclose(logit, total - 6.0)
    collab[1].sum().backward()  # ... but moves only its own goodness
    assert goods[1].grad is not None and torch.equal(goods[1].grad, torch.ones(2))
    assert goods[0].grad is None and goods[2].grad is None


def test_cff_gradient_of_a_layer_is_scaled_by_the_whole_networks_confidence():
    torch.manual_seed(0)
    layers = linears(ff_net())
    x, y = torch.rand(16, 64), torch.randint(0, 10, (16,))
    y_neg = wrong_labels(y, 10)
    theta = thresholds_of(layers, 2.0)
    grads = {}
    for collab in (False, True):
        for layer in layers:
            layer.zero_grad()
        ff_loss(layers, x, y, y_neg, 10, theta, collab)[0].backward()
        grads[collab] = layers[0].weight.grad.clone()
    assert not torch.allclose(grads[False], grads[True])  # the other layers' goodness changes layer 0's update


def test_wrong_labels_are_never_the_true_label_and_cover_every_other_class():
    y = torch.full((2000,), 4)
    wrong = wrong_labels(y, 10, torch.Generator().manual_seed(0))
    assert not torch.any(wrong == y)
    assert set(wrong.tolist()) == set(range(10)) - {4}


def test_prediction_sums_goodness_over_layers_per_label_and_hintons_readout_skips_the_first():
    torch.manual_seed(0)
    layers = linears(ff_net())
    x = torch.rand(4, 1, 8, 8)
    theta = thresholds_of(layers, 2.0)
    whole = goodness_per_label(layers, x, 10, theta)
    hinton = goodness_per_label(layers, x, 10, theta, skip_first=True)
    for label in (0, 7):
        acts = layer_activities(layers, embed_label(x, torch.full((4,), label), 10))
        later = goodness(acts[1]) - 2.0 + goodness(acts[2]) - 2.0
        assert torch.allclose(hinton[:, label], later, atol=1e-6)
        assert torch.allclose(whole[:, label], later + goodness(acts[0]) - 2.0, atol=1e-6)


# --- through zoo.train --------------------------------------------------------------------------------


@pytest.mark.parametrize("collaboration", [True, False])
def test_trains_a_plain_mlp_and_evaluation_reads_the_goodness(collaboration):
    torch.manual_seed(0)
    model = ff_net()
    method = zoo.method("collaborative-ff", collaboration=collaboration)
    before = [p.detach().clone() for p in model.parameters()]
    zoo.train(model, "digits", methods=[method], epochs=1, **{**TRAIN, "max_steps": 3})
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters()))
    x = torch.rand(3, 1, 8, 8)
    assert torch.allclose(model(x), goodness_per_label(linears(model), x, 10, thresholds_of(linears(model), 2.0)))
    assert model(x).shape == (3, 10)


def test_exact_resume_matches_an_uninterrupted_run(tmp_path):
    def run(out, epochs, resume=False):
        torch.manual_seed(1)
        model = ff_net()
        zoo.train(model, "digits", methods=[zoo.method("collaborative-ff")], epochs=epochs, out_dir=out,
                  resume=resume, **{**TRAIN, "batch_size": 32, "seed": 3})
        return model

    straight = run(tmp_path / "a", 2)
    run(tmp_path / "b", 1)
    resumed = run(tmp_path / "b", 2, resume=True)
    for p, q in zip(straight.parameters(), resumed.parameters()):
        assert torch.equal(p, q)


def test_refuses_a_catalog_model_that_is_not_an_ff_mlp():
    torch.manual_seed(0)
    model = zoo.create("mlp-mixer", variant="digits", task="digits", hidden_dim=16, num_blocks=1)
    with pytest.raises(MethodMismatchError, match="collaborative-ff.*mlp-mixer.*nn.Sequential MLP"):
        zoo.train(model, "digits", methods=["collaborative-ff"], epochs=1, **TRAIN)


def test_unknown_option_is_refused_with_a_suggestion():
    with pytest.raises(ConfigError, match="colaboration|collaboration"):
        zoo.method("collaborative-ff", colaboration=False)


def test_refuses_models_with_an_output_layer_or_too_narrow_an_input():
    with_head = nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))
    with pytest.raises(MethodMismatchError, match="collaborative-ff.*Sequential.*nn.Linear \\+ nn.ReLU"):
        zoo.train(with_head, "digits", methods=["collaborative-ff"], epochs=1, **TRAIN)
    narrow = nn.Sequential(nn.Linear(4, 8), nn.ReLU())
    x, y = torch.rand(32, 4), torch.randint(0, 10, (32,))
    with pytest.raises(MethodMismatchError, match="at least 10 inputs"):
        zoo.train(narrow, (x, y), methods=["collaborative-ff"], epochs=1, loss=F.cross_entropy, **TRAIN)


def test_saved_zoo_repo_records_the_method_and_reloads_to_the_same_outputs(tmp_path):
    """A zoo catalog model cannot carry FF (it has an output layer), so the round trip is checked on a
    trained run directory of a plain FF MLP: the run's checkpoint lists the method."""
    torch.manual_seed(0)
    model = ff_net()
    zoo.train(model, "digits", methods=["collaborative-ff"], epochs=1, out_dir=tmp_path / "run",
              **{**TRAIN, "max_steps": 2})
    assert model.zoo_methods[0]["name"] == "collaborative-ff"
    report = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert report["methods"][0]["name"] == "collaborative-ff"
    fresh = ff_net()
    from safetensors.torch import load_model

    load_model(fresh, str(tmp_path / "run" / "model.safetensors"))
    from zoo.training.method import apply_structural

    apply_structural(fresh, [zoo.method("collaborative-ff")])
    x = torch.rand(5, 1, 8, 8)
    assert torch.equal(fresh(x), model(x))
