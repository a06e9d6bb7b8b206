"""The uncertainty-loss-weighting method (Kendall, Gal & Cipolla, Eq. 7 / Eq. 10) and its task
multitask/rotated-digits: the combined loss equals the paper's formula, its gradient in s vanishes
where sigma^2 matches the loss, s is trained and checkpointed (exact resume), and what it cannot act
on is refused."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from torch import nn

import zoo
from zoo.errors import ConfigError
from zoo.training.method import Method, MethodConflictError, MethodMismatchError
from zoo_plugins.uncertainty_loss_weighting.method import (UncertaintyLossWeighting, loss_weights,
                                                          optimal_log_variance, uncertainty_weighted_loss)
from zoo_plugins.uncertainty_loss_weighting.task import RotatedDigitsTask, rotate_images

from train_helpers import Interrupt

NAME = "uncertainty-loss-weighting"
OPTIONS = {"batch_size": 128, "progress": False, "eval_splits": [], "final_splits": []}


@pytest.fixture(scope="module")
def task():
    return zoo.get_task("multitask/rotated-digits")


class TwoHeads(nn.Module):
    """A plain torch module: shared trunk, angle head and digit head; output [angle, 10 logits]."""

    def __init__(self, seed: int = 0):
        super().__init__()
        torch.manual_seed(seed)
        self.trunk = nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.ReLU())
        self.angle, self.digit = nn.Linear(32, 1), nn.Linear(32, 10)

    def forward(self, x):
        shared = self.trunk(x)
        return torch.cat([self.angle(shared), self.digit(shared)], -1)


def built(method):
    """The method after its setup event on a task with the rotated digits' loss terms, on the CPU."""
    task = SimpleNamespace(loss_term_kinds=RotatedDigitsTask.loss_term_kinds)
    method.setup(SimpleNamespace(task=task, device=torch.device("cpu")))
    return method


# --- the paper's equations ------------------------------------------------------------------------


def test_combine_equals_eq_7_and_eq_10_computed_by_hand():
    method = built(zoo.method(NAME))
    assert method.term_names == ["angle", "digit"] and method.kinds == ["regression", "classification"]
    s_angle, s_digit = 0.3, -0.4
    method.log_variance.data = torch.tensor([s_angle, s_digit])
    angle_loss, digit_loss, penalty = torch.tensor(3.0), torch.tensor(0.7), torch.tensor(0.25)
    loss = method.combine({"angle": angle_loss, "digit": digit_loss, "penalty": penalty}, run=None)
    sigma_angle, sigma_digit = math.exp(s_angle / 2), math.exp(s_digit / 2)  # s = log sigma^2
    by_hand = (3.0 / (2 * sigma_angle ** 2) + 0.7 / sigma_digit ** 2 + math.log(sigma_angle) + math.log(sigma_digit)
               + 0.25)  # a term the method does not weigh keeps its own coefficient
    assert loss.item() == pytest.approx(by_hand, rel=1e-6)
    assert method.weights == pytest.approx({"angle": 0.5 / sigma_angle ** 2, "digit": 1 / sigma_digit ** 2})


def test_at_sigma_one_the_weights_are_one_half_for_regression_and_one_for_classification():
    weights = loss_weights(torch.zeros(2), ["regression", "classification"])
    assert weights.tolist() == [0.5, 1.0]
    # and the log sigma terms vanish: the loss is the weighted sum alone
    loss = uncertainty_weighted_loss([torch.tensor(2.0), torch.tensor(5.0)], torch.zeros(2),
                                     ["regression", "classification"])
    assert loss.item() == pytest.approx(0.5 * 2.0 + 5.0)


@pytest.mark.parametrize("kind, optimum", [("regression", math.log(1.7)), ("classification", math.log(2 * 1.7))])
def test_the_gradient_in_s_vanishes_where_sigma_squared_matches_the_loss(kind, optimum):
    assert optimal_log_variance(1.7, kind) == pytest.approx(optimum)
    gradients = {}
    for offset in (-0.5, 0.0, 0.5):
        s = torch.tensor([optimum + offset], dtype=torch.float64, requires_grad=True)
        uncertainty_weighted_loss([torch.tensor(1.7, dtype=torch.float64)], s, [kind]).backward()
        gradients[offset] = s.grad.item()
    assert gradients[0.0] == pytest.approx(0.0, abs=1e-12)
    assert gradients[-0.5] < 0 < gradients[0.5]  # a minimum: sigma^2 is pulled toward the loss from both sides


def test_bad_kinds_and_mismatched_lengths_are_refused():
    with pytest.raises(ValueError, match="regression' or 'classification"):
        loss_weights(torch.zeros(1), ["ordinal"])
    with pytest.raises(ValueError, match="one of each per term"):
        uncertainty_weighted_loss([torch.tensor(1.0)], torch.zeros(2), ["regression", "regression"])


def test_the_terms_option_overrides_the_task_and_names_the_factor_of_each():
    method = built(zoo.method(NAME, terms={"angle": "classification", "digit": "classification"}))
    loss = method.combine({"angle": torch.tensor(3.0), "digit": torch.tensor(0.5)}, run=None)
    assert loss.item() == pytest.approx(3.5)  # factor 1 for both at s = 0
    with pytest.raises(MethodMismatchError, match="no \\['digit'\\]"):
        method.combine({"angle": torch.tensor(3.0)}, run=None)


