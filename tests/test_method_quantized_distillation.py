"""The quantized-distillation method (Polino, Pascanu & Alistarh, 2018): the bucketed uniform
quantizer of Sec. 2.1 (2^b points per bucket, straight-through gradient), the distillation loss of
Sec. 2.2, the structural change (same Parameters, quantized forward, save/load), the student
following its teacher, exact resume, and what it refuses."""

from __future__ import annotations

import json
import math

import pytest
import torch
from torch import nn

import zoo
from zoo.errors import ConfigError
from zoo.training.method import MethodConflictError, MethodMismatchError
from zoo_plugins.quantized_distillation.method import distillation_loss, quantized_state, uniform_quantize

from train_helpers import Interrupt

NAME = "quantized-distillation"
OPTIONS = {"batch_size": 128, "progress": False, "eval_splits": [], "final_splits": [], "lr": 3e-3}


def student(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))


class ConstantTeacher(nn.Module):
    """A plain torch 'network' that gives the same logits (strongly class 3) for every input."""

    def forward(self, x):
        logits = torch.zeros(x.shape[0], 10)
        logits[:, 3] = 5.0
        return logits


# --- the paper's equations ------------------------------------------------------------------------


@pytest.mark.parametrize("bits", [1, 2, 4])
def test_each_bucket_takes_at_most_2_to_the_b_evenly_spaced_values_between_its_min_and_max(bits):
    torch.manual_seed(0)
    v = torch.randn(1000)  # 3 full buckets of 256 and a short one of 232
    q = uniform_quantize(v, bits, bucket=256)
    s = 2 ** bits - 1
    for start in range(0, 1000, 256):
        chunk, quantized = v[start:start + 256], q[start:start + 256]
        low, high = chunk.min(), chunk.max()
        steps = (quantized - low) / (high - low) * s
        assert torch.allclose(steps, steps.round(), atol=1e-4)  # on the grid low + i (high - low) / s
        assert len(torch.unique(steps.round())) <= s + 1
        assert (quantized - chunk).abs().max() <= (high - low) / (2 * s) + 1e-6  # nearest point
        assert math.isclose(float(quantized.min()), float(low), abs_tol=1e-6)  # min and max are points
        assert math.isclose(float(quantized.max()), float(high), abs_tol=1e-5)


def test_quantizing_twice_changes_nothing_and_the_gradient_passes_straight_through():
    v = torch.randn(3, 50, requires_grad=True)
    q = uniform_quantize(v, 2, bucket=64)
    assert torch.allclose(uniform_quantize(q.detach(), 2, bucket=64), q.detach(), atol=1e-6)
    (q * torch.arange(150.0).view(3, 50)).sum().backward()
    assert torch.allclose(v.grad, torch.arange(150.0).view(3, 50))


def test_distillation_loss_is_the_weighted_average_of_soft_and_hard_cross_entropies():
    student_logits = torch.tensor([[1.0, 0.0, -1.0], [0.0, 2.0, 0.0]])
    teacher_logits = torch.tensor([[0.0, 1.0, 0.0], [3.0, 0.0, 0.0]])
    labels = torch.tensor([0, 1])
    t, w = 2.0, 0.7
    soft_t = torch.softmax(teacher_logits / t, 1)
    soft = -(soft_t * torch.log_softmax(student_logits / t, 1)).sum(1).mean()
    hard = nn.functional.cross_entropy(student_logits, labels)
    expected = w * t * t * soft + (1 - w) * hard
    assert torch.allclose(distillation_loss(student_logits, teacher_logits, labels, t, w), expected)
    assert torch.allclose(distillation_loss(student_logits, None, labels, t, 0.0), hard)


# --- the structural change ------------------------------------------------------------------------


