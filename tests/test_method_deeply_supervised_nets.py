"""Tests of the deeply-supervised-nets method: the squared hinge losses of Eq. 4/5 and the alpha
schedule, the default hidden layers, alpha = 0 equal to plain training, the gamma threshold, heads
saved and loaded with a zoo model, exact resume, and refused inputs."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

import zoo
from zoo.errors import ConfigError
from zoo.tasks import ArrayTask
from zoo.training.method import MethodConflictError, MethodMismatchError
from zoo_plugins.deeply_supervised_nets.method import (
    ATTRIBUTE,
    Companions,
    DeeplySupervisedNets,
    attach_companions,
    companion_objective,
    companion_weight,
    hidden_layers,
    squared_hinge_loss,
)

SLUG = "deeply-supervised-nets"
FAST = dict(batch_size=128, lr=0.05, optimizer="sgd", momentum=0.9, device="cpu", progress=False)


@pytest.fixture(scope="module")
def digits():
    return zoo.get_task("digits")


def cnn(seed: int = 0, dropout: float = 0.0) -> nn.Sequential:
    """Two hidden blocks and a linear output layer (dropout: training draws from the global RNG)."""
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(8, 8, 3, padding=1), nn.ReLU(), nn.Dropout(dropout), nn.Flatten(),
                         nn.Linear(8 * 4 * 4, 10))


def backbone(model: nn.Module) -> dict:
    return {k: v for k, v in model.state_dict().items() if not k.startswith(ATTRIBUTE)}


class Logs:
    """Callback keeping every batch's logged loss terms."""

    def __init__(self):
        self.batches = []

    def zoo_train_batch_end(self, logs):
        self.batches.append(dict(logs))


# --- Eq. 4/5 and the schedule ------------------------------------------------------------------------


def test_squared_hinge_matches_the_equations_by_hand():
    scores = torch.tensor([[2.0, 1.5, -1.0], [0.0, 0.5, 3.0]])
    targets = torch.tensor([0, 1])
    # pairwise (Eq. 5): sample 0: k=1: [1 - 0.5]^2 = 0.25, k=2: [1 - 3]_+ = 0; sample 1: k=0: [1 - 0.5]^2 = 0.25,
    # k=2: [1 + 2.5]^2 = 12.25
    assert squared_hinge_loss(scores, targets).item() == pytest.approx((0.25 + 0.25 + 12.25) / 2)
    # one-vs-all: sample 0: [1-2]_+=0, [1+1.5]^2=6.25, [1-1]_+=0; sample 1: [1+0]^2=1, [1-0.5]^2=0.25, [1+3]^2=16
    assert squared_hinge_loss(scores, targets, pairwise=False).item() == pytest.approx((6.25 + 1 + 0.25 + 16) / 2)
    separated = torch.tensor([[3.0, 1.0, -2.0]])  # the true class beats every other by at least the margin 1
    assert squared_hinge_loss(separated, torch.tensor([0])).item() == 0.0
    assert squared_hinge_loss(separated, torch.tensor([1])).item() > 0
    assert companion_objective(scores, targets, "softmax").item() == pytest.approx(
        nn.functional.cross_entropy(scores, targets).item())


def test_alpha_decays_linearly_to_zero_at_n():
    assert companion_weight(0.1, 0, 10) == pytest.approx(0.1)
    assert companion_weight(0.1, 5, 10) == pytest.approx(0.05)
    assert companion_weight(0.1, 10, 10) == 0.0 and companion_weight(0.1, 12, 10) == 0.0
    assert companion_weight(0.1, 7, 10, "none") == pytest.approx(0.1)


# --- the heads ---------------------------------------------------------------------------------------


