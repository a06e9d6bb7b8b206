"""directpred: Eq. 18-19, the BYOL loss and EMA, the update rule on zoo.train, exact resume, refusals."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import zoo
from zoo.errors import ConfigError
from zoo.training.method import MethodConflictError, MethodMismatchError
from zoo_plugins.directpred.augment import augment
from zoo_plugins.directpred.method import (byol_loss, direct_predictor, ema_update, effective_rank, unlabeled,
                                           update_correlation)

SMALL = {"projector_hidden": 16, "projection_dim": 8}


def _encoder():
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 16), nn.ReLU(), nn.Linear(16, 12))


def _subset(n=96):
    x, y = zoo.get_task("digits").splits()["train"].tensors
    return {"train": (x[:n], y[:n])}


def test_direct_predictor_is_eq_18():
    torch.manual_seed(0)
    u, _ = torch.linalg.qr(torch.randn(5, 5, dtype=torch.float64))
    s = torch.tensor([4.0, 1.0, 0.25, 0.0, 0.0625], dtype=torch.float64)
    corr = (u * s) @ u.T
    w = direct_predictor(corr, eps=0.01)
    expected = (u * ((s / 4.0).sqrt() + 0.01)) @ u.T  # p_j = sqrt(s_j / max s) + eps
    assert torch.allclose(w, expected, atol=1e-10)
    assert torch.allclose(w, w.T)  # symmetric, same eigenvectors as F
    assert torch.allclose(w @ corr, corr @ w, atol=1e-10)


def test_running_correlation_is_eq_19():
    z = torch.randn(10, 3)
    old = torch.eye(3)
    assert torch.allclose(update_correlation(old, z, 0.3), 0.3 * old + 0.7 * z.T @ z / 10)


def test_loss_ema_and_rank():
    p = torch.randn(6, 4, requires_grad=True)
    assert float(byol_loss(p, 3 * p).detach()) == pytest.approx(0.0, abs=1e-6)  # scale-free: normalised MSE
    assert float(byol_loss(p, -p).detach()) == pytest.approx(4.0, abs=1e-6)
    target, online = nn.Linear(2, 2), nn.Linear(2, 2)
    before = target.weight.detach().clone()
    ema_update(target, online, 0.9)
    assert torch.allclose(target.weight, 0.9 * before + 0.1 * online.weight)
    assert effective_rank(torch.randn(500, 1) @ torch.randn(1, 8)) == pytest.approx(1.0, abs=1e-6)
    assert effective_rank(torch.randn(2000, 8)) > 7


def test_views_differ_and_are_reproducible():
    x = zoo.get_task("digits").splits()["train"].tensors[0][:16]
    a = augment(x, torch.Generator().manual_seed(3))
    b = augment(x, torch.Generator().manual_seed(3))
    assert torch.equal(a, b) and not torch.equal(a, x) and a.shape == x.shape and float(a.min()) >= 0


def test_trains_plain_module_and_catalog_model_with_direct_predictor():
    method = zoo.method("directpred", **SMALL)
    zoo.train(_encoder(), unlabeled(_subset()), methods=[method], epochs=1, batch_size=32, progress=False,
              eval_splits=[], final_splits=[])
    assert method.steps == 3
    w, corr = method.predictor.weight, method.corr
    assert torch.allclose(w, direct_predictor(corr, 0.01), atol=1e-5)  # W_p set from F, not by gradient
    assert not w.requires_grad
    mixer = zoo.create("mlp-mixer", variant="digits", task="digits")
    zoo.train(mixer, unlabeled("digits"), methods=[zoo.method("directpred", **SMALL)], epochs=1, batch_size=256,
              max_steps=2, progress=False, eval_splits=[], final_splits=[])


def test_exact_resume(tmp_path):
    opts = dict(batch_size=32, progress=False, eval_splits=[], final_splits=[], seed=0)
    torch.manual_seed(0)
    straight_model, straight = _encoder(), zoo.method("directpred", **SMALL)
    zoo.train(straight_model, unlabeled(_subset()), methods=[straight], epochs=2, **opts)
    torch.manual_seed(0)
    model = _encoder()
    zoo.train(model, unlabeled(_subset()), methods=[zoo.method("directpred", **SMALL)], epochs=1, out_dir=tmp_path, **opts)
    resumed = zoo.method("directpred", **SMALL)
    torch.manual_seed(0)
    model = _encoder()
    zoo.train(model, unlabeled(_subset()), methods=[resumed], epochs=2, out_dir=tmp_path, resume=True, **opts)
    for a, b in zip(straight_model.state_dict().values(), model.state_dict().values()):
        assert torch.equal(a, b)
    for a, b in zip(straight.target.state_dict().values(), resumed.target.state_dict().values()):
        assert torch.equal(a, b)
    assert torch.equal(straight.corr, resumed.corr) and torch.equal(straight.predictor.weight, resumed.predictor.weight)
    assert straight.steps == resumed.steps == 6


def test_refusals():
    with pytest.raises(ConfigError, match="rho"):
        zoo.method("directpred", rh0=0.3)
    with pytest.raises(MethodMismatchError, match="directpred.*unlabeled"):
        zoo.train(_encoder(), "digits", methods=["directpred"], epochs=1)
    with pytest.raises(MethodConflictError, match="update-rule"):
        zoo.train(_encoder(), unlabeled("digits"), methods=["directpred", "dfa"], epochs=1)
