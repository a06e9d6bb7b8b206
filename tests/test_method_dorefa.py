"""Tests of the `dorefa` method: DoReFa-Net's quantizers against the paper's equations, the layer swap,
training through zoo.train, exact resume, save/load, composition with a step method, and refusals."""

from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import zoo
from zoo.errors import ConfigError
from zoo.training.method import Method, MethodConflictError, MethodMismatchError, resolve_methods
from zoo_plugins.dorefa.method import (DoReFaConv2d, DoReFaLinear, apply_dorefa, quantize_activations,
                                       quantize_gradient, quantize_weights, with_quantized_gradient)

TRAIN = {"batch_size": 64, "eval_splits": [], "final_splits": [], "progress": False, "device": "cpu"}


def tiny_mixer():
    return zoo.create("mlp-mixer", variant="digits", task="digits", hidden_dim=16, num_blocks=1)


def plain_net():
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(),
                         nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, 10))


def digits_subset(n=128):
    split = zoo.get_task("digits").splits()
    return {name: split[name][list(range(min(n, len(split[name]))))] for name in ("train", "val", "test")}


# --- the quantizers, against the equations -----------------------------------------------------------------


def test_one_bit_weights_are_the_layer_mean_magnitude_times_the_sign():  # Eq. 7/8
    w = torch.randn(40, 30)
    q = quantize_weights(w, 1)
    scale = w.abs().mean()
    assert set(q.unique().tolist()) == {scale.item(), -scale.item()}
    assert torch.equal(q, torch.where(w >= 0, scale, -scale))


@pytest.mark.parametrize("bits", [2, 3, 4])
def test_k_bit_weights_take_exactly_2_to_the_k_levels_in_minus_one_one(bits):  # Eq. 9
    w = torch.randn(200, 100) * 3
    q = quantize_weights(w, bits)
    n = 2**bits - 1
    levels = 2 * (torch.arange(n + 1, dtype=torch.float32) / n) - 1
    assert torch.equal(q.unique(), levels)
    # the value is the nearest grid point of tanh(w) / (2 max|tanh w|) + 1/2
    t = torch.tanh(w)
    expected = 2 * torch.round((t / (2 * t.abs().max()) + 0.5) * n) / n - 1
    assert torch.equal(q, expected)


def test_weight_gradients_pass_straight_through_the_rounding():
    w = torch.randn(20, 10, requires_grad=True)
    upstream = torch.randn(20, 10)
    quantize_weights(w, 1).backward(upstream)
    assert torch.equal(w.grad, upstream)  # Eq. 8: dc/dr_i = dc/dr_o
    # k > 1: the gradient of the same formula without the rounding (tanh and max are differentiated)
    w2 = w.detach().clone().requires_grad_(True)
    quantize_weights(w2, 3).backward(upstream)
    w3 = w.detach().clone().requires_grad_(True)
    t = torch.tanh(w3)
    (2 * (t / (2 * t.abs().max()) + 0.5) - 1).backward(upstream)
    assert torch.allclose(w2.grad, w3.grad, atol=1e-6) and w2.grad.abs().sum() > 0


def test_activations_are_clipped_quantized_and_pass_gradients_inside_the_clip_range():  # Eq. 10
    x = torch.linspace(-1, 2, 301, requires_grad=True)
    q = quantize_activations(x, 2)
    assert torch.equal(q.unique(), torch.arange(4, dtype=torch.float32) / 3)
    q.backward(torch.ones_like(q))
    inside = (x > 0) & (x < 1)
    assert torch.all(x.grad[inside] == 1) and torch.all(x.grad[(x < 0) | (x > 1)] == 0)
    assert quantize_activations(x, 32) is x


def test_gradient_quantizer_levels_scale_per_instance_and_unbiasedness():  # Eq. 12
    g = torch.randn(6, 3, 4, 4)
    g[2] = 0  # an all-zero instance stays zero
    bits, n = 3, 7
    q = quantize_gradient(g, bits, generator=torch.Generator().manual_seed(0))
    largest = g.abs().amax(dim=(1, 2, 3), keepdim=True)
    assert torch.equal(q[2], torch.zeros_like(q[2]))
    nonzero = [0, 1, 3, 4, 5]
    grid = q[nonzero] / (2 * largest[nonzero]) + 0.5
    assert torch.allclose(grid * n, torch.round(grid * n), atol=1e-5)  # on the k-bit grid of each instance
    assert grid.min() >= -1e-6 and grid.max() <= 1 + 1e-6
    # stochastic rounding: the mean over many draws is the gradient itself
    generator = torch.Generator().manual_seed(1)
    mean = torch.stack([quantize_gradient(g, bits, generator=generator) for _ in range(4000)]).mean(0)
    assert torch.allclose(mean, g, atol=0.03 * largest.max().item())
    assert not torch.allclose(quantize_gradient(g, bits), g)