def test_default_layers_are_the_hidden_blocks(digits):
    x = digits.splits()["train"].tensors[0][:2]
    assert hidden_layers(cnn(), (x,)) == ["2", "6"]  # blocks end after their pooling / dropout; not the output layer
    mixer = zoo.create("mlp-mixer", variant="digits", task="digits", hidden_dim=16, num_blocks=3)
    assert hidden_layers(mixer, (x,)) == ["blocks.0", "blocks.1", "blocks.2"]
    nin = zoo.create("network-in-network", variant="digits", task="digits")
    assert hidden_layers(nin, (x,)) == ["features.2", "features.5"]  # the last mlpconv makes the class maps


def test_attaching_keeps_the_model_its_parameters_and_the_rng(digits):
    model = cnn()
    x = digits.splits()["train"].tensors[0][:4]
    before = {id(p) for p in model.parameters()}
    expected = model(x)
    state = torch.random.get_rng_state()
    companions = attach_companions(model, ["2", "6"], (x,))
    assert torch.equal(torch.random.get_rng_state(), state)
    assert torch.equal(model(x), expected)  # the heads do not act in the forward pass (nor in a Sequential)
    assert before < {id(p) for p in model.parameters()}
    assert [h.in_features for h in companions.heads] == [8 * 4 * 4, 8 * 4 * 4]
    assert all(h.out_features == 10 for h in companions.heads)


# --- in zoo.train ------------------------------------------------------------------------------------


def test_alpha_zero_gives_zero_terms_and_plain_training_bitwise(digits):
    options = dict(epochs=1, seed=5, eval_splits=[], final_splits=[], **FAST)
    plain = cnn(dropout=0.3)
    zoo.train(plain, digits, **options)
    logs = Logs()
    companion = cnn(dropout=0.3)
    zoo.train(companion, digits, methods=[zoo.method(SLUG, alpha=0.0)], callbacks=[logs], **options)
    terms = [k for k in logs.batches[0] if k.startswith("loss/companion/")]
    assert terms == ["loss/companion/2", "loss/companion/6"]
    assert all(batch[k] == 0.0 for batch in logs.batches for k in terms)
    for (name, a), b in zip(backbone(plain).items(), backbone(companion).values()):
        assert torch.equal(a, b), name
    weighted = cnn(dropout=0.3)
    zoo.train(weighted, digits, methods=[SLUG], **options)
    assert not torch.equal(weighted[0].weight, plain[0].weight)  # with alpha > 0 the companions do act


def test_gamma_switches_a_companion_off(digits):
    options = dict(epochs=1, seed=1, eval_splits=[], final_splits=[], **{**FAST, "momentum": 0.0})
    results = {}
    for gamma in (0.0, 1e6):
        model = cnn()
        attach_companions(model, ["2", "6"], (digits.splits()["train"].tensors[0][:2],))
        heads = [h.weight.detach().clone() for h in model.dsn_companions.heads]
        logs, method = Logs(), zoo.method(SLUG, gamma=gamma, layers=["2", "6"])
        zoo.train(model, digits, methods=[method], callbacks=[logs], **options)
        moved = [not torch.equal(a, h.weight) for a, h in zip(heads, model.dsn_companions.heads)]
        results[gamma] = (moved, method.state_dict()["active_steps"].tolist(), logs.batches[0]["loss/companion/2"])
    assert results[0.0][0] == [True, True] and min(results[0.0][1]) > 0 and results[0.0][2] > 0
    # above the threshold nowhere: [value - gamma]_+ = 0, no gradient reaches the heads, no step counts as active
    assert results[1e6] == ([False, False], [0, 0], 0.0)


