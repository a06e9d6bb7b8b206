"""The shared generators of the built-in tasks plugin: dynamical systems and time series
(dynamics.py) and tabular data with planted structure (synthetic_tabular.py), the tasks built on
them, and their errors on bad sizes."""

import numpy as np
import pytest
import torch

import zoo
from zoo_plugins.tasks import dynamics, synthetic_tabular
from zoo_plugins.tasks.dynamics import (SYSTEMS, chronological_split, coupled_series, irregular_times, missing_mask,
                                        sample_parameters, simulate, sliding_windows, state_space, traffic_grid,
                                        trajectories)
from zoo_plugins.tasks.synthetic_tabular import binary_auc, ctr_data, ctr_metrics, interaction_data, protected_data


def test_damped_oscillator_matches_its_closed_form():
    omega, zeta = 1.3, 0.2
    times = np.linspace(0, 10, 201)
    states = simulate("damped-oscillator", {"omega": omega, "zeta": zeta}, [1.0, 0.0], times)
    damped = omega * np.sqrt(1 - zeta ** 2)
    # x(0) = 1, v(0) = 0: x(t) = e^{-zeta omega t} (cos wd t + zeta omega / wd sin wd t)
    expected = np.exp(-zeta * omega * times) * (np.cos(damped * times) + zeta * omega / damped * np.sin(damped * times))
    np.testing.assert_allclose(states[:, 0], expected, atol=1e-6)


def test_lotka_volterra_keeps_its_conserved_quantity():
    p = {"alpha": 1.1, "beta": 0.4, "gamma": 0.9, "delta": 0.6}
    states = simulate("lotka-volterra", p, [2.0, 1.0], np.linspace(0, 20, 400))
    x, y = states.T
    invariant = p["delta"] * x - p["gamma"] * np.log(x) + p["beta"] * y - p["alpha"] * np.log(y)
    assert np.ptp(invariant) < 1e-5


def test_parameters_and_trajectories():
    rng = np.random.default_rng(0)
    params = sample_parameters("pendulum", 50, rng, ranges={"omega": (1.0, 1.5)})
    assert all(1.0 <= p["omega"] <= 1.5 and 0.0 <= p["damping"] <= 0.5 for p in params)
    series, drawn = trajectories("lorenz", 3, 40, 0.01, rng, noise=0.0)
    assert series.shape == (3, 40, 3) and len(drawn) == 3
    again = simulate("lorenz", drawn[1], series[1, 0], np.arange(40) * 0.01)
    np.testing.assert_allclose(again, series[1], atol=1e-5)
    with pytest.raises(ValueError, match="no parameter"):
        sample_parameters("pendulum", 2, rng, ranges={"mass": (1, 2)})
    with pytest.raises(ValueError, match="unknown system 'nope'"):
        simulate("nope", {}, [0.0], [0.0, 1.0])
    with pytest.raises(ValueError, match="expected one per trajectory"):
        trajectories("pendulum", 2, 5, 0.1, rng, params=drawn)


def test_irregular_times_and_missing_mask():
    rng = np.random.default_rng(1)
    times = irregular_times(20, 30, 5.0, rng)
    assert times.shape == (20, 30) and np.all(times[:, 0] == 0) and np.all(np.diff(times, axis=1) >= 0)
    assert times.max() <= 5.0
    mask = missing_mask((200, 100), 0.7, rng)
    assert mask.dtype == bool and abs((~mask).mean() - 0.7) < 0.02
    with pytest.raises(ValueError, match="missing_rate must be a number in \\[0, 1\\), got 1.0"):
        missing_mask((3,), 1.0, rng)


def test_coupled_series_is_stationary_and_carries_its_graph():
    rng = np.random.default_rng(2)
    series, adjacency = coupled_series(6, 20_000, rng, density=0.4, strength=0.45, noise=0.3)
    assert series.shape == (20_000, 6) and np.all(np.diag(adjacency) == 0)
    assert np.abs(adjacency).sum(1).max() == pytest.approx(0.45)
    first, second = series[:10_000].std(0), series[10_000:].std(0)
    np.testing.assert_allclose(first, second, rtol=0.1)  # no drift, no blow-up
    # a planted edge j -> i shows as lagged cross-correlation far above that of absent edges
    lagged = np.corrcoef(series[1:].T, series[:-1].T)[:6, 6:]
    strong = np.abs(adjacency) > 0.1
    assert np.abs(lagged[strong]).mean() > 2 * np.abs(lagged[(adjacency == 0) & ~np.eye(6, dtype=bool)]).mean()
    with pytest.raises(ValueError, match="strength must be in \\[0, 0.5\\)"):
        coupled_series(3, 10, rng, strength=0.7)


