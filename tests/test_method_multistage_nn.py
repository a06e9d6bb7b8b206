"""multistage-nn: the kappa rule, the residue scale, the composite, resume between stages, save/load."""

from __future__ import annotations

import math

import pytest
import torch

import zoo
from zoo.errors import ConfigError
from zoo.training.method import MethodMismatchError
from zoo_plugins.multistage_nn.method import dominant_frequency, kappa_for, residue_scale

TINY = {"adam_steps": 30, "later_adam_steps": 30, "lbfgs_iterations": 40}


def _data(n=120):
    x = torch.linspace(-1.05, 1.05, n, dtype=torch.float64)[:, None]
    return x, torch.sin(2 * x + 1) + 0.2 * torch.exp(1.3 * x)


def test_dominant_frequency_and_kappa():
    x = torch.linspace(-1, 1, 401, dtype=torch.float64)[:, None]
    residue = 0.3 * torch.sin(2 * math.pi * 7 * x) + 0.01 * torch.cos(2 * math.pi * 2 * x)
    assert dominant_frequency(x, residue) == pytest.approx(7, abs=0.3)
    shuffled = torch.randperm(401)  # order of the points does not matter
    assert dominant_frequency(x[shuffled], residue[shuffled]) == pytest.approx(7, abs=0.3)
    assert kappa_for(7.0) == pytest.approx(2 * math.pi * 7)
    assert kappa_for(0.0) == pytest.approx(2 * math.pi)
    # 2D grid: the peak's largest per-axis frequency
    g = torch.linspace(-1, 1, 41, dtype=torch.float64)
    gx, gy = torch.meshgrid(g, g, indexing="ij")
    pts = torch.stack([gx.flatten(), gy.flatten()], 1)
    assert dominant_frequency(pts, torch.sin(2 * math.pi * 3 * pts[:, :1]) * torch.cos(math.pi * pts[:, 1:])) \
        == pytest.approx(3, abs=0.3)
    with pytest.raises(ConfigError, match="grid"):
        dominant_frequency(torch.rand(50, 2, dtype=torch.float64), torch.rand(50, 1))


def test_residue_scale_rules():
    r = torch.tensor([[3.0], [-4.0], [0.0], [0.0]], dtype=torch.float64)
    assert residue_scale(r, "rms") == pytest.approx(math.sqrt(25 / 4))
    assert residue_scale(r, "max") == pytest.approx(2.0)


def test_procedure_fits_stage_by_stage_and_saves(tmp_path):
    torch.manual_seed(0)
    x, y = _data()
    model = zoo.create("multistage-net", stages=3)
    result = zoo.method("multistage-nn", **TINY).run(model, (x, y), seed=0)
    errors = [s.train_error for s in result.stages]
    assert len(errors) == 3 and errors[1] < errors[0] and errors[2] < errors[1]
    assert result.stages[0].kappa == 1.0 and result.stages[1].kappa == pytest.approx(2 * math.pi * result.stages[1].frequency)
    # the composite is sum eps_k u_k, eps_k the RMS of the residue stage k fitted (eps_1 = RMS of the target)
    with torch.no_grad():
        assert result.stages[0].scale == pytest.approx(float(y.pow(2).mean().sqrt()))
        by_hand = sum(model.scales[k] * model.stages[k](x) for k in range(3))
        assert torch.equal(model(x), by_hand)
        assert float(model.stages[1].kappa) == pytest.approx(result.stages[1].kappa)
    assert model.stages[0].layers[0].weight.dtype == torch.float64
    zoo.save(model, tmp_path / "m")
    loaded = zoo.load(tmp_path / "m")
    with torch.no_grad():
        assert torch.equal(loaded(x), model(x))


def test_resume_skips_finished_runs_and_ends_identical(tmp_path):
    x, y = _data(80)
    method = zoo.method("multistage-nn", **TINY)
    straight = zoo.create("multistage-net", stages=2)
    method.run(straight, (x, y), seed=1)

    class Stop(Exception):
        pass


    interrupted = zoo.create("multistage-net", stages=2)
    out = tmp_path / "proc"
    calls = {"n": 0}
    original = zoo.training.procedure.Stages.train

    def failing(self, stage, model, task, **options):
        calls["n"] += 1
        if stage == "stage-1-lbfgs":
            raise Stop
        return original(self, stage, model, task, **options)

    zoo.training.procedure.Stages.train = failing
    try:
        with pytest.raises(Stop):
            method.run(interrupted, (x, y), seed=1, out_dir=out)
    finally:
        zoo.training.procedure.Stages.train = original
    assert calls["n"] == 4  # stage-0-adam, stage-0-lbfgs, stage-1-adam finished; stage-1-lbfgs stopped
    resumed = zoo.create("multistage-net", stages=2)
    trained = []

    def recording(self, stage, model, task, **options):
        if stage not in self.done:
            trained.append(stage)
        return original(self, stage, model, task, **options)

    zoo.training.procedure.Stages.train = recording
    try:
        method.run(resumed, (x, y), seed=1, out_dir=out, resume=True)
    finally:
        zoo.training.procedure.Stages.train = original
    assert trained == ["stage-1-lbfgs"]
    for a, b in zip(straight.state_dict().values(), resumed.state_dict().values()):
        assert torch.equal(a, b)


def test_refusals():
    x, y = _data(40)
    with pytest.raises(ConfigError, match="adam_stepz|adam_steps"):
        zoo.method("multistage-nn", adam_stepz=3)
    with pytest.raises(MethodMismatchError, match="multistage-net composite"):
        zoo.method("multistage-nn").run(torch.nn.Linear(1, 1).double(), (x, y))
    with pytest.raises(MethodMismatchError, match="regression"):
        zoo.method("multistage-nn").run(zoo.create("multistage-net"), (x, torch.zeros(40, dtype=torch.long)))
    with pytest.raises(ConfigError, match="runs on its own"):
        zoo.train(zoo.create("multistage-net"), (x, y), methods=["multistage-nn"], epochs=1)
    with pytest.raises(ConfigError, match="sets"):
        zoo.method("multistage-nn").run(zoo.create("multistage-net"), (x, y), epochs=3)
