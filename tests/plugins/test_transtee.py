"""transtee: conformance (discrete and continuous treatments), the token structure (the outcome
depends on the treatment only through the cross-attention; covariate tokens are x_i w_i + b_i),
the propensity NLL by hand, the VCNet basis, the generated data's known potential outcomes and
confounding, training that lowers the effect error, and bad input."""

import math

import numpy as np
import pytest
import torch

import zoo
from zoo.testing import assert_conforms
from zoo_plugins.transtee.baselines import TARNet, VCNet, truncated_power_basis
from zoo_plugins.transtee.model import propensity_nll
from zoo_plugins.transtee.task import TreatmentEffectTask, binary_outcomes, dosage_outcome, effect_errors


def test_conforms_discrete_and_continuous():
    assert_conforms("transtee")
    assert_conforms("transtee", variant="dosage")
    assert_conforms("transtee", num_treatments=3, emsize=16, nhead=4, nlayers=2)


def test_tokens_and_treatment_pathway():
    torch.manual_seed(0)
    model = zoo.create("transtee", covariates=4, emsize=8, nhead=2).eval()
    x = torch.randn(5, 4)
    tokens = model.covariate_tokens(x)
    torch.testing.assert_close(tokens[:, 2], x[:, 2:3] * model.covariate_weight[2] + model.covariate_bias[2])
    y0, p0 = model(x, torch.zeros(5, dtype=torch.long))
    y1, p1 = model(x, torch.ones(5, dtype=torch.long))
    assert not torch.allclose(y0, y1)  # the treatment token changes the outcome
    torch.testing.assert_close(p0, p1)  # the propensity head sees the covariates only
    # each unit is scored on its own: another unit in the batch changes nothing
    torch.testing.assert_close(model(x[:2], torch.zeros(2, dtype=torch.long))[0], y0[:2])
    dosage = zoo.create("transtee", covariates=4, emsize=8, nhead=2, treatment="continuous").eval()
    a = dosage(x, torch.full((5,), 0.2))[0]
    b = dosage(x, torch.full((5,), 0.21))[0]
    assert (a - b).abs().max() < 0.05 and not torch.equal(a, b)  # continuous in the dosage


def test_propensity_nll_by_hand():
    logits = torch.tensor([[0.0, 1.0, 2.0, 3.0]])
    probs = logits.softmax(-1)[0]
    # a dosage of 0.6 falls in bin 2 of 4 on [0, 1]: density = p_2 * 4
    assert propensity_nll(logits, torch.tensor([0.6]), True).item() == pytest.approx(-math.log(probs[2] * 4), rel=1e-5)
    assert propensity_nll(logits, torch.tensor([1.0]), True).item() == pytest.approx(-math.log(probs[3] * 4), rel=1e-5)
    assert propensity_nll(logits, torch.tensor([1]), False).item() == pytest.approx(-math.log(probs[1]), rel=1e-5)


def test_vcnet_basis_and_baselines():
    t = torch.tensor([0.0, 0.5, 0.9])
    basis = truncated_power_basis(t)
    expected = torch.tensor([[1, 0, 0, 0, 0], [1, 0.5, 0.25, (0.5 - 1 / 3) ** 2, 0],
                             [1, 0.9, 0.81, (0.9 - 1 / 3) ** 2, (0.9 - 2 / 3) ** 2]])
    torch.testing.assert_close(basis, expected)
    torch.manual_seed(0)
    out, density = VCNet(6, hidden=8)(torch.rand(3, 6), t)
    assert out.shape == (3,) and density.shape == (3, 10)
    out, none = TARNet(6, hidden=8)(torch.rand(3, 6), torch.tensor([0, 1, 1]))
    assert out.shape == (3,) and none is None


def test_generated_data_has_known_outcomes_and_confounding():
    task = TreatmentEffectTask(setting="binary", train=4000, val=10, test=50, seed=0)
    x, t, y = (a.numpy() for a in task.splits()["train"].tensors)
    mu = binary_outcomes(x.astype(np.float64))
    residual = y - mu[np.arange(len(y)), t]
    assert abs(residual.std() - 0.5) < 0.03  # only the stated noise is left
    score = x[:, 0] + x[:, 1] - x[:, 2]
    assert t[score > 1].mean() > 0.7 > 0.3 > t[score < -1].mean()  # confounded assignment
    tau = task.truth["test"][:, 1] - task.truth["test"][:, 0]
    assert tau.std() > 0.5  # a heterogeneous effect
    dose = TreatmentEffectTask(setting="dosage", covariates=6, train=2000, val=10, test=40, seed=1)
    xd, td, yd = (a.numpy() for a in dose.splits()["train"].tensors)
    assert 0 < td.min() and td.max() < 1
    assert abs((yd - dosage_outcome(xd.astype(np.float64), td.astype(np.float64))).std() - 0.5) < 0.03
    assert dose.truth["test"].shape == (40, len(dose.grid))
    xt = dose.splits()["test"].tensors[0].numpy().astype(np.float64)
    np.testing.assert_allclose(dose.truth["test"][:, 7], dosage_outcome(xt, np.full(40, dose.grid[7])), atol=1e-6)


def test_training_lowers_the_effect_error():
    task = TreatmentEffectTask(setting="binary", train=600, val=10, test=300, seed=0)
    torch.manual_seed(0)
    model = zoo.create("transtee", task=task, emsize=16, nhead=2)
    before = effect_errors(model, task)
    zoo.train(model, task, lr=1e-2, batch_size=100, epochs=6, seed=0, eval_splits=[], final_splits=[], progress=False)
    after = effect_errors(model, task)
    assert after["sqrt_pehe"] < 0.85 * before["sqrt_pehe"] and after["ate_error"] < 0.3 * before["ate_error"]


def test_bad_input_and_config():
    model = zoo.create("transtee", covariates=4, emsize=8, nhead=2)
    with pytest.raises(ValueError, match=r"\(batch, 4\)"):
        model(torch.randn(3, 5), torch.zeros(3, dtype=torch.long))
    with pytest.raises(TypeError, match="integer arm ids"):
        model(torch.randn(3, 4), torch.zeros(3))
    with pytest.raises(ValueError, match=r"\[0, 2\)"):
        model(torch.randn(3, 4), torch.full((3,), 2))
    with pytest.raises(TypeError, match="float dosages"):
        zoo.create("transtee", covariates=4, emsize=8, nhead=2, treatment="continuous")(
            torch.randn(3, 4), torch.zeros(3, dtype=torch.long))
    with pytest.raises(zoo.ConfigError):
        zoo.create("transtee", treatment="dose")
    with pytest.raises(zoo.ConfigError, match="divisible"):
        zoo.create("transtee", emsize=10, nhead=4)
    with pytest.raises(zoo.ConfigError, match="setting"):
        TreatmentEffectTask(setting="ternary")
    with pytest.raises(zoo.ConfigError, match="at least 6"):
        TreatmentEffectTask(covariates=3)