# --- on zoo.train -----------------------------------------------------------------------------------


def test_s_is_optimized_with_the_model_toward_the_task_losses(task):
    model, method = TwoHeads(), zoo.method(NAME)
    result = zoo.train(model, task, methods=[method], epochs=1, lr=1e-3, **OPTIONS)
    s = method.log_variance
    assert method.parameters() == [s] and s.requires_grad and s.shape == (2,)
    # both losses lie far above their optima (the angle's squared error in degrees^2 is in the hundreds,
    # the cross entropy about 2.3 > 1/2), so every Adam step raises each s by about the learning rate
    steps = result.steps
    assert steps == 9
    for value in s.tolist():
        assert 0.5 * steps * 1e-3 < value < 1.01 * steps * 1e-3


def test_it_acts_on_a_zoo_catalog_model(task):
    model = zoo.create("mlp-mixer", variant="digits", num_classes=11, num_blocks=1, hidden_dim=16)
    method = zoo.method(NAME)
    result = zoo.train(model, task, methods=[method], epochs=1, **OPTIONS)
    assert math.isfinite(result.history[-1]["train_loss"])
    assert not torch.equal(method.log_variance.detach(), torch.zeros(2))
    metrics = zoo.evaluate(model, task, split="val")
    assert set(metrics) == {"loss", "angle_rmse", "digit_accuracy"} and 0 <= metrics["digit_accuracy"] <= 1


def test_kill_and_resume_is_bitwise_identical_with_s_in_the_checkpoint(task, tmp_path):
    options = {**OPTIONS, "epochs": 2, "checkpoint_every": 4}
    whole, whole_method = TwoHeads(), zoo.method(NAME)
    zoo.train(whole, task, methods=[whole_method], **options)
    out = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):  # killed after its second checkpoint, inside the first epoch
        zoo.train(TwoHeads(), task, methods=[zoo.method(NAME)], out_dir=out, callbacks=[Interrupt(2)], **options)
    resumed, resumed_method = TwoHeads(), zoo.method(NAME)
    zoo.train(resumed, task, methods=[resumed_method], out_dir=out, resume=True, **options)
    for a, b in zip(whole.parameters(), resumed.parameters()):
        assert torch.equal(a, b)
    assert torch.equal(whole_method.log_variance, resumed_method.log_variance)
    assert resumed_method.state_dict()["terms"] == ["angle", "digit"]


def test_resume_copies_into_the_tensor_the_optimizer_holds():
    method = built(zoo.method(NAME))
    held = method.log_variance
    state = {"terms": ["angle", "digit"], "kinds": ["regression", "classification"],
             "log_variance": torch.tensor([1.5, -0.5])}
    method.load_state_dict(state)
    assert method.log_variance is held and held.tolist() == [1.5, -0.5]
    with pytest.raises(MethodMismatchError, match="the checkpoint weighs terms"):
        method.load_state_dict({**state, "terms": ["depth", "digit"]})


# --- what it refuses ----------------------------------------------------------------------------------


def test_a_task_with_one_loss_is_refused_naming_method_model_task_and_what_is_missing():
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 10))
    with pytest.raises(MethodMismatchError) as caught:
        zoo.train(model, "digits", methods=[NAME], epochs=1, progress=False)
    message = str(caught.value)
    for piece in (NAME, "Sequential", "'digits'", "loss_terms", ">= 2"):
        assert piece in message


def test_fewer_than_two_named_terms_are_refused(task):
    with pytest.raises(MethodMismatchError, match=">= 2 loss terms to weigh"):
        zoo.train(TwoHeads(), task, methods=[zoo.method(NAME, terms={"angle": "regression"})], epochs=1, **OPTIONS)


def test_unknown_options_get_a_suggestion():
    with pytest.raises(ConfigError, match="init_log_variance"):
        zoo.method(NAME, init_log_varience=1.0)
    with pytest.raises(ConfigError, match="terms"):
        zoo.method(NAME, terms={"angle": "ordinal"})


class OtherCombiner(Method):
    name = "other-combiner"

    def combine(self, terms, run):
        return sum(terms.values())


def test_another_loss_combiner_is_refused(task):
    with pytest.raises(MethodConflictError, match="loss-combiner"):
        zoo.train(TwoHeads(), task, methods=[zoo.method(NAME), OtherCombiner()], epochs=1, **OPTIONS)


# --- the task -----------------------------------------------------------------------------------------


def test_rotated_digits_rotates_each_image_by_its_recorded_angle(task):
    digits = zoo.get_task("digits").splits()["train"].tensors
    images, angles, labels = task.splits()["train"].tensors
    assert torch.equal(labels, digits[1]) and images.shape == digits[0].shape
    assert float(angles.abs().max()) <= 45.0 and float(angles.std()) > 20.0
    i = 7
    expected = rotate_images(digits[0][i:i + 1].numpy(), angles[i].numpy())
    np.testing.assert_allclose(images[i:i + 1].numpy(), expected)
    assert not torch.allclose(images[i], digits[0][i])  # rotated, not the original
    output = torch.randn(4, 11)
    batch = tuple(t[:4] for t in task.splits()["train"].tensors)
    terms = task.loss_terms(output, batch)
    assert set(terms) == set(task.loss_term_kinds) and task.loss(output, batch) == terms["angle"] + terms["digit"]
