"""The group-dro method (Sagawa et al., 2020, Algorithm 1) and its task groups/spurious-digits: the
per-group losses, the exponentiated-gradient update of q and the robust loss follow the paper's
equations, q moves toward the worst group in training and is checkpointed (exact resume), and what it
cannot act on is refused."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from torch import nn

import zoo
from zoo.errors import ConfigError
from zoo.training.method import MethodMismatchError
from zoo_plugins.group_dro.method import (GroupDRO, group_adjustments, group_losses, robust_loss,
                                          update_group_weights)
from zoo_plugins.group_dro.task import SpuriousDigitsTask, with_spurious_bar

from train_helpers import Interrupt

NAME = "group-dro"
TASK = "groups/spurious-digits"
OPTIONS = {"batch_size": 128, "progress": False, "eval_splits": [], "final_splits": [], "optimizer": "sgd",
           "lr": 0.05}


@pytest.fixture(scope="module")
def task():
    return zoo.get_task(TASK)


def small_mlp(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 16), nn.ReLU(), nn.Linear(16, 2))


# --- the paper's equations ------------------------------------------------------------------------


def test_group_losses_are_the_mean_loss_of_each_group_and_zero_for_absent_groups():
    losses = torch.tensor([1.0, 3.0, 2.0, 6.0, 4.0])
    groups = torch.tensor([0, 0, 2, 2, 2])
    per_group, present = group_losses(losses, groups, 4)
    assert per_group.tolist() == [2.0, 0.0, 4.0, 0.0]
    assert present.tolist() == [True, False, True, False]


def test_q_update_is_exponentiated_gradient_ascent_renormalised():
    q = torch.tensor([0.1, 0.2, 0.3, 0.4])
    losses = torch.tensor([2.0, 0.0, 0.5, 1.0])
    present = torch.tensor([True, False, True, True])
    new = update_group_weights(q, losses, present, step_size=0.5)
    expected = q * torch.tensor([math.exp(1.0), 1.0, math.exp(0.25), math.exp(0.5)])  # absent group: exp(0)
    assert torch.allclose(new, expected / expected.sum())
    assert math.isclose(float(new.sum()), 1.0, rel_tol=1e-6)
    assert new[0] > q[0] and new[1] < q[1]  # the worst group gains weight, the absent one only loses by renormalising


def test_update_stays_finite_for_huge_losses_and_the_adjustment_is_c_over_sqrt_n():
    new = update_group_weights(torch.full((2,), 0.5), torch.tensor([1e5, 0.0]), torch.tensor([True, True]), 1.0)
    assert torch.isfinite(new).all() and new[0] > 0.999
    adjustments = group_adjustments([100, 4], 2.0)
    assert torch.allclose(adjustments, torch.tensor([0.2, 1.0]))
    # with equal losses, the adjustment alone moves q toward the small group
    moved = update_group_weights(torch.full((2,), 0.5), torch.zeros(2), torch.tensor([True, True]), 1.0, adjustments)
    assert moved[1] > moved[0]


def test_robust_loss_is_the_q_weighted_sum_and_its_gradient_holds_q_fixed():
    losses = torch.tensor([1.0, 3.0], requires_grad=True)
    q = torch.tensor([0.25, 0.75], requires_grad=True)
    value = robust_loss(losses, q)
    value.backward()
    assert math.isclose(float(value.detach()), 0.25 + 2.25)
    assert losses.grad.tolist() == [0.25, 0.75] and q.grad is None


def test_the_loss_event_replaces_the_task_term_and_updates_q_from_the_batch(task):
    method = zoo.method(NAME, step_size=0.1)
    method.setup(SimpleNamespace(task=task, device=torch.device("cpu")))
    assert method.group_weights == [0.25] * 4
    x, y, g = task.splits()["train"][list(range(64))]
    output = torch.zeros(64, 2)
    output[:, 1] = 3.0 * (g >= 2).float() - 1.5 * (g < 2).float()  # right on groups 2, 3, wrong on 0, 1
    per_example = task.example_losses(output, (x, y, g))
    per_group, present = group_losses(per_example, g, 4)
    terms = method.loss({"task": task.loss(output, (x, y, g)), "other": torch.tensor(0.5)}, output, (x, y, g),
                        SimpleNamespace(task=task))
    q = torch.tensor(method.group_weights)
    assert torch.allclose(q, update_group_weights(torch.full((4,), 0.25), per_group, present, 0.1))
    assert torch.allclose(terms["task"], (q * per_group).sum()) and float(terms["other"]) == 0.5
    assert q[present][:1].item() > 0.25 or not present[0]  # wrong groups gain weight
    assert q[2] < 0.25 and q[3] < 0.25


# --- the task -------------------------------------------------------------------------------------


def test_the_bar_agrees_with_the_label_in_95_percent_of_train_and_half_of_test(task):
    splits = task.splits()
    for split, low, high in (("train", 0.93, 0.97), ("test", 0.4, 0.6)):
        x, y, g = splits[split].tensors
        attribute = g % 2
        assert low < float((attribute == y).float().mean()) < high
        left = x[:, 0, :, 0].mean(dim=1) == 1.0
        right = x[:, 0, :, -1].mean(dim=1) == 1.0
        assert torch.equal(left, attribute == 1) and torch.equal(right, attribute == 0)
        assert torch.equal(y, (g >= 2).long())
    assert sum(task.group_counts) == len(splits["train"]) and min(task.group_counts) >= 10
    again = SpuriousDigitsTask()
    assert all(torch.equal(a, b) for a, b in zip(again.splits()["test"].tensors, splits["test"].tensors))


def test_worst_group_and_average_accuracy_metrics(task):
    metrics = task.metrics()
    label = torch.tensor([0, 0, 0, 1, 1, 1, 1, 1])
    group = torch.tensor([0, 0, 1, 2, 2, 3, 3, 3])
    predicted = torch.tensor([0, 0, 1, 1, 0, 1, 1, 1])  # accuracies: g0 1, g1 0, g2 0.5, g3 1
    logits = nn.functional.one_hot(predicted, 2).float()
    for metric in metrics.values():
        metric.update(logits, (label, group))
    shares = np.asarray(task.group_counts) / sum(task.group_counts)
    assert float(metrics["accuracy"].compute()) == pytest.approx(6 / 8)
    assert float(metrics["worst_group_accuracy"].compute()) == 0.0
    assert float(metrics["average_accuracy"].compute()) == pytest.approx(float(shares @ [1, 0, 0.5, 1]))
    assert with_spurious_bar(np.zeros((1, 1, 8, 8), np.float32), np.array([1]))[0, 0, :, 0].tolist() == [1.0] * 8


# --- training ---------------------------------------------------------------------------------------


def bar_reader() -> nn.Module:
    """A linear model that predicts the label from the spurious bar alone: right on the majority
    groups (bar agrees with the label), wrong on the minority ones."""
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 2))
    with torch.no_grad():
        model[1].weight.zero_()
        model[1].bias.zero_()
        columns = torch.arange(64) % 8
        model[1].weight[1, columns == 0] = 0.5  # left bar (a = 1) -> "large"
        model[1].weight[1, columns == 7] = -0.5
    return model


def test_training_moves_q_to_the_groups_the_model_gets_wrong(task):
    # the model barely moves (tiny lr): q follows Algorithm 1 on the fixed group losses of every batch
    method = zoo.method(NAME, step_size=0.1)
    result = zoo.train(bar_reader(), task, methods=[method], epochs=2,
                       **{**OPTIONS, "lr": 1e-9, "final_splits": ["train"]})
    q = method.group_weights
    assert math.isclose(sum(q), 1.0, rel_tol=1e-5)
    assert min(q[1], q[2]) > 10 * max(q[0], q[3])  # the minority groups, where the bar misleads
    assert result.final["train_worst_group_accuracy"] == 0.0 and result.final["train_accuracy"] > 0.9


def test_trains_a_plain_module_and_reports_group_metrics(task):
    method = zoo.method(NAME)
    result = zoo.train(small_mlp(), task, methods=[method], epochs=1, **{**OPTIONS, "final_splits": ["test"]})
    assert method.group_weights != [0.25] * 4 and math.isclose(sum(method.group_weights), 1.0, rel_tol=1e-5)
    assert 0 <= result.final["test_worst_group_accuracy"] <= result.final["test_accuracy"] <= 1


def test_acts_on_a_zoo_catalog_model(task):
    model = zoo.create("mlp-mixer", variant="digits", task=task, hidden_dim=16, num_blocks=1)
    method = zoo.method(NAME)
    zoo.train(model, task, methods=[method], epochs=1, **OPTIONS)
    assert method.group_weights != [0.25] * 4


def test_kill_and_resume_is_bitwise_identical_with_q_in_the_checkpoint(task, tmp_path):
    options = {**OPTIONS, "epochs": 2, "checkpoint_every": 4}
    whole, whole_method = small_mlp(), zoo.method(NAME)
    zoo.train(whole, task, methods=[whole_method], **options)
    out = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):  # killed after its second checkpoint, inside the first epoch
        zoo.train(small_mlp(), task, methods=[zoo.method(NAME)], out_dir=out, callbacks=[Interrupt(2)], **options)
    resumed, resumed_method = small_mlp(), zoo.method(NAME)
    zoo.train(resumed, task, methods=[resumed_method], out_dir=out, resume=True, **options)
    for a, b in zip(whole.parameters(), resumed.parameters()):
        assert torch.equal(a, b)
    assert torch.equal(whole_method.q, resumed_method.q)


def test_load_state_copies_into_q_and_refuses_another_group_count(task):
    method = zoo.method(NAME)
    method.setup(SimpleNamespace(task=task, device=torch.device("cpu")))
    held = method.q
    method.load_state_dict({"q": torch.tensor([0.1, 0.2, 0.3, 0.4])})
    assert method.q is held and held.tolist() == pytest.approx([0.1, 0.2, 0.3, 0.4])
    with pytest.raises(MethodMismatchError, match="3 groups"):
        method.load_state_dict({"q": torch.full((3,), 1 / 3)})


# --- what it refuses ----------------------------------------------------------------------------------


def test_a_task_without_groups_is_refused_naming_method_model_task_and_what_is_missing():
    with pytest.raises(MethodMismatchError) as caught:
        zoo.train(small_mlp(), "digits", methods=[NAME], epochs=1, progress=False)
    message = str(caught.value)
    assert "'group-dro'" in message and "Sequential" in message and "'digits'" in message
    assert "group_labels" in message


def test_unknown_and_bad_options_are_refused_with_a_suggestion():
    with pytest.raises(ConfigError, match="step_size"):
        zoo.method(NAME, step_sise=0.1)
    with pytest.raises(ConfigError, match="step_size"):
        zoo.method(NAME, step_size=-1.0)
    assert isinstance(zoo.method(NAME, adjustment=2.0), GroupDRO)