def test_traffic_grid_has_daily_period_and_is_non_negative():
    grid = traffic_grid(6, 5, 48 * 14, np.random.default_rng(3), steps_per_day=48)
    assert grid.shape == (48 * 14, 2, 6, 5) and grid.min() >= 0
    total = grid.sum((1, 2, 3))
    centred = total - total.mean()
    day, half = (np.dot(centred[k:], centred[:-k]) / np.dot(centred, centred) for k in (48, 24))
    assert day > 0.5 > half


def test_state_space_follows_its_transition():
    states, observations = state_space(100, np.random.default_rng(4), process_noise=0.0, obs_noise=0.0)
    assert observations.shape == (100, 20)
    transition = dynamics._transition(2, None)
    np.testing.assert_allclose(states[1:], states[:-1] @ transition.T, atol=1e-12)
    # nonlinear: the observations are not a linear function of the state
    design = np.c_[states, np.ones(100)]
    residual = observations - design @ np.linalg.lstsq(design, observations, rcond=None)[0]
    assert residual.std() > 1e-3


def test_windows_and_chronological_split():
    series = np.arange(20.0)[:, None] * np.array([1.0, -1.0])
    x, y = sliding_windows(series, 4, 2)
    assert x.shape == (15, 4, 2) and y.shape == (15, 2, 2)
    np.testing.assert_array_equal(x[3, :, 0], [3, 4, 5, 6])
    np.testing.assert_array_equal(y[3, :, 0], [7, 8])
    parts = chronological_split(10)
    assert (parts["train"], parts["val"], parts["test"]) == (slice(0, 7), slice(7, 8), slice(8, 10))
    with pytest.raises(ValueError, match="too short"):
        sliding_windows(series[:5], 4, 2)


def test_coupled_task_targets_stay_inside_their_segment():
    task = zoo.get_task("dynamics/coupled", length=600, seed=1, horizon=3)
    assert task.info.input_shape == (24, 8) and task.info.output_dim == 24
    # 600 - 24 - 3 + 1 windows, less the 2 at each of the 2 cuts whose targets straddle it
    assert sum(len(s) for s in task.splits().values()) == 574 - 4
    task = zoo.get_task("dynamics/coupled", length=600, seed=1)
    splits = task.splits()
    assert 0 < task.info.extra["naive_mse"]
    train_x, train_y = splits["train"].tensors
    torch.testing.assert_close(train_x[1:, -1], train_y[:-1])  # consecutive windows: the target is the next input


def test_irregular_task_marks_what_is_missing():
    task = zoo.get_task("dynamics/irregular", n_train=40, n_val=8, n_test=12, missing_rate=0.5)
    x, y = task.splits()["train"].tensors
    assert x.shape == (40, 50, 3) and task.info.num_classes == 4
    assert torch.all(x[..., 1][x[..., 2] == 0] == 0) and torch.all(x[:, 0, 2] == 1)
    assert abs(float(1 - x[:, 1:, 2].mean()) - 0.5) < 0.06
    assert torch.bincount(y, minlength=4).min() >= 7


def test_ctr_data_shares_a_world_and_hits_its_click_rate():
    ids, clicks, logits = ctr_data(30_000, np.random.default_rng(5), target_ctr=0.2,
                                   world=np.random.default_rng(9))
    assert ids.shape == (30_000, 12) and np.all(ids < np.array(synthetic_tabular.DEFAULT_CARDINALITIES))
    assert abs(clicks.mean() - 0.2) < 0.01
    assert binary_auc(clicks, logits) > 0.7  # the true logit ranks clicks far better than chance
    small = dict(cardinalities=(3, 4, 5), pairs=2, target_ctr=0.2)
    ids, _, logits = ctr_data(2000, np.random.default_rng(5), world=np.random.default_rng(9), **small)
    other_ids, _, other_logits = ctr_data(2000, np.random.default_rng(6), world=np.random.default_rng(9), **small)
    # one world: rows with the same ids get the same logit up to the fitted bias
    rows = {tuple(r): v for r, v in zip(ids.tolist(), logits)}
    shared = [(rows[tuple(r)], v) for r, v in zip(other_ids.tolist(), other_logits) if tuple(r) in rows]
    assert shared
    gaps = np.array([a - b for a, b in shared])
    assert np.ptp(gaps) < 1e-9


