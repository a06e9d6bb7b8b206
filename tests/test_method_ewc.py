"""EWC (plugins/ewc): the Fisher and the penalty of Eq. 3 against their definitions, the method in
zoo.train on a plain module and a catalog model, exact resume of a run and of a killed sequence,
the permuted-digits task, and refusals of bad input."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import zoo
from zoo.errors import ConfigError
from zoo.training.method import MethodMismatchError
from zoo_plugins.ewc.data import pixel_permutation
from zoo_plugins.ewc.method import fisher_diagonal, quadratic_penalty

from train_helpers import Interrupt

OPTIONS = {"batch_size": 32, "lr": 0.05, "optimizer": "sgd", "progress": False, "eval_splits": [],
           "final_splits": []}


def data(seed: int, n: int = 96) -> dict:
    """A small 3-class problem whose labels depend on a seed-specific direction (a 'task')."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 6, generator=g)
    w = torch.randn(6, 3, generator=g)
    y = (x @ w).argmax(1)
    return {"train": (x, y), "test": (x[:48], y[:48])}


def net(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 3))


def per_sample_squared_gradients(model, x, y):
    """The empirical Fisher by its definition, one autograd call per sample."""
    total = {n: torch.zeros_like(p) for n, p in model.named_parameters()}
    for xi, yi in zip(x, y):
        model.zero_grad()
        torch.log_softmax(model(xi.unsqueeze(0)), -1)[0, yi].backward()
        for n, p in model.named_parameters():
            total[n] += p.grad.pow(2)
    return {n: t / len(x) for n, t in total.items()}


# --- the Fisher and Eq. 3 -----------------------------------------------------------------------------


def test_empirical_fisher_is_the_mean_of_squared_per_sample_gradients():
    model = net()
    x, y = data(0)["train"]
    fisher = fisher_diagonal(model, [((x[:40],), y[:40]), ((x[40:],), y[40:])])
    expected = per_sample_squared_gradients(model, x, y)
    for name in expected:
        torch.testing.assert_close(fisher[name], expected[name], rtol=1e-4, atol=1e-7)


def test_true_fisher_samples_labels_from_the_model_and_approaches_the_expectation():
    model = nn.Linear(4, 3)
    with torch.no_grad():
        model.weight.mul_(3.0)  # confident enough that sampled and data labels differ in law
    x = torch.randn(6, 4, generator=torch.Generator().manual_seed(1))
    # exact expectation over y ~ p(y|x): sum_y p(y|x) g_y^2, by enumerating the classes
    probabilities = torch.softmax(model(x), -1).detach()
    exact = {n: torch.zeros_like(p) for n, p in model.named_parameters()}
    for i in range(6):
        for label in range(3):
            one = per_sample_squared_gradients(model, x[i:i + 1], torch.tensor([label]))
            for n in exact:
                exact[n] += probabilities[i, label] * one[n] / 6
    repeated = x.repeat(5000, 1)  # 5000 draws per input: the sampled Fisher is within a few percent
    sampled = fisher_diagonal(model, [((repeated,), None)], generator=torch.Generator().manual_seed(0))
    for n in exact:
        assert torch.allclose(sampled[n], exact[n], rtol=0.1, atol=1e-3), n
    # same generator seed: the same draws, the same Fisher (recomputing after a resume gives it again)
    again = fisher_diagonal(model, [((repeated,), None)], generator=torch.Generator().manual_seed(0))
    assert all(torch.equal(sampled[n], again[n]) for n in sampled)


def test_penalty_is_eq3_zero_at_the_anchor_and_pulls_back_with_gradient_lambda_f_delta():
    model = net()
    ewc = zoo.method("ewc", importance=7.0)
    kept = ewc.consolidate(model, data(0))
    params = dict(model.named_parameters())
    assert float(ewc.penalty(params).detach()) == 0.0
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.1 * torch.randn_like(p))
    value = ewc.penalty(params)
    by_hand = sum(0.5 * 7.0 * (kept["fisher"][n] * (p - kept["anchor"][n]) ** 2).sum() for n, p in params.items())
    torch.testing.assert_close(value, by_hand)
    assert float(value.detach()) > 0
    value.backward()
    for n, p in params.items():
        torch.testing.assert_close(p.grad, 7.0 * kept["fisher"][n] * (p - kept["anchor"][n]).detach())