def test_layer_uses_the_quantized_output_gradient_for_its_weight_gradient():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 5))
    apply_dorefa(model, 1, 2, 4, quantize_first_last=True)
    layer = model[0]
    assert isinstance(layer, DoReFaLinear)
    x = torch.rand(16, 8)
    upstream = torch.randn(16, 5)
    torch.manual_seed(7)
    out = layer(x)
    out.backward(upstream)
    torch.manual_seed(7)
    quantized = quantize_gradient(upstream, 4)  # the same noise draw as the layer's backward
    x_q = quantize_activations(x, 2)
    assert torch.allclose(layer.weight.grad, quantized.t() @ x_q, atol=1e-6)  # STE through sign (Eq. 8)
    assert torch.allclose(layer.bias.grad, quantized.sum(0), atol=1e-6)
    # forward: the quantized weight on the quantized input
    assert torch.equal(out.detach(), F.linear(x_q, quantize_weights(layer.weight, 1), layer.bias).detach())
    y = torch.randn(3, requires_grad=True)
    assert torch.equal(with_quantized_gradient(y, 4), y)


# --- the layer swap ------------------------------------------------------------------------------------------


def test_prepare_swaps_inner_layers_reusing_parameters_and_keeps_first_and_last():
    model = tiny_mixer()
    before = {name: p for name, p in model.named_parameters()}
    keys = list(model.state_dict())
    zoo.method("dorefa").prepare(model)
    assert {name: p for name, p in model.named_parameters()} == before  # the same Parameter objects
    assert all(a is b for a, b in zip(model.parameters(), before.values()))
    assert list(model.state_dict()) == keys
    assert type(model.stem.proj) is nn.Conv2d and type(model.head) is nn.Linear  # first and last: full precision
    inner = [m for m in model.modules() if isinstance(m, DoReFaLinear)]
    assert len(inner) == 4 and all((m.weight_bits, m.activation_bits, m.gradient_bits) == (1, 2, 6) for m in inner)

    net = plain_net()
    names = apply_dorefa(net, 2, 4, 32, skip=["3"])
    assert names == ["5"] and isinstance(net[5], DoReFaLinear) and type(net[3]) is nn.Linear
    conv = nn.Sequential(nn.Conv2d(1, 4, 3), nn.Conv2d(4, 4, 3, padding=1, stride=2), nn.Conv2d(4, 2, 1))
    apply_dorefa(conv)
    assert isinstance(conv[1], DoReFaConv2d) and conv[1].stride == (2, 2) and conv[1].padding == (1, 1)
    assert conv(torch.rand(2, 1, 9, 9)).shape == (2, 2, 4, 4)


# --- training through zoo.train ---------------------------------------------------------------------------


def test_trains_a_zoo_model_and_a_plain_module_with_quantized_layers():
    data = digits_subset()
    mixer = tiny_mixer()
    zoo.train(mixer, "digits", methods=["dorefa"], epochs=1, **TRAIN)
    inner = [m for m in mixer.modules() if isinstance(m, DoReFaLinear)]
    assert inner and all(quantize_weights(m.weight, 1).unique().numel() == 2 for m in inner)

    net = plain_net()
    start = [p.detach().clone() for p in net.parameters()]
    result = zoo.train(net, data, methods=[zoo.method("dorefa", weight_bits=2, activation_bits=2, gradient_bits=4)],
                       epochs=1, loss=F.cross_entropy, **TRAIN)
    assert isinstance(net[3], DoReFaLinear) and type(net[1]) is nn.Linear and type(net[7]) is nn.Linear
    assert result.steps == 2 and all(not torch.equal(a, b) for a, b in zip(start, net.parameters()))
    # the hidden layer sees 2-bit activations: its input takes at most 4 values
    seen = []
    handle = net[3].register_forward_hook(lambda m, inputs, out: seen.append(quantize_activations(inputs[0], 2)))
    net.eval()
    net(data["test"][0])
    handle.remove()
    assert seen[0].unique().numel() <= 4


