"""Training a KAN on the paper's sparsification objective (Eq. 2.20) through zoo.train."""

from __future__ import annotations

import math

import pytest
import torch

import zoo
from zoo.tasks import ArraySplit, ArrayTask
from zoo_plugins.kan.config import KANConfig
from zoo_plugins.kan.model import KAN, SparsityTraining


def exp_sin_task(n: int = 200) -> ArrayTask:
    generator = torch.Generator().manual_seed(0)
    x = torch.rand(n, 2, generator=generator, dtype=torch.float64) * 2 - 1
    y = torch.exp(torch.sin(math.pi * x[:, :1]) + x[:, 1:] ** 2)
    split = ArraySplit(x, y, float_dtype=torch.float64)
    return ArrayTask("kan-sparsity-test", "regression", {"train": split, "test": split},
                     loss=lambda out, target: ((out - target) ** 2).mean())


def new_kan() -> KAN:
    torch.manual_seed(0)
    return KAN(KANConfig(width=[2, 3, 1], grid=3)).double()


class LogRecorder:
    def __init__(self):
        self.logs = []

    def zoo_train_batch_end(self, run, logs):
        self.logs.append(dict(logs))


def train(model, task, optimizer="lbfgs", epochs=4, callbacks=()):
    lr = 1.0 if optimizer == "lbfgs" else 1e-2
    return zoo.train(model, task, optimizer=optimizer, lr=lr, batch_size=len(task.splits()["train"]),
                     epochs=epochs, shuffle=False, seed=0, device="cpu", eval_splits=[], final_splits=["train"],
                     callbacks=callbacks, progress=False)


def test_the_logged_loss_is_the_papers_objective_before_the_step():
    task = exp_sin_task()
    kan = new_kan()
    x, y = task.splits()["train"].tensors[:2]
    with torch.no_grad():
        pred_loss = ((kan(x) - y) ** 2).mean()
        penalty = kan.regularization(x, 1.0, 2.0)
    recorder = LogRecorder()
    train(SparsityTraining(kan, lamb=0.1, mu_2=2.0), task, epochs=1, callbacks=[recorder])
    first = recorder.logs[0]
    assert first["pred_loss"] == pytest.approx(float(pred_loss), rel=1e-9)
    assert first["penalty"] == pytest.approx(float(penalty), rel=1e-9)
    assert first["loss"] == pytest.approx(float(pred_loss + 0.1 * penalty), rel=1e-9)


@pytest.mark.parametrize("optimizer", ["lbfgs", "adam"])
def test_the_penalty_trains_the_wrapped_kan_sparser(optimizer):
    task = exp_sin_task()
    x = task.splits()["train"].tensors[0]
    plain, penalised = new_kan(), new_kan()
    epochs, lamb = (4, 0.05) if optimizer == "lbfgs" else (30, 1.0)
    train(SparsityTraining(plain, lamb=0.0), task, optimizer, epochs)
    train(SparsityTraining(penalised, lamb=lamb), task, optimizer, epochs)
    with torch.no_grad():  # the wrapped KAN itself was trained, towards a smaller penalty
        assert penalised.regularization(x) < 0.9 * plain.regularization(x)
        assert not torch.equal(penalised.layers[0].coef, new_kan().layers[0].coef)


def test_the_kan_keeps_its_default_training_path():
    kan = new_kan()
    assert not hasattr(kan, "training_step")  # zoo.train's plain (fast) step, unchanged
    wrapper = SparsityTraining(kan, lamb=1e-3)
    x = torch.rand(5, 2, dtype=torch.float64)
    assert torch.equal(wrapper(x), kan(x))
    assert [p is q for p, q in zip(wrapper.parameters(), kan.parameters())] == [True] * len(list(kan.parameters()))


@pytest.mark.parametrize("options", [{"lamb": -1.0}, {"lamb": float("nan")}, {"lamb": 1e-3, "mu_2": -2.0}])
def test_bad_penalty_weights_are_rejected(options):
    with pytest.raises(ValueError, match="SparsityTraining"):
        SparsityTraining(new_kan(), **options)


def pykan_reg(acts_scale: list[torch.Tensor], lamb_l1: float, lamb_entropy: float) -> torch.Tensor:
    """pykan 0.2's `MultKAN.reg` (coefficient terms off), on its (out, in) edge scales."""
    reg = 0.0
    for vec in acts_scale:
        p_row = vec / (torch.sum(vec, dim=1, keepdim=True) + 1)
        p_col = vec / (torch.sum(vec, dim=0, keepdim=True) + 1)
        entropy_row = -torch.mean(torch.sum(p_row * torch.log2(p_row + 1e-4), dim=1))
        entropy_col = -torch.mean(torch.sum(p_col * torch.log2(p_col + 1e-4), dim=0))
        reg = reg + lamb_l1 * torch.sum(vec) + lamb_entropy * (entropy_row + entropy_col)
    return reg


def test_the_pykan_penalty_is_pykans_reg():
    task = exp_sin_task()
    kan = new_kan()
    x = task.splits()["train"].tensors[0]
    with torch.no_grad():
        acts_scale = []  # pykan: std(postacts) / (std(preacts) + 0.1), laid out (out, in)
        for layer, h in zip(kan.layers, kan.layer_inputs(x)):
            acts_scale.append((layer.activations(h).std(0) / (h.std(0)[:, None] + 0.1)).T)
        penalty = float(kan.regularization(x, 1.0, 2.0, form="pykan"))
        assert penalty == pytest.approx(float(pykan_reg(acts_scale, 1.0, 2.0)), rel=1e-12)
        assert penalty != pytest.approx(float(kan.regularization(x, 1.0, 2.0)), rel=1e-3)
    with pytest.raises(ValueError, match="penalty form 'l2'"):
        kan.regularization(x, form="l2")


def test_sparsity_training_with_the_pykan_penalty_logs_it_and_trains_sparser():
    task = exp_sin_task()
    x, y = task.splits()["train"].tensors[:2]
    plain, penalised = new_kan(), new_kan()
    with torch.no_grad():
        penalty = penalised.regularization(x, 1.0, 2.0, form="pykan")
    recorder = LogRecorder()
    train(SparsityTraining(plain, lamb=0.0, form="pykan"), task)
    train(SparsityTraining(penalised, lamb=0.05, mu_2=2.0, form="pykan"), task, callbacks=[recorder])
    assert recorder.logs[0]["penalty"] == pytest.approx(float(penalty), rel=1e-9)
    with torch.no_grad():
        assert penalised.regularization(x, form="pykan") < 0.9 * plain.regularization(x, form="pykan")
    with pytest.raises(ValueError, match="SparsityTraining form"):
        SparsityTraining(new_kan(), lamb=1e-3, form="l2")