def test_l2_penalty_has_unit_importances_and_no_fisher():
    model = net()
    ewc = zoo.method("ewc", penalty="l2", importance=2.0)
    kept = ewc.consolidate(model, data(0))
    assert kept["fisher"] is None
    moved = {n: p.detach() + 0.5 for n, p in model.named_parameters()}
    count = sum(p.numel() for p in model.parameters())
    torch.testing.assert_close(ewc.penalty(moved), torch.tensor(0.5 * 2.0 * 0.25 * count))
    # one penalty per earlier task: two consolidations at the same weights double it
    ewc.consolidate(model, data(1))
    torch.testing.assert_close(quadratic_penalty(moved, ewc.consolidations), torch.tensor(2 * 0.25 * count))


# --- in zoo.train ----------------------------------------------------------------------------------


class TermLog:
    def __init__(self):
        self.ewc = []

    def zoo_train_batch_end(self, logs):
        self.ewc.append(logs.get("loss/ewc"))


def distance(model, anchor):
    return sum(float((p.detach() - anchor[n]).pow(2).sum()) for n, p in model.named_parameters())


def test_the_penalty_holds_a_plain_module_near_the_earlier_task():
    moved = {}
    for importance in (0.0, 100.0):
        model = net()
        zoo.train(model, data(0), epochs=2, **OPTIONS)
        ewc = zoo.method("ewc", importance=importance)
        anchor = ewc.consolidate(model, data(0))["anchor"]
        log = TermLog()
        zoo.train(model, data(1), epochs=2, methods=[ewc], callbacks=[log], **OPTIONS)
        assert log.ewc and all(v is not None for v in log.ewc)  # the "ewc" term is in every step's loss
        moved[importance] = distance(model, anchor)
    assert moved[100.0] < 0.5 * moved[0.0]


def test_acts_on_a_catalog_model():
    task = zoo.get_task("digits/permuted", permutation=1)
    model = zoo.create("mlp-mixer", variant="digits", task=task, num_blocks=1, hidden_dim=16)
    ewc = zoo.method("ewc", importance=50.0, fisher_samples=64, fisher="empirical")
    kept = ewc.consolidate(model, task)
    assert set(kept["fisher"]) == {n for n, p in model.named_parameters() if p.requires_grad}
    assert all(bool((f >= 0).all()) for f in kept["fisher"].values())
    result = zoo.train(model, zoo.get_task("digits/permuted", permutation=2), methods=[ewc], epochs=1,
                       max_steps=5, **OPTIONS)
    assert result.steps == 5 and float(ewc.penalty(dict(model.named_parameters())).detach()) > 0


def test_exact_resume_inside_a_run_restores_the_consolidations(tmp_path):
    def fresh():
        model = net()
        zoo.train(model, data(0), epochs=1, **OPTIONS)
        return model

    def consolidated(model):
        ewc = zoo.method("ewc", importance=50.0)
        ewc.consolidate(model, data(0))
        return ewc

    straight = fresh()
    ewc_straight = consolidated(straight)
    zoo.train(straight, data(1), epochs=2, methods=[ewc_straight], out_dir=tmp_path / "a", **OPTIONS)

    resumed = fresh()
    zoo.train(resumed, data(1), epochs=1, methods=[consolidated(resumed)], out_dir=tmp_path / "b", **OPTIONS)
    later = zoo.method("ewc", importance=50.0)  # a new process: nothing consolidated until the checkpoint loads
    zoo.train(resumed, data(1), epochs=2, methods=[later], out_dir=tmp_path / "b", resume=True, **OPTIONS)

    for (n, p), q in zip(straight.named_parameters(), resumed.parameters()):
        assert torch.equal(p, q), n
    assert len(later.consolidations) == 1
    for part in ("anchor", "fisher"):
        for n, t in ewc_straight.consolidations[0][part].items():
            assert torch.equal(t, later.consolidations[0][part][n]), (part, n)


# --- the sequence procedure --------------------------------------------------------------------------