def test_interaction_data_without_a_linear_term_is_even():
    x, y, logits = interaction_data(500, np.random.default_rng(7), pairs=3, triples=0, linear=0.0,
                                    world=np.random.default_rng(1))
    _, _, flipped = interaction_data(500, np.random.default_rng(7), pairs=3, triples=0, linear=0.0,
                                     world=np.random.default_rng(1))
    np.testing.assert_allclose(logits, flipped)
    # pairs only: logit(-x) = logit(x), so no single feature predicts the label linearly
    assert max(abs(np.corrcoef(x[:, i], logits)[0, 1]) for i in range(x.shape[1])) < 0.2


def test_protected_data_leaks_the_attribute_only_through_its_proxies():
    x, y, s = protected_data(4000, np.random.default_rng(8), features=6, leakage=1.0)
    assert s.mean() == 0.5
    merit_corr = [abs(np.corrcoef(x[:, i], s)[0, 1]) for i in range(3)]
    proxy_corr = [abs(np.corrcoef(x[:, i], s)[0, 1]) for i in range(3, 6)]
    assert max(merit_corr) < 0.05 < 0.3 < min(proxy_corr)
    assert y[s == 1].mean() > y[s == 0].mean() + 0.2  # the label itself is biased towards s = 1


def test_ctr_metrics_match_their_definitions():
    from sklearn.metrics import log_loss, roc_auc_score

    logits = torch.randn(300, 2, generator=torch.Generator().manual_seed(0))
    target = torch.randint(0, 2, (300,), generator=torch.Generator().manual_seed(1))
    metrics = ctr_metrics()
    for metric in metrics.values():
        metric.update(logits, target)
    probability = logits.softmax(-1)[:, 1].double().numpy()
    assert float(metrics["auc"].compute()) == pytest.approx(roc_auc_score(target, probability), abs=1e-6)
    assert binary_auc(target.numpy(), probability) == pytest.approx(roc_auc_score(target, probability))
    assert float(metrics["logloss"].compute()) == pytest.approx(log_loss(target, probability), rel=1e-6)


def test_generated_tabular_tasks_train_and_report_bayes_scores():
    task = zoo.get_task("tabular/interactions", n_train=3000, n_val=500, n_test=1000)
    assert 0.5 < task.info.extra["bayes_auc"] < 1.0
    model = torch.nn.Sequential(torch.nn.Linear(10, 64), torch.nn.ReLU(), torch.nn.Linear(64, 2))
    result = zoo.train(model, task, epochs=15, lr=3e-3, batch_size=128, progress=False, seed=0,
                       eval_splits=[], final_splits=["test"])
    assert 0.6 < result.final["test_auc"] <= task.info.extra["bayes_auc"] + 0.02
    assert result.final["test_logloss"] < 0.69
    ctr = zoo.get_task("ctr/planted", n_train=100, n_val=10, n_test=50)
    assert ctr.info.extra["field_cardinalities"][0] == 1000 and ctr.info.input_shape == (12,)


@pytest.mark.parametrize("call, message", [
    (lambda: ctr_data(0, np.random.default_rng()), "n must be an int in \\[1, 5000000\\], got 0"),
    (lambda: ctr_data(10, np.random.default_rng(), cardinalities=(5, 1, 3)), "cardinalities"),
    (lambda: interaction_data(10, np.random.default_rng(), pairs=0, triples=0), "not both 0"),
    (lambda: trajectories("pendulum", 10 ** 6, 10 ** 4, 0.1, np.random.default_rng()), "exceeds"),
    (lambda: traffic_grid(10 ** 4, 10, 10, np.random.default_rng()), "height must be an int"),
    (lambda: dynamics.irregular_task(missing_rate=-0.1), "missing_rate"),
])
def test_bad_sizes_are_refused_with_the_value(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_every_system_integrates_from_its_default_parameters():
    rng = np.random.default_rng(10)
    for name, system in SYSTEMS.items():
        out = simulate(name, system.defaults, rng.uniform(*system.initial_range, size=system.dim), np.linspace(0, 2, 21))
        assert out.shape == (21, system.dim) and np.all(np.isfinite(out)), name
