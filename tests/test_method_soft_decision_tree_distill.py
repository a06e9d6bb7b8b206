"""The soft-decision-tree model and the soft-decision-tree-distill method (Frosst & Hinton, 2017): the
tree's routing (Eq. 2, path products), its predictions, the loss of Eq. 1 and the balancing penalty
follow the paper's equations; distillation makes the tree follow the teacher's targets; training
resumes exactly; what the method cannot act on is refused."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

import zoo
from zoo.errors import ConfigError
from zoo.training.method import MethodMismatchError
from zoo_plugins.soft_decision_tree_distill.method import balance_penalty, node_depths, soft_targets, tree_loss
from zoo_plugins.soft_decision_tree_distill.model import Routing, SoftDecisionTree, path_probabilities

from train_helpers import Interrupt

NAME = "soft-decision-tree-distill"
OPTIONS = {"batch_size": 128, "progress": False, "eval_splits": [], "final_splits": [], "lr": 1e-2}


def small_tree(seed: int = 0, depth: int = 3) -> SoftDecisionTree:
    torch.manual_seed(seed)
    return zoo.create("soft-decision-tree", variant="digits", depth=depth)


class ConstantTeacher(nn.Module):
    """A plain torch 'network' that gives the same logits (strongly class 3) for every input."""

    def forward(self, x):
        logits = torch.zeros(x.shape[0], 10)
        logits[:, 3] = 5.0
        return logits


# --- the paper's equations ------------------------------------------------------------------------


def test_path_probabilities_are_products_of_branch_probabilities():
    p = torch.tensor([[0.2, 0.6, 0.9]])  # root, its left child, its right child (breadth first)
    leaves, reach = path_probabilities(p, 2)
    expected = [0.8 * 0.4, 0.8 * 0.6, 0.2 * 0.1, 0.2 * 0.9]
    assert torch.allclose(leaves, torch.tensor([expected]))
    assert torch.allclose(reach, torch.tensor([[1.0, 0.8, 0.2]]))


def test_inner_nodes_are_sigmoid_of_beta_times_the_filter_and_leaves_sum_to_one():
    tree = SoftDecisionTree(in_features=5, num_classes=3, depth=3, inverse_temperature=2.5)
    x = torch.randn(7, 5)
    routing = tree.route(x)
    assert torch.allclose(routing.inner, torch.sigmoid(2.5 * (x @ tree.filters.weight.t() + tree.filters.bias)),
                          atol=1e-6)
    assert torch.allclose(routing.path.sum(1), torch.ones(7), atol=1e-6) and routing.path.shape == (7, 8)
    tree.train()
    mixture = tree(x).exp()
    assert torch.allclose(mixture, routing.path @ routing.leaf_log_probs.exp(), atol=1e-6)
    tree.eval()  # the paper's test-time rule: the distribution of the most probable leaf
    best = routing.path.argmax(1)
    assert torch.allclose(tree(x), routing.leaf_log_probs[best])


def test_tree_loss_is_the_path_weighted_cross_entropy_of_eq_1():
    path = torch.tensor([[0.25, 0.75], [1.0, 0.0]])
    log_q = torch.log(torch.tensor([[0.5, 0.5], [0.9, 0.1]]))
    targets = torch.tensor([[1.0, 0.0], [0.3, 0.7]])
    routing = Routing(path=path, inner=torch.zeros(2, 1), reach=torch.ones(2, 1), leaf_log_probs=log_q)
    by_hand = [-(0.25 * math.log(0.5) + 0.75 * math.log(0.9)),
               -(1.0 * (0.3 * math.log(0.5) + 0.7 * math.log(0.5)))]
    assert float(tree_loss(routing, targets)) == pytest.approx(sum(by_hand) / 2, rel=1e-6)


def test_balance_penalty_is_smallest_for_even_splits_and_decays_with_depth():
    assert node_depths(7).tolist() == [0, 1, 1, 2, 2, 2, 2]
    reach = torch.ones(4, 3)
    even = Routing(path=None, inner=torch.full((4, 3), 0.5), reach=reach, leaf_log_probs=None)
    lam = 0.1
    minimum = -lam * (1 + 0.5 + 0.5) * math.log(0.5)  # sum_i 2^-d(i) (-log 1/2)
    assert float(balance_penalty(even, lam)) == pytest.approx(minimum, rel=1e-6)
    root_skewed = even.inner.clone()
    root_skewed[:, 0] = 0.9
    child_skewed = even.inner.clone()
    child_skewed[:, 1] = 0.9
    skew_root = float(balance_penalty(Routing(None, root_skewed, reach, None), lam))
    skew_child = float(balance_penalty(Routing(None, child_skewed, reach, None), lam))
    assert skew_root > skew_child > minimum  # the same imbalance costs half as much one level down
    assert (skew_root - minimum) == pytest.approx(2 * (skew_child - minimum), rel=1e-5)


def test_soft_targets_are_a_tempered_softmax():
    logits = torch.tensor([[2.0, 0.0]])
    assert torch.allclose(soft_targets(logits, 2.0), torch.softmax(logits / 2.0, dim=1))


# --- training ---------------------------------------------------------------------------------------


def test_distillation_makes_the_tree_follow_the_teacher_not_the_labels():
    tree = small_tree()
    method = zoo.method(NAME, teacher=ConstantTeacher())
    zoo.train(tree, "digits", methods=[method], epochs=3, **OPTIONS)
    assert tree.routing is None  # the run's end dropped the last batch's graph
    x = zoo.get_task("digits").splits()["test"].tensors[0]
    assert (tree.eval()(x).argmax(1) == 3).float().mean() > 0.95
    labelled = small_tree()
    result = zoo.train(labelled, "digits", methods=[zoo.method(NAME, targets="data")], epochs=3,
                       **{**OPTIONS, "final_splits": ["test"]})
    assert result.final["test_accuracy"] > 0.3  # the labels teach digits (chance: 0.1), the teacher only "3"


def test_the_loss_terms_replace_the_task_term_with_the_tree_loss_and_penalty():
    seen = []

    class Terms:
        def zoo_train_batch_end(self, run, logs):
            seen.append(sorted(logs))

    zoo.train(small_tree(), "digits", methods=[zoo.method(NAME, targets="data")], max_steps=1, epochs=1,
              callbacks=[Terms()], **OPTIONS)
    assert seen[0] == ["loss", "loss/balance", "loss/tree"]


def test_acts_on_a_plain_module_holding_a_tree():
    model = nn.Sequential(nn.Identity(), SoftDecisionTree(in_features=64, num_classes=10, depth=2))
    result = zoo.train(model, "digits", methods=[zoo.method(NAME, teacher=ConstantTeacher())], epochs=1,
                       **{**OPTIONS, "final_splits": ["test"]})
    assert 0 <= result.final["test_accuracy"] <= 1


def test_kill_and_resume_is_bitwise_identical(tmp_path):
    options = {**OPTIONS, "epochs": 2, "checkpoint_every": 4}
    teacher = ConstantTeacher()
    whole = small_tree()
    zoo.train(whole, "digits", methods=[zoo.method(NAME, teacher=teacher, temperature=2.0)], **options)
    out = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        zoo.train(small_tree(), "digits", methods=[zoo.method(NAME, teacher=teacher, temperature=2.0)], out_dir=out,
                  callbacks=[Interrupt(2)], **options)
    resumed = small_tree()
    zoo.train(resumed, "digits", methods=[zoo.method(NAME, teacher=teacher, temperature=2.0)], out_dir=out,
              resume=True, **options)
    for a, b in zip(whole.parameters(), resumed.parameters()):
        assert torch.equal(a, b)


def test_the_tree_saves_and_loads_with_the_same_outputs(tmp_path):
    tree = small_tree()
    zoo.train(tree, "digits", methods=[zoo.method(NAME, targets="data")], epochs=1, **OPTIONS)
    zoo.save(tree, tmp_path / "tree")
    loaded = zoo.load(tmp_path / "tree")
    x = torch.rand(5, 1, 8, 8)
    assert torch.equal(tree.eval()(x), loaded.eval()(x))
    assert float(loaded.inverse_temperature.detach()) == pytest.approx(float(tree.inverse_temperature.detach()))


# --- what it refuses ----------------------------------------------------------------------------------


def test_a_model_without_a_tree_is_refused_naming_method_model_and_what_is_missing():
    with pytest.raises(MethodMismatchError) as caught:
        zoo.train(nn.Sequential(nn.Flatten(), nn.Linear(64, 10)), "digits",
                  methods=[zoo.method(NAME, teacher=ConstantTeacher())], epochs=1, progress=False)
    message = str(caught.value)
    assert "'soft-decision-tree-distill'" in message and "Sequential" in message and "SoftDecisionTree" in message


def test_distillation_without_a_teacher_is_refused_but_label_training_needs_none():
    with pytest.raises(MethodMismatchError, match="teacher="):
        zoo.train(small_tree(), "digits", methods=[NAME], epochs=1, progress=False)
    assert zoo.method(NAME, targets="data").check(small_tree(), zoo.get_task("digits")) is None


def test_unknown_and_bad_options_are_refused():
    with pytest.raises(ConfigError, match="temperature"):
        zoo.method(NAME, temperatur=2.0)
    with pytest.raises(ConfigError, match="targets"):
        zoo.method(NAME, targets="labels")