class Starts:
    def __init__(self):
        self.count = 0

    def zoo_train_start(self):
        self.count += 1


def test_a_killed_sequence_resumes_at_the_task_it_was_in(tmp_path):
    tasks = [data(0), data(1), data(2)]
    options = {**OPTIONS, "epochs": 2}
    straight = net()
    whole = zoo.method("ewc", importance=20.0).run(straight, tasks, out_dir=tmp_path / "a", score_split="test",
                                                   **options)
    assert len(whole.accuracy) == 3 and all(len(row) == 3 for row in whole.accuracy)

    killed = net()
    with pytest.raises(KeyboardInterrupt):  # 2 checkpoints per task: killed after task B's first epoch
        zoo.method("ewc", importance=20.0).run(killed, tasks, out_dir=tmp_path / "b", callbacks=[Interrupt(3)],
                                               **options)
    starts = Starts()
    again = zoo.method("ewc", importance=20.0)
    result = again.run(killed, tasks, out_dir=tmp_path / "b", resume=True, callbacks=[starts], **options)
    assert starts.count == 2  # task A was not trained again; task B continued, task C ran
    for (n, p), q in zip(straight.named_parameters(), killed.parameters()):
        assert torch.equal(p, q), n
    assert result.accuracy == whole.accuracy
    assert len(again.consolidations) == 2


def test_sequence_needs_two_tasks_and_classification_everywhere():
    with pytest.raises(MethodMismatchError, match=r"'ewc'.*at least 2 tasks"):
        zoo.method("ewc").run(net(), [data(0)], epochs=1)
    x = torch.randn(32, 6)
    regression = {"train": (x, x[:, :3])}
    model = net()
    before = [p.clone() for p in model.parameters()]
    with pytest.raises(MethodMismatchError, match=r"'ewc'.*classification"):
        zoo.method("ewc").run(model, [data(0), regression], epochs=1, **{k: v for k, v in OPTIONS.items()})
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))  # refused before training task A


# --- refusals ----------------------------------------------------------------------------------------


def test_unknown_option_is_refused_with_a_suggestion():
    with pytest.raises(ConfigError, match="importance"):
        zoo.method("ewc", importanse=10.0)
    with pytest.raises(ConfigError):
        zoo.method("ewc", fisher="exact")


def test_a_regression_task_is_refused_naming_method_model_and_need():
    model = nn.Sequential(nn.Linear(10, 1))
    with pytest.raises(MethodMismatchError, match=r"method 'ewc' cannot act on model 'Sequential'.*classification"):
        zoo.train(model, "diabetes", methods=["ewc"], epochs=1, progress=False)


def test_consolidations_of_another_model_are_refused():
    ewc = zoo.method("ewc")
    ewc.consolidate(net(), data(0))
    other = nn.Sequential(nn.Linear(6, 3))
    with pytest.raises(MethodMismatchError, match="another model"):
        zoo.train(other, data(1), methods=[ewc], epochs=1, **OPTIONS)


# --- the task -------------------------------------------------------------------------------------------


def test_permuted_digits_shuffle_the_same_images_by_a_fixed_permutation():
    plain = zoo.get_task("digits").splits()["test"].tensors
    identity = zoo.get_task("digits/permuted", permutation=0).splits()["test"].tensors
    assert torch.equal(plain[0], identity[0]) and torch.equal(plain[1], identity[1])
    shuffled = zoo.get_task("digits/permuted", permutation=3).splits()["test"].tensors
    order = pixel_permutation(3)
    assert not torch.equal(order, torch.arange(64)) and torch.equal(order, pixel_permutation(3))
    assert torch.equal(shuffled[0].reshape(-1, 64), plain[0].reshape(-1, 64)[:, order])
    assert torch.equal(shuffled[1], plain[1])


def test_a_penalty_too_stiff_for_plain_sgd_is_warned_about():
    model = net()
    ewc = zoo.method("ewc", penalty="l2", importance=100.0)
    ewc.consolidate(model, data(0))
    with pytest.warns(UserWarning, match="diverges"):  # lr x lambda x F = 0.05 x 100 x 1 = 5
        zoo.train(model, data(1), methods=[ewc], epochs=1, max_steps=1, **OPTIONS)
