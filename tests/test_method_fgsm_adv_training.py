"""Tests of the fgsm-adv-training method: the perturbation of Eq. 3, the objective of Eq. 6 in one
zoo.train step, no gradient left on parameters, exact resume, a zoo model, and refused inputs."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import zoo
from zoo.errors import ConfigError
from zoo.tasks import ArrayTask
from zoo.training.method import MethodConflictError, MethodMismatchError
from zoo_plugins.fgsm_adv_training.method import FGSMAdversarialTraining, fgsm, fgsm_error, input_gradient

SLUG = "fgsm-adv-training"


@pytest.fixture(scope="module")
def digits():
    return zoo.get_task("digits")


def mlp(seed: int = 0, dropout: float = 0.0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.Tanh(), nn.Dropout(dropout), nn.Linear(32, 10))


def reference_gradient(model, x, y):
    leaf = x.clone().requires_grad_(True)
    F.cross_entropy(model(leaf), y).backward(inputs=[leaf])
    return leaf.grad


def test_perturbation_is_eps_times_sign_of_the_input_gradient(digits):
    model = mlp()
    x, y = (t[:50] for t in digits.splits()["train"].tensors[:2])
    sign = reference_gradient(model, x, y).sign()
    assert (sign != 0).float().mean() > 0.9  # nearly every pixel moves: the check below is not vacuous

    x_adv = fgsm(model, F.cross_entropy, x, y, 0.25)
    assert torch.equal(x_adv, x + 0.25 * sign)
    assert torch.allclose((x_adv - x).abs()[sign != 0], torch.tensor(0.25))
    assert not x_adv.requires_grad

    clamped = fgsm(model, F.cross_entropy, x, y, 0.25, input_range=(0.0, 1.0))
    assert clamped.min() >= 0 and clamped.max() <= 1
    assert torch.equal(clamped, (x + 0.25 * sign).clamp(0, 1))
    inside = ((x + 0.25 * sign) >= 0) & ((x + 0.25 * sign) <= 1)
    assert torch.equal(clamped[inside], x_adv[inside])  # within the range the clamp changes nothing
    assert (~inside).any()  # background pixels pushed below 0: the clamp did act


def test_fgsm_leaves_no_gradient_on_parameters_and_keeps_the_mode(digits):
    model = mlp(dropout=0.5).eval()
    x, y = (t[:20] for t in digits.splits()["train"].tensors[:2])
    input_gradient(model, F.cross_entropy, x, y)
    assert all(p.grad is None for p in model.parameters())
    assert not model.training
    assert fgsm_error(model, x, y, 0.0) == pytest.approx(float((model(x).argmax(-1) != y).float().mean()))
    assert not model.training


def test_torchattacks_fgsm_gives_the_same_adversarial_inputs(digits):
    torchattacks = pytest.importorskip("torchattacks")
    model = mlp().eval()
    x, y = (t[:100] for t in digits.splits()["test"].tensors[:2])
    ours = fgsm(model, F.cross_entropy, x, y, 0.25, input_range=(0.0, 1.0))
    assert torch.equal(ours, torchattacks.FGSM(model, eps=0.25)(x, y))
    assert not torch.equal(ours, x)


class _Step:
    """What the loss event reads of a run: its task and model."""

    def __init__(self, task, model):
        self.task, self.model = task, model


def test_loss_terms_are_eq6_and_leave_parameter_gradients_alone(digits):
    model = mlp()
    method = zoo.method(SLUG, alpha=0.3)
    batch = [t[:40] for t in digits.splits()["train"].tensors[:2]]
    step = _Step(digits, model)
    batch = method.transform_batch(batch, step)
    assert batch[0].requires_grad and batch[0].is_leaf
    output = model(batch[0])
    terms = method.loss({"task": digits.loss(output, batch)}, output, batch, step)
    assert all(p.grad is None for p in model.parameters())

    x, y = batch[0].detach(), batch[1]
    x_adv = x + 0.25 * reference_gradient(model, x, y).sign()
    assert set(terms) == {"task", "adversarial"}
    assert torch.allclose(terms["task"], 0.3 * F.cross_entropy(model(x), y))
    assert torch.allclose(terms["adversarial"], 0.7 * F.cross_entropy(model(x_adv), y))


class RebuildingTask(ArrayTask):
    """A task whose inputs() makes new tensors: the method then takes a gradient pass of its own."""

    def inputs(self, batch):
        return (batch[0] * 1.0,)


@pytest.mark.parametrize("rebuilds", [False, True], ids=["same-pass", "own-pass"])
def test_one_step_of_zoo_train_descends_the_gradient_of_eq6(digits, rebuilds):
    x, y = digits.splits()["train"].tensors[:2]
    x, y = x[:256], y[:256]
    task = RebuildingTask("digits-copy", "classification", {"train": (x, y)}) if rebuilds else (x, y)
    model, before = mlp(), mlp()
    lr, eps, alpha = 0.5, 0.1, 0.5
    zoo.train(model, task, methods=[zoo.method(SLUG, eps=eps, alpha=alpha)], optimizer="sgd", lr=lr, momentum=0.0,
              batch_size=256, max_steps=1, shuffle=False, eval_splits=[], final_splits=[], device="cpu",
              progress=False)

    x_adv = x + eps * reference_gradient(before, x, y).sign()  # from the parameters before the step
    objective = alpha * F.cross_entropy(before(x), y) + (1 - alpha) * F.cross_entropy(before(x_adv), y)
    grads = torch.autograd.grad(objective, list(before.parameters()))
    for p, p0, g in zip(model.parameters(), before.parameters(), grads):
        torch.testing.assert_close(p, p0 - lr * g, rtol=0, atol=1e-6)
    plain = mlp()
    zoo.train(plain, (x, y), optimizer="sgd", lr=lr, momentum=0.0, batch_size=256, max_steps=1, shuffle=False,
              eval_splits=[], final_splits=[], device="cpu", progress=False)
    assert not torch.allclose(plain[1].weight, model[1].weight, atol=1e-6)  # the adversarial term did act


def test_acts_on_a_zoo_model(digits):
    def trained(methods):
        torch.manual_seed(0)
        model = zoo.create("mlp-mixer", variant="digits", task=digits, num_blocks=1, hidden_dim=16)
        result = zoo.train(model, digits, methods=methods, max_steps=4, batch_size=64, eval_splits=[],
                           final_splits=["val"], device="cpu", progress=False)
        return model, result

    plain, _ = trained([])
    unweighted, _ = trained([zoo.method(SLUG, alpha=1.0)])  # Eq. 6 with alpha = 1 is plain training
    adversarial, result = trained([SLUG])
    assert np.isfinite(result.final["val_loss"])
    for a, b, c in zip(plain.parameters(), unweighted.parameters(), adversarial.parameters()):
        assert torch.equal(a, b)
    assert any(not torch.equal(a, c) for a, c in zip(plain.parameters(), adversarial.parameters()))


def test_resume_inside_an_epoch_is_bitwise_identical(digits, tmp_path):
    options = dict(methods=[SLUG], epochs=2, batch_size=128, lr=1e-2, seed=3, eval_splits=[], final_splits=[],
                   device="cpu", progress=False)
    whole = mlp(dropout=0.3)  # dropout: the adversarial pass draws from the RNG a checkpoint keeps
    zoo.train(whole, digits, out_dir=tmp_path / "whole", checkpoint_every=4, keep_checkpoints=20, **options)
    checkpoints = sorted((tmp_path / "whole" / "checkpoints").iterdir())
    middle = next(c for c in checkpoints if "epoch-00000" in c.name and not c.name.endswith("000000"))

    method = zoo.method(SLUG)
    resumed = mlp(seed=1, dropout=0.3)
    zoo.train(resumed, digits, out_dir=tmp_path / "resumed", resume=middle,
              **{**options, "methods": [method]})
    for (name, a), b in zip(whole.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(a, b), name
    assert method.state_dict() == FGSMAdversarialTraining().state_dict() == {}  # nothing of its own to restore
    fresh = mlp(dropout=0.3)
    zoo.train(fresh, digits, **{**options, "epochs": 1})
    assert not torch.equal(fresh[1].weight, whole[1].weight)


def test_unknown_option_is_refused_with_a_suggestion():
    with pytest.raises(ConfigError, match="did you mean 'eps'"):
        zoo.method(SLUG, epsilon=0.1)
    with pytest.raises(ConfigError, match="low < high"):
        zoo.method(SLUG, input_range=[1.0, 0.0])
    with pytest.raises(ConfigError, match="alpha"):
        zoo.method(SLUG, alpha=1.5)
    assert zoo.method(SLUG, input_range=[0, 1]).config.input_range == (0.0, 1.0)  # as JSON writes it


def test_integer_inputs_are_refused_before_training():
    rng = np.random.default_rng(0)
    tokens = ArrayTask("tokens", "classification", {"train": (rng.integers(0, 20, (32, 5)), rng.integers(0, 3, 32))})
    model = nn.Sequential(nn.Embedding(20, 4), nn.Flatten(), nn.Linear(20, 3))
    with pytest.raises(MethodMismatchError, match=r"fgsm-adv-training.*Sequential.*tokens.*floating-point input"):
        zoo.train(model, tokens, methods=[SLUG], epochs=1, progress=False)


def test_given_twice_is_a_conflict(digits):
    with pytest.raises(MethodConflictError, match="given twice"):
        zoo.train(mlp(), digits, methods=[SLUG, zoo.method(SLUG, eps=0.1)], epochs=1, progress=False)
