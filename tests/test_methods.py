"""The training-method mechanism: events in a defined order, composition, conflicts and unmet needs
refused before training, method state in checkpoints (exact resume), structural methods recorded
with the model, and procedures of several runs that resume at the right run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from torch import nn

import zoo
from zoo.config import Field
from zoo.errors import ConfigError, PluginError
from zoo.training.checkpoint import CheckpointError
from zoo.training.method import Method, MethodConfig, MethodConflictError, MethodMismatchError
from zoo.training.procedure import PROCEDURE_FILE, Stages

from train_helpers import Interrupt


def data(n: int = 96, seed: int = 0) -> dict:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 4, generator=g)
    y = (x[:, 0] + x[:, 1] > 0).long()
    return {"train": (x, y), "test": (x[:32], y[:32])}


def net(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))


OPTIONS = {"epochs": 2, "batch_size": 16, "progress": False, "loss": nn.functional.cross_entropy}


class Recorder(Method):
    """Records which of its events ran, into a log shared by several methods."""

    name = "recorder"

    def __init__(self, label: str, log: list, **options):
        super().__init__(**options)
        self.name = self.label = label  # two recorders are two distinct methods
        self.log = log

    def transform_batch(self, batch, run):
        self.log.append(("batch", self.label))
        return batch

    def loss(self, terms, output, batch, run):
        self.log.append(("loss", self.label, tuple(terms)))
        return {**terms, self.label: 0.0 * output.sum()}

    def after_backward(self, run):
        self.log.append(("after_backward", self.label))

    def after_step(self, run):
        self.log.append(("after_step", self.label))

    def end(self, run):
        self.log.append(("end", self.label))


class AnchorConfig(MethodConfig):
    weight: float = Field(0.1, ge=0, description="penalty weight")


class Anchor(Method):
    """A penalty toward the starting weights with a learned scale: state of every kind the
    mechanism must checkpoint (tensors, a method-owned parameter, a counter)."""

    name = "anchor"
    Config = AnchorConfig

    def setup(self, run):
        self.start = {n: p.detach().clone() for n, p in run.model.named_parameters()}
        self.scale = nn.Parameter(torch.ones(()))
        self.steps = 0

    def parameters(self):
        return [self.scale]

    def loss(self, terms, output, batch, run):
        params = dict(run.model.named_parameters())
        penalty = sum(((params[n] - w) ** 2).sum() for n, w in self.start.items())
        return {**terms, "anchor": self.config.weight * self.scale * penalty}

    def after_step(self, run):
        self.steps += 1

    def state_dict(self):
        return {"start": self.start, "scale": self.scale.detach(), "steps": self.steps}

    def load_state_dict(self, state):
        for n, w in state["start"].items():
            self.start[n].copy_(w)
        self.scale.data.copy_(state["scale"])
        self.steps = state["steps"]


class Combiner(Method):
    name = "combiner"

    def combine(self, terms, run):
        return sum(terms.values()) / len(terms)


class OtherCombiner(Combiner):
    name = "other-combiner"


class ClassifierOnly(Method):
    name = "classifier-only"
    task_kinds = ("classification",)


class Clash(Method):
    name = "clash"
    conflicts = {"anchor": "both pull the weights toward a reference"}

    def after_step(self, run):
        pass


# --- order and composition ------------------------------------------------------------------------


def test_methods_act_in_the_given_order_and_after_events_in_reverse():
    log: list = []
    zoo.train(net(), data(), methods=[Recorder("a", log), Recorder("b", log)], **{**OPTIONS, "epochs": 1,
                                                                                  "batch_size": 96})
    assert log == [("batch", "a"), ("batch", "b"), ("loss", "a", ("task",)), ("loss", "b", ("task", "a")),
                   ("after_backward", "b"), ("after_backward", "a"), ("after_step", "b"), ("after_step", "a"),
                   ("end", "b"), ("end", "a")]


def test_a_combiner_makes_the_loss_from_every_term():
    log: list = []
    seen = []

    class Spy(Combiner):
        def combine(self, terms, run):
            seen.append(sorted(terms))
            return super().combine(terms, run)

    result = zoo.train(net(), data(), methods=[Spy(), Recorder("r", log)], **{**OPTIONS, "epochs": 1})
    assert seen and all(names == ["r", "task"] for names in seen)
    assert result.steps == 6


def test_a_method_that_adds_nothing_leaves_training_bitwise_unchanged():
    plain, with_method = net(), net()
    zoo.train(plain, data(), **OPTIONS)
    zoo.train(with_method, data(), methods=[Anchor(weight=0.0)], **OPTIONS)
    for a, b in zip(plain.parameters(), with_method.parameters()):
        assert torch.equal(a, b)


def test_a_penalty_changes_training_and_its_own_parameters_are_optimized():
    plain, anchored = net(), net()
    anchor = Anchor(weight=1.0)
    zoo.train(plain, data(), **OPTIONS)
    zoo.train(anchored, data(), methods=[anchor], **OPTIONS)
    assert not torch.equal(plain[0].weight, anchored[0].weight)
    assert anchor.steps == 12 and float(anchor.scale.detach()) != 1.0  # the optimizer moved the method's parameter


# --- refused before training ------------------------------------------------------------------------


def test_two_methods_that_want_one_slot_are_refused_naming_both(tmp_path):
    with pytest.raises(MethodConflictError, match="'combiner' and 'other-combiner'.*loss-combiner"):
        zoo.train(net(), data(), methods=[Combiner(), OtherCombiner()], out_dir=tmp_path / "run", **OPTIONS)
    assert not (tmp_path / "run").exists()


def test_a_declared_conflict_is_refused_with_its_reason():
    with pytest.raises(MethodConflictError, match="'clash' and 'anchor' conflict: both pull"):
        zoo.train(net(), data(), methods=[Anchor(), Clash()], **OPTIONS)


def test_a_method_given_twice_is_refused():
    with pytest.raises(MethodConflictError, match="'anchor' is given twice"):
        zoo.train(net(), data(), methods=[Anchor(), Anchor(weight=2.0)], **OPTIONS)


def test_a_method_on_a_task_it_cannot_act_on_names_method_model_and_missing_piece(tmp_path):
    x = torch.randn(32, 4)
    with pytest.raises(MethodMismatchError, match="method 'classifier-only' cannot act on model 'Sequential'.*"
                                                  "needs a classification task"):
        zoo.train(net(), (x, x[:, :2]), methods=[ClassifierOnly()], out_dir=tmp_path / "run",
                  epochs=1, progress=False)
    assert not (tmp_path / "run").exists()


def test_a_step_method_on_a_model_that_trains_itself_is_refused():
    class SelfTrained(nn.Module):
        def __init__(self):
            super().__init__()
            self.layer = nn.Linear(4, 2)

        def forward(self, x):
            return self.layer(x)

        def training_step(self, batch, step):
            loss = nn.functional.cross_entropy(self(batch[0]), batch[1])
            step.backward(loss)
            step.step()
            return {"loss": loss}

    with pytest.raises(MethodMismatchError, match="trains itself"):
        zoo.train(SelfTrained(), data(), methods=[Anchor()], **OPTIONS)


def test_lbfgs_with_a_method_acting_in_the_step_is_refused():
    with pytest.raises(MethodConflictError, match="lbfgs"):
        zoo.train(net(), data(), methods=[Anchor()], **{**OPTIONS, "optimizer": "lbfgs"})


def test_unknown_options_and_bad_method_lists_are_clear_errors():
    with pytest.raises(ConfigError, match="unknown field 'wieght'.*did you mean 'weight'"):
        Anchor(wieght=1.0)
    with pytest.raises(ConfigError, match="weight"):
        Anchor(weight=-1.0)
    with pytest.raises(ConfigError, match="methods must be a list"):
        zoo.train(net(), data(), methods="anchor", **OPTIONS)
    with pytest.raises(ConfigError, match="a method must be a name"):
        zoo.train(net(), data(), methods=[42], **OPTIONS)
    with pytest.raises(ConfigError, match="a method must be a name"):
        zoo.train(net(), data(), methods=[("dorefa", {1: 2})], **OPTIONS)


def test_unknown_method_names_get_suggestions():
    with pytest.raises(zoo.UnknownNameError, match="unknown method 'lotery-ticket'.*lottery-ticket"):
        zoo.method("lotery-ticket")
    with pytest.raises(zoo.UnknownNameError, match="Did you mean .fgsm-adv-training."):
        zoo.train(net(), data(), methods=["fgsm-adv-trainig"], **OPTIONS)


# --- checkpoints -------------------------------------------------------------------------------------------


def test_kill_and_resume_with_method_state_is_bitwise_identical(tmp_path):
    whole, whole_anchor = net(), Anchor(weight=0.5)
    zoo.train(whole, data(), methods=[whole_anchor], **{**OPTIONS, "epochs": 3})
    out = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):  # killed after its third checkpoint, in the middle of epoch 2
        zoo.train(net(), data(), methods=[Anchor(weight=0.5)], out_dir=out, callbacks=[Interrupt(3)],
                  checkpoint_every=4, **{**OPTIONS, "epochs": 3})
    resumed, resumed_anchor = net(), Anchor(weight=0.5)
    zoo.train(resumed, data(), methods=[resumed_anchor], out_dir=out, resume=True, checkpoint_every=4,
              **{**OPTIONS, "epochs": 3})
    for a, b in zip(whole.parameters(), resumed.parameters()):
        assert torch.equal(a, b)
    assert torch.equal(whole_anchor.scale, resumed_anchor.scale) and whole_anchor.steps == resumed_anchor.steps == 18
    state = json.loads(next((out / "checkpoints").iterdir()).joinpath("state.json").read_text())
    assert [m["name"] for m in state["methods"]] == ["anchor"] and state["methods"][0]["config"] == {"weight": 0.5}


class StepWatcher(Method):
    """Notes the optimizer step the run reports when each batch starts."""

    name = "step-watcher"

    def __init__(self, **options):
        super().__init__(**options)
        self.seen = []

    def transform_batch(self, batch, run):
        self.seen.append(run.global_step)
        return batch


def test_a_resumed_run_tells_its_methods_the_restored_step(tmp_path):
    out = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):  # killed after its third checkpoint, in the middle of epoch 2
        zoo.train(net(), data(), methods=[StepWatcher()], out_dir=out, callbacks=[Interrupt(3)],
                  checkpoint_every=4, **{**OPTIONS, "epochs": 3})
    watcher = StepWatcher()
    zoo.train(net(), data(), methods=[watcher], out_dir=out, resume=True, checkpoint_every=4,
              **{**OPTIONS, "epochs": 3})
    assert watcher.seen[0] > 0 and watcher.seen == list(range(watcher.seen[0], 18))


def test_resuming_with_other_methods_or_options_is_refused(tmp_path):
    out = tmp_path / "run"
    zoo.train(net(), data(), methods=[Anchor(weight=0.5)], out_dir=out, **{**OPTIONS, "epochs": 1})
    with pytest.raises(CheckpointError, match="methods.*anchor.*0.5.*anchor.*0.25"):
        zoo.train(net(), data(), methods=[Anchor(weight=0.25)], out_dir=out, resume=True, **OPTIONS)
    with pytest.raises(CheckpointError, match="no methods"):
        zoo.train(net(), data(), out_dir=out, resume=True, **OPTIONS)


# --- structural methods ---------------------------------------------------------------------------------


class Gate(Method):
    """A structural toy: attaches a learned output gate to the model."""

    name = "gate"
    structural = True

    def prepare(self, model):
        model.add_module("gate", nn.Linear(2, 2))
        inner = model.forward
        model.forward = lambda *args: model.gate(inner(*args))


def test_a_structural_method_is_applied_once_and_recorded_on_the_model():
    model = net()
    zoo.train(model, data(), methods=[Gate()], **{**OPTIONS, "epochs": 1})
    zoo.train(model, data(), methods=[Gate()], **{**OPTIONS, "epochs": 1})  # already there: not applied again
    assert model.zoo_methods == [{"name": "gate", "config": {}}]
    assert sum(1 for name, _ in model.named_children() if name == "gate") == 1


def test_a_saved_model_records_its_structural_methods_and_loading_needs_them(tmp_path):
    model = zoo.create("kan", width=[2, 2, 1])
    model.zoo_methods = [{"name": "gate", "config": {}}]  # as zoo.train leaves it
    folder = zoo.save(model, tmp_path / "saved")
    assert json.loads((folder / "config.json").read_text())["methods"] == [{"name": "gate", "config": {}}]
    with pytest.raises(PluginError, match="trained with method 'gate'.*no installed plugin provides that method"):
        zoo.load(folder)


def test_config_json_methods_are_checked(tmp_path):
    folder = zoo.save(zoo.create("kan", width=[2, 2, 1]), tmp_path / "saved")
    config = json.loads((folder / "config.json").read_text())
    config["methods"] = [{"name": "x", "config": {}, "code": "import os"}]
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(zoo.WeightsError, match="field 'methods' must be a list"):
        zoo.load(folder)


# --- procedures ------------------------------------------------------------------------------------------


class Rounds(Method):
    """A toy procedure: three runs, the weights shrunk between runs (a function of the weights)."""

    name = "rounds"

    def __init__(self, stop_in_round: int | None = None):
        super().__init__()
        self.stop_in_round = stop_in_round

    def run(self, model, task, *, out_dir=None, resume=False, **train_options):
        results = []
        with Stages(out_dir, resume, procedure=self) as stages:
            start = stages.keep("start", {k: v.clone() for k, v in model.state_dict().items()})
            for r in range(3):
                callbacks = [Interrupt(1)] if r == self.stop_in_round else []
                results.append(stages.train(f"round-{r}", model, task, callbacks=callbacks, **train_options))
                with torch.no_grad():
                    for name, p in model.named_parameters():
                        p.mul_(0.5).add_(start[name], alpha=0.5)
        return results


def test_a_procedure_interrupted_between_its_runs_resumes_at_the_right_run(tmp_path):
    whole = net()
    Rounds().run(whole, data(), **OPTIONS)
    out = tmp_path / "procedure"
    with pytest.raises(KeyboardInterrupt):  # killed in round 1, after its first checkpoint
        Rounds(stop_in_round=1).run(net(), data(), out_dir=out, **OPTIONS)
    record = json.loads((out / PROCEDURE_FILE).read_text())
    assert list(record["done"]) == ["round-0"]
    with pytest.raises(ConfigError, match="already holds a procedure"):
        Rounds().run(net(), data(), out_dir=out, **OPTIONS)
    resumed = net()
    results = Rounds().run(resumed, data(), out_dir=out, resume=True, **OPTIONS)
    assert [r.epochs for r in results] == [2, 2, 2]
    for a, b in zip(whole.parameters(), resumed.parameters()):
        assert torch.equal(a, b)


def test_a_procedure_passed_to_train_is_refused_with_how_to_run_it():
    with pytest.raises(ConfigError, match=r"runs on its own, not inside a training run: call zoo.method\('rounds'"):
        zoo.train(net(), data(), methods=[Rounds()], **OPTIONS)


def test_a_run_of_a_finished_procedure_whose_weights_vanished_is_a_clear_error(tmp_path):
    out = tmp_path / "procedure"
    Rounds().run(net(), data(), out_dir=out, **{**OPTIONS, "epochs": 1})
    (out / "round-0" / "model.safetensors").unlink()
    with pytest.raises(CheckpointError, match="round-0.*no model.safetensors"):
        Rounds().run(net(), data(), out_dir=out, resume=True, **{**OPTIONS, "epochs": 1})


# --- slots: an optimizer by name, a learning rule -------------------------------------------------------


@pytest.fixture
def toy_registry(monkeypatch):
    fixtures = Path(__file__).parent / "fixtures" / "methods"
    monkeypatch.syspath_prepend(str(fixtures))
    registry = zoo.Registry(catalogs=[fixtures / "catalog.yaml"], plugins={"toy-methods": "toy_methods"})
    zoo.set_default_registry(registry)
    yield registry
    zoo.set_default_registry(None)


def test_an_optimizer_method_is_used_by_name_in_the_training_config(toy_registry):
    model = net()
    before = model[0].weight.detach().clone()
    result = zoo.train(model, data(), optimizer="toy-sign-sgd", lr=0.01, **{**OPTIONS, "epochs": 1})
    step = (model[0].weight.detach() - before).abs()
    assert result.steps == 6 and torch.allclose(step[step > 0], torch.full_like(step[step > 0], 0.01), atol=0.0601)
    assert float(step.max()) <= 0.06 + 1e-6  # six steps of exactly lr per entry at most


def test_unknown_optimizers_and_methods_without_one_are_clear_errors(toy_registry):
    with pytest.raises(zoo.UnknownNameError, match="unknown optimizer 'adamm'.*Did you mean 'adam' or 'adamw'"):
        zoo.train(net(), data(), optimizer="adamm", **OPTIONS)
    with pytest.raises(ConfigError, match="'toy-last-layer', which provides no optimizer"):
        zoo.train(net(), data(), optimizer="toy-last-layer", **OPTIONS)


def test_a_learning_rule_replaces_the_update_and_excludes_another(toy_registry):
    model = net()
    first = model[0].weight.detach().clone()
    last = model[2].weight.detach().clone()
    zoo.train(model, data(), methods=["toy-last-layer"], **{**OPTIONS, "epochs": 1})
    assert torch.equal(model[0].weight, first) and not torch.equal(model[2].weight, last)

    class OtherRule(Method):
        name = "other-rule"

        def training_step(self, batch, run):
            raise AssertionError("never reached")

    with pytest.raises(MethodConflictError, match="'toy-last-layer' and 'other-rule'.*update-rule"):
        zoo.train(net(), data(), methods=["toy-last-layer", OtherRule()], **OPTIONS)
    # a method acting on the batch, the loss or the gradients would never act beside an update rule
    log = []
    with pytest.raises(MethodConflictError, match=r"'toy-last-layer' replaces the training step.*\['a'\]"):
        zoo.train(net(), data(), methods=["toy-last-layer", Recorder("a", log)], **OPTIONS)
    assert log == []


def test_a_methods_own_parameters_are_optimized_without_weight_decay():
    anchor = Anchor(weight=0.0)  # its scale gets a zero gradient: only a decay could move it
    model = net()
    before = model[0].weight.detach().clone()
    zoo.train(model, data(), methods=[anchor], optimizer="adamw", weight_decay=0.5, lr=0.1, **{**OPTIONS, "epochs": 1})
    assert float(anchor.scale.detach()) == 1.0 and not torch.equal(model[0].weight, before)


def test_a_run_that_fails_still_ends_its_methods():
    log: list = []

    class Failing(Method):
        name = "failing"

        def after_step(self, run):
            raise RuntimeError("the method's own bug")

    with pytest.raises(RuntimeError, match="own bug"):
        zoo.train(net(), data(), methods=[Recorder("r", log), Failing()], **OPTIONS)
    assert log[-1] == ("end", "r")