def test_prepare_keeps_the_parameters_and_the_forward_uses_the_quantized_weights():
    model = student()
    weights = [model[1].weight, model[3].weight]
    method = zoo.method(NAME, bits=2, teacher=ConstantTeacher())
    method.prepare(model)
    assert model[1].parametrizations.weight.original is weights[0]
    assert model[3].parametrizations.weight.original is weights[1]
    assert {id(p) for p in model.parameters()} >= {id(w) for w in weights}
    x = torch.rand(4, 1, 8, 8)
    q1, q3 = uniform_quantize(weights[0], 2), uniform_quantize(weights[1], 2)
    by_hand = nn.functional.linear(torch.relu(nn.functional.linear(x.flatten(1), q1, model[1].bias)), q3, model[3].bias)
    assert torch.allclose(model(x), by_hand, atol=1e-6)


def test_the_student_follows_the_teacher_and_its_weights_stay_on_the_grid():
    model = student()
    zoo.train(model, "digits", methods=[zoo.method(NAME, bits=2, teacher=ConstantTeacher())], epochs=2, **OPTIONS)
    x = zoo.get_task("digits").splits()["test"].tensors[0]
    with torch.no_grad():
        assert (model.eval()(x).argmax(1) == 3).float().mean() > 0.95
    for name, weight in quantized_state(model).items():
        for bucket in weight.reshape(-1).split(256):
            assert len(torch.unique(bucket)) <= 4, name


def test_acts_on_a_zoo_catalog_model_and_survives_save_and_load(tmp_path):
    torch.manual_seed(0)
    model = zoo.create("mlp-mixer", variant="digits", task="digits", hidden_dim=16, num_blocks=1)
    zoo.train(model, "digits", methods=[zoo.method(NAME, bits=4, soft_weight=0.0)], epochs=1, **OPTIONS)
    zoo.save(model, tmp_path / "student")
    config = json.loads((tmp_path / "student" / "config.json").read_text())
    assert NAME in json.dumps(config)
    loaded = zoo.load(tmp_path / "student")
    x = torch.rand(3, 1, 8, 8)
    assert torch.equal(model.eval()(x), loaded.eval()(x))


def test_kill_and_resume_is_bitwise_identical(tmp_path):
    options = {**OPTIONS, "epochs": 2, "checkpoint_every": 4}
    teacher = ConstantTeacher()
    whole = student()
    zoo.train(whole, "digits", methods=[zoo.method(NAME, bits=2, teacher=teacher)], **options)
    out = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        zoo.train(student(), "digits", methods=[zoo.method(NAME, bits=2, teacher=teacher)], out_dir=out,
                  callbacks=[Interrupt(2)], **options)
    resumed = student()
    zoo.train(resumed, "digits", methods=[zoo.method(NAME, bits=2, teacher=teacher)], out_dir=out, resume=True,
              **options)
    for a, b in zip(whole.parameters(), resumed.parameters()):
        assert torch.equal(a, b)


# --- what it refuses ----------------------------------------------------------------------------------


def test_distillation_without_a_teacher_is_refused_naming_method_model_and_what_is_missing():
    with pytest.raises(MethodMismatchError) as caught:
        zoo.train(student(), "digits", methods=[NAME], epochs=1, progress=False)
    message = str(caught.value)
    assert "'quantized-distillation'" in message and "Sequential" in message and "teacher=" in message


def test_a_model_without_linear_or_conv_layers_is_refused():
    with pytest.raises(MethodMismatchError, match="Linear"):
        zoo.train(nn.Sequential(nn.Flatten(), nn.Identity()), "digits",
                  methods=[zoo.method(NAME, soft_weight=0.0)], epochs=1, progress=False)


def test_dorefa_is_a_declared_conflict_and_bad_options_are_refused():
    with pytest.raises(MethodConflictError, match="dorefa"):
        zoo.train(student(), "digits", methods=[zoo.method(NAME, soft_weight=0.0), "dorefa"], epochs=1,
                  progress=False)
    with pytest.raises(ConfigError, match="bits"):
        zoo.method(NAME, bit=2)
    with pytest.raises(ConfigError, match="soft_weight"):
        zoo.method(NAME, soft_weight=1.5)
