"""mlpst: conformance, patches by hand, local vs global receptive fields, every interval used, the
grid-flow task's closeness/period/trend lags and scaling, the parameter count against ST-ResNet, a
tiny training that must improve, and bad input."""

import numpy as np
import pytest
import torch

import zoo
from zoo.testing import assert_conforms
from zoo_plugins.mlpst.baselines import STResNet
from zoo_plugins.mlpst.model import patchify, unpatchify
from zoo_plugins.mlpst.task import closeness_period_trend


def test_conforms_default_and_variants():
    assert_conforms("mlpst")
    assert_conforms("mlpst", variant="deep")


def test_patches_by_hand_and_round_trip():
    x = torch.arange(2 * 4 * 6, dtype=torch.float32).reshape(1, 2, 4, 6)  # (B, C, H, W)
    patches = patchify(x, 2)  # 2 x 3 patches of 2 x 2 cells, 2 channels
    assert patches.shape == (1, 6, 8)
    torch.testing.assert_close(patches[0, 0], torch.cat([x[0, 0, :2, :2].flatten(), x[0, 1, :2, :2].flatten()]))
    torch.testing.assert_close(patches[0, 4], torch.cat([x[0, 0, 2:, 2:4].flatten(), x[0, 1, 2:, 2:4].flatten()]))
    torch.testing.assert_close(unpatchify(patches, 2, 2, 4, 6), x)


def test_local_mlp_stays_in_its_patch_and_global_mlp_reaches_all():
    torch.manual_seed(0)
    model = zoo.create("mlpst", height=8, width=8, patch_size=4)
    x = torch.randn(1, 5, 2, 8, 8)
    bumped = x.clone()
    bumped[0, 0, 0, 1, 1] += 1.0  # one cell of the top-left patch, first closeness step
    with torch.no_grad():
        local = lambda a: model.local_mlp(model.local_norm(patchify(a, 4)))  # noqa: E731
        changed = (local(bumped) - local(x)).abs().sum(-1)[0, 0]  # per patch, first step
        assert changed[0] > 0 and torch.all(changed[1:] == 0)
        spatial = (model.spatial(bumped) - model.spatial(x)).abs().sum(-1)[0]  # (T, N)
    assert torch.all(spatial[0] > 0)  # after the global MLP every patch has seen the cell
    assert torch.all(spatial[1:] == 0)  # spatial mixing does not cross time steps


def test_every_interval_reaches_the_output():
    torch.manual_seed(0)
    model = zoo.create("mlpst")
    x = torch.randn(2, 5, 2, 16, 8)
    with torch.no_grad():
        base = model(x)
        for step in range(5):  # closeness 0-2, period 3, trend 4
            moved = x.clone()
            moved[:, step] += 0.5
            assert (model(moved) - base).abs().max() > 0
    no_trend = zoo.create("mlpst", trend=0)
    assert no_trend(torch.randn(2, 4, 2, 16, 8)).shape == (2, 2 * 16 * 8)


def test_grid_flow_lags_and_scaling():
    flows = np.random.default_rng(0).random((7 * 4 * 3, 2, 2, 3))  # 3 weeks at 4 steps a day
    inputs, targets, times = closeness_period_trend(flows, 3, 1, 1, steps_per_day=4)
    assert times[0] == 28 and len(times) == len(flows) - 28
    i, t = 5, times[5]
    for k, lag in enumerate((1, 2, 3, 4, 28)):
        np.testing.assert_array_equal(inputs[i, k], flows[t - lag])
    np.testing.assert_array_equal(targets[i], flows[t])
    task = zoo.get_task("mlpst/grid-flow", weeks=2, seed=0)
    x, y = task.splits()["train"].tensors
    assert x.shape[1:] == (5, 2, 16, 8) and y.shape[1:] == (2 * 16 * 8,)
    assert y.min() == pytest.approx(-1.0) and y.max() == pytest.approx(1.0)  # min-max scaled on train
    assert [len(s) for s in task.splits().values()] == [235, 34, 67]
    with pytest.raises(ValueError, match="trend=2"):
        zoo.get_task("mlpst/grid-flow", weeks=2, trend=2)
    with pytest.raises(ValueError, match="closeness"):
        zoo.get_task("mlpst/grid-flow", closeness=0)


def test_an_order_of_magnitude_fewer_parameters_than_st_resnet():
    ours = sum(p.numel() for p in zoo.create("mlpst").parameters())
    resnet = sum(p.numel() for p in STResNet(3, 1, 1, 2, 16, 8, filters=64, units=4).parameters())
    assert ours * 10 < resnet
    assert STResNet(3, 1, 1, 2, 16, 8, filters=8, units=1)(torch.randn(3, 5, 2, 16, 8)).shape == (3, 256)


def test_tiny_training_improves():
    task = zoo.get_task("mlpst/grid-flow", weeks=2, height=8, width=8, seed=0)
    x, y = task.splits()["train"].tensors
    torch.manual_seed(0)
    model = zoo.create("mlpst", task=task)
    with torch.no_grad():
        before = torch.nn.functional.mse_loss(model(x), y).item()
    zoo.train(model, task, optimizer="adam", lr=0.003, batch_size=32, epochs=3, eval_splits=[], final_splits=[],
              progress=False)
    with torch.no_grad():
        after = torch.nn.functional.mse_loss(model(x), y).item()
    assert after < 0.5 * before


def test_bad_input_and_config():
    model = zoo.create("mlpst")
    with pytest.raises(ValueError, match=r"\(batch, 5, 2, 16, 8\)"):
        model(torch.randn(2, 4, 2, 16, 8))
    with pytest.raises(TypeError, match="floating-point"):
        model(torch.ones(2, 5, 2, 16, 8, dtype=torch.long))
    for bad in ({"patch_size": 3}, {"closeness": 0}, {"hidden_dim": 0}, {"height": 5000}):
        with pytest.raises(zoo.ConfigError):
            zoo.create("mlpst", **bad)