def test_zoo_model_heads_are_saved_and_loaded(digits, tmp_path):
    model = zoo.create("mlp-mixer", variant="digits", task="digits", hidden_dim=16, num_blocks=2)
    zoo.train(model, digits, methods=[zoo.method(SLUG, loss="softmax", output_loss="hinge")], epochs=1,
              eval_splits=[], final_splits=[], **FAST)
    assert isinstance(model.dsn_companions, Companions) and model.dsn_companions.layers == ["blocks.0", "blocks.1"]
    zoo.save(model, tmp_path / "repo")
    recorded = json.loads((tmp_path / "repo" / "config.json").read_text())["methods"]
    assert [m["name"] for m in recorded] == [SLUG] and recorded[0]["config"]["loss"] == "softmax"
    loaded = zoo.load(tmp_path / "repo")
    x = digits.splits()["test"].tensors[0][:16]
    model.eval()
    assert torch.equal(loaded(x), model(x))
    for a, b in zip(model.dsn_companions.heads.parameters(), loaded.dsn_companions.heads.parameters()):
        assert torch.equal(a, b)
    # training the loaded model again with the same method keeps its heads instead of attaching new ones
    heads = loaded.dsn_companions
    zoo.train(loaded, digits, methods=[zoo.method(SLUG, loss="softmax", output_loss="hinge")], epochs=1,
              eval_splits=[], final_splits=[], **FAST)
    assert loaded.dsn_companions is heads
    with pytest.raises(MethodConflictError, match="already carries method 'deeply-supervised-nets'"):
        zoo.train(loaded, digits, methods=[zoo.method(SLUG, alpha=0.5)], epochs=1, **FAST)


def test_resume_inside_an_epoch_is_bitwise_identical(digits, tmp_path):
    options = dict(epochs=2, seed=3, eval_splits=[], final_splits=[], **FAST)
    whole_method = zoo.method(SLUG, gamma=0.05)
    whole = cnn(dropout=0.3)
    zoo.train(whole, digits, methods=[whole_method], out_dir=tmp_path / "whole", checkpoint_every=4,
              keep_checkpoints=20, **options)
    checkpoints = sorted((tmp_path / "whole" / "checkpoints").iterdir())
    middle = next(c for c in checkpoints if "epoch-00000" in c.name and not c.name.endswith("000000"))

    method = zoo.method(SLUG, gamma=0.05)
    resumed = cnn(seed=1, dropout=0.3)
    zoo.train(resumed, digits, methods=[method], out_dir=tmp_path / "resumed", resume=middle, **options)
    for (name, a), b in zip(whole.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(a, b), name
    assert torch.equal(method.state_dict()["active_steps"], whole_method.state_dict()["active_steps"])
    assert whole_method.state_dict()["active_steps"].sum() > 0


# --- refused inputs ----------------------------------------------------------------------------------


def test_unknown_option_is_refused_with_a_suggestion():
    with pytest.raises(ConfigError, match="did you mean 'alpha'"):
        zoo.method(SLUG, alpah=0.1)
    with pytest.raises(ConfigError, match="loss"):
        zoo.method(SLUG, loss="l2")
    with pytest.raises(ConfigError, match="gamma"):
        zoo.method(SLUG, gamma=-1.0)
    method = zoo.method(SLUG, layers=["a", "b"])
    assert isinstance(method, DeeplySupervisedNets) and method.describe()["config"]["layers"] == ["a", "b"]


def test_missing_layer_is_named_with_the_valid_paths(digits):
    with pytest.raises(MethodMismatchError, match=r"deeply-supervised-nets.*Sequential.*digits.*'9'.*paths: 0, 1, 2"):
        zoo.train(cnn(), digits, methods=[zoo.method(SLUG, layers=["2", "9"])], epochs=1, **FAST)


def test_regression_task_and_a_model_without_hidden_blocks_are_refused(digits):
    regression = ArrayTask("ramp", "regression", {"train": (torch.rand(16, 1, 8, 8), torch.rand(16, 1))})
    with pytest.raises(MethodMismatchError, match="needs a classification task"):
        zoo.train(cnn(), regression, methods=[SLUG], epochs=1, **FAST)
    linear = nn.Sequential(nn.Flatten(), nn.Linear(64, 10))
    with pytest.raises(MethodMismatchError, match="hidden blocks.*layers="):
        zoo.train(linear, digits, methods=[SLUG], epochs=1, **FAST)
    assert not hasattr(linear, ATTRIBUTE)  # refused before anything changed the model