def test_resume_is_bitwise_identical(tmp_path):
    data = digits_subset()
    options = dict(loss=F.cross_entropy, **TRAIN)

    def method():
        return zoo.method("dorefa", weight_bits=1, activation_bits=2, gradient_bits=3)

    torch.manual_seed(0)
    whole = plain_net()
    zoo.train(whole, data, methods=[method()], epochs=2, out_dir=tmp_path / "whole", **options)
    torch.manual_seed(0)
    parts = plain_net()
    zoo.train(parts, data, methods=[method()], epochs=1, out_dir=tmp_path / "parts", **options)
    torch.manual_seed(123)  # the resumed run must take its RNG (the gradient noise) from the checkpoint
    resumed = plain_net()
    zoo.train(resumed, data, methods=[method()], epochs=2, out_dir=tmp_path / "parts", resume=True, **options)
    for (name, a), b in zip(whole.named_parameters(), resumed.parameters()):
        assert torch.equal(a, b), name
    state = json.loads(next((tmp_path / "parts" / "checkpoints").glob("*/state.json")).read_text())
    assert [m["name"] for m in state["methods"]] == ["dorefa"] and state["methods"][0]["config"]["gradient_bits"] == 3


def test_save_load_round_trip_gives_the_same_outputs(tmp_path):
    model = tiny_mixer()
    zoo.train(model, "digits", methods=[zoo.method("dorefa", weight_bits=2, activation_bits=4)], epochs=1,
              max_steps=3, **TRAIN)
    zoo.save(model, tmp_path / "repo")
    config = json.loads((tmp_path / "repo" / "config.json").read_text())
    assert [m["name"] for m in config["methods"]] == ["dorefa"]
    assert config["methods"][0]["config"]["weight_bits"] == 2
    loaded = zoo.load(tmp_path / "repo")
    assert isinstance(loaded.blocks[0].mlp_tokens.fc1, DoReFaLinear) and type(loaded.head) is nn.Linear
    x = torch.rand(5, 1, 8, 8)
    model.eval(), loaded.eval()
    with torch.no_grad():
        assert torch.equal(model(x), loaded(x))


# --- with another method ------------------------------------------------------------------------------------


class SignAttack(Method):
    """An FGSM-like step method: replaces the batch by x + eps sign(dL/dx) computed on the model."""

    name = "test-sign-attack"
    saw_quantized = False

    def transform_batch(self, batch, run):
        x, y = batch
        x = x.detach().clone().requires_grad_(True)
        loss = F.cross_entropy(run.model(x), y)
        (grad,) = torch.autograd.grad(loss, x)
        SignAttack.saw_quantized = any(isinstance(m, DoReFaLinear) for m in run.model.modules())
        return (x + 0.1 * grad.sign()).detach(), y


def test_composes_with_a_step_method_in_either_order():
    data = digits_subset()
    trained = []
    for order in ("attack-first", "dorefa-first"):
        torch.manual_seed(0)
        net = plain_net()
        methods = [SignAttack(), zoo.method("dorefa", gradient_bits=4)]
        zoo.train(net, data, methods=methods if order == "attack-first" else methods[::-1], epochs=1,
                  loss=F.cross_entropy, **TRAIN)
        trained.append(net)
    assert SignAttack.saw_quantized  # the adversarial batch is computed on the quantized model
    for a, b in zip(*(net.parameters() for net in trained)):
        assert torch.equal(a, b)  # dorefa acts only at prepare: the order does not matter


# --- refusals -------------------------------------------------------------------------------------------------


def test_unknown_option_is_refused_with_a_suggestion():
    with pytest.raises(ConfigError, match="weight_bits"):
        zoo.method("dorefa", weight_bit=1)
    with pytest.raises(ConfigError):
        zoo.method("dorefa", gradient_bits=0)


def test_model_without_a_layer_to_quantize_is_refused():
    two_layers = nn.Sequential(nn.Flatten(), nn.Linear(64, 16), nn.ReLU(), nn.Linear(16, 10))
    with pytest.raises(MethodMismatchError, match=r"dorefa.*Sequential.*first and the last"):
        zoo.train(two_layers, digits_subset(), methods=["dorefa"], epochs=1, loss=F.cross_entropy, **TRAIN)
    no_layers = nn.Sequential(nn.Flatten(), nn.Identity())
    with pytest.raises(MethodMismatchError, match="Linear"):
        zoo.train(no_layers, digits_subset(), methods=["dorefa"], epochs=1, loss=F.cross_entropy, **TRAIN)


def test_declared_conflict_with_pruning_is_refused():
    class Pruning(Method):  # stands for the lottery-ticket method, whose zero weights DoReFa would revive
        name = "lottery-ticket"

    with pytest.raises(MethodConflictError, match="dorefa.*lottery-ticket"):
        resolve_methods([zoo.method("dorefa"), Pruning()])
    # and why: a zero (pruned) weight does not stay zero
    assert quantize_weights(torch.tensor([0.0, 0.5, -0.5]), 1)[0] != 0
    assert quantize_weights(torch.tensor([0.0, 0.5, -0.5]), 2)[0] != 0
