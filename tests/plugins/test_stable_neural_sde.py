"""stable-neural-sde: conformance, the controlled path (missing values interpolated by hand), the
solver's time axis [0, horizon], the reproduction's reference arm (observations onto a grid), the
drift and diffusion form of each SDE class, the Langevin SDE's Ito variance (on [0, 1] and on a
stretched axis), the geometric SDE's equilibrium at 0, a tiny training that must improve, and bad
input."""

import pytest
import torch

import zoo
from zoo.testing import assert_conforms
from zoo_plugins.stable_neural_sde.model import fill_missing, interpolate_path, path_on_grid
from zoo_plugins.stable_neural_sde.repro import on_grid


def test_conforms_default_and_variants():
    assert_conforms("stable-neural-sde")
    for variant in ("linear-noise", "geometric", "naive"):
        assert_conforms("stable-neural-sde", variant=variant)


def test_missing_values_are_interpolated_in_time():
    times = torch.tensor([[0.0, 0.2, 0.5, 0.6, 1.0]])
    values = torch.tensor([[9.0, 1.0, 9.0, 9.0, 4.0]]).unsqueeze(-1)
    observed = torch.tensor([[False, True, False, False, True]]).unsqueeze(-1)
    filled = fill_missing(times, values, observed)[0, :, 0]
    # before the first observation: held at 1; between 0.2 (1.0) and 1.0 (4.0): linear in time
    torch.testing.assert_close(filled, torch.tensor([1.0, 1.0, 1.0 + 3 * 0.3 / 0.8, 1.0 + 3 * 0.4 / 0.8, 4.0]))
    observed_last_missing = torch.tensor([[True, True, False, False, False]]).unsqueeze(-1)
    tail = fill_missing(times, values, observed_last_missing)[0, :, 0]
    torch.testing.assert_close(tail, torch.tensor([9.0, 1.0, 1.0, 1.0, 1.0]))  # after the last: held


def test_path_lookup_matches_interpolation():
    torch.manual_seed(0)
    times = torch.sort(torch.rand(3, 7), 1).values
    times[:, 0] = 0.0
    filled = torch.randn(3, 7, 2)
    grid = torch.linspace(0, 1, 11)
    on_grid = path_on_grid(grid, times, filled)
    for k, t in enumerate(grid):
        torch.testing.assert_close(on_grid[k], interpolate_path(t, times, filled))
    torch.testing.assert_close(interpolate_path(times[0, 3], times[:1], filled[:1])[0], filled[0, 3])


def test_reference_arm_interpolates_observed_values_onto_the_grid():
    # observed at t = 0 (value 0) and t = 1 (value 4); the missing middle value (9) must be ignored
    series = torch.tensor([[[0.0, 0.0, 1.0], [0.5, 9.0, 0.0], [1.0, 4.0, 1.0]]]).numpy()
    assert on_grid(series, points=5).tolist() == [[0.0, 1.0, 2.0, 3.0, 4.0]]


def test_horizon_stretches_the_observation_times():
    model = zoo.create("stable-neural-sde", horizon=10.0, dt=0.5)
    (x,) = zoo.model_spec("stable-neural-sde").example_inputs(model.config, 2)
    seen = {}
    path_at = model.sde.path_at
    model.sde.path_at = lambda t: seen.setdefault("times", []).append(float(t)) or path_at(t)
    model(x)
    assert min(seen["times"]) == 0.0 and 9.0 < max(seen["times"]) <= 10.0  # the solver runs on [0, 10]
    assert len(set(seen["times"])) == 20  # 10 / 0.5 Euler-Maruyama steps


def _sde(kind, **options):
    torch.manual_seed(0)
    model = zoo.create("stable-neural-sde", sde_type=kind, use_path=False, **options)
    return model.sde


def test_each_class_has_its_drift_and_diffusion_form():
    t, z = torch.tensor(0.3), torch.randn(5, 16)
    langevin = _sde("langevin")
    torch.testing.assert_close(langevin.g(t, z), langevin.g(t, 3 * z))  # additive: sigma(t) only
    torch.testing.assert_close(langevin.f(t, z), langevin.gamma(langevin.zeta(z)))  # autonomous drift
    linear = _sde("linear-noise")
    torch.testing.assert_close(linear.g(t, 2 * z), 2 * linear.g(t, z))  # sigma(t) z
    torch.testing.assert_close(linear.f(t, z), linear.drift_network(t, z))
    geometric = _sde("geometric")
    torch.testing.assert_close(geometric.f(t, z), geometric.drift_network(t, z) * z)  # gamma z
    torch.testing.assert_close(geometric.g(t, 2 * z), 2 * geometric.g(t, z))
    assert geometric.drift_network(t, 100 * z).abs().max() <= 1.0  # bounded (tanh) drift coefficient
    naive = _sde("naive")
    assert not torch.allclose(naive.g(t, 2 * z), 2 * naive.g(t, z))  # unconstrained g(t, z)


@pytest.mark.parametrize("horizon, dt", [(1.0, 0.05), (10.0, 0.5)])
def test_langevin_noise_has_the_ito_variance(horizon, dt):
    import torchsde

    sde = _sde("langevin", hidden_dim=2, horizon=horizon, dt=dt)
    with torch.no_grad():
        for p in sde.gamma.parameters():
            p.zero_()  # drift 0: z(T) - z(0) = int sigma(t / T) dW over [0, T]
        z0 = torch.zeros(20000, 2)
        z1 = torchsde.sdeint(sde, z0, torch.tensor([0.0, horizon]), method="euler", dt=dt)[-1]
        grid = torch.arange(20).float().unsqueeze(-1) * dt
        expected = (sde.sigma(grid / horizon) ** 2).sum(0) * dt  # Euler-Maruyama: sum_k sigma(t_k / T)^2 dt
    torch.testing.assert_close(z1.var(0), expected, rtol=0.05, atol=1e-4)
    assert z1.mean(0).abs().max() < 4 * expected.sqrt().max() / 20000 ** 0.5


def test_geometric_sde_keeps_zero_an_equilibrium():
    import torchsde

    sde = _sde("geometric")
    z = torchsde.sdeint(sde, torch.zeros(4, 16), torch.tensor([0.0, 1.0]), method="euler", dt=0.05)[-1]
    assert torch.equal(z, torch.zeros(4, 16))
    other = _sde("linear-noise")
    z = torchsde.sdeint(other, torch.zeros(4, 16), torch.tensor([0.0, 1.0]), method="euler", dt=0.05)[-1]
    assert z.abs().max() > 0  # its drift gamma(t, z_bar) moves it off 0


def test_tiny_training_improves():
    task = zoo.get_task("dynamics/irregular", n_train=64, n_val=8, n_test=8, length=10, missing_rate=0.3, seed=0)
    x, y = task.splits()["train"].tensors
    torch.manual_seed(0)
    model = zoo.create("stable-neural-sde", task=task, dt=0.1)
    with torch.no_grad():
        before = torch.nn.functional.cross_entropy(model(x), y).item()
    zoo.train(model, task, optimizer="adam", lr=0.03, batch_size=32, epochs=6, eval_splits=[], final_splits=[],
              progress=False)
    with torch.no_grad():
        after = torch.nn.functional.cross_entropy(model(x), y).item()
    assert after < before - 0.05


def test_a_seed_fixes_the_sample_path():
    model = zoo.create("stable-neural-sde")
    (x,) = zoo.model_spec("stable-neural-sde").example_inputs(model.config, 3)
    torch.manual_seed(5)
    a = model(x)
    torch.manual_seed(5)
    torch.testing.assert_close(model(x), a)
    assert not torch.allclose(model(x), a)  # a fresh path: the model is stochastic


def test_bad_input_and_config():
    model = zoo.create("stable-neural-sde")
    with pytest.raises(ValueError, match=r"\(batch, L >= 2, 3\)"):
        model(torch.randn(4, 6, 5))
    with pytest.raises(TypeError, match="floating-point"):
        model(torch.ones(4, 6, 3, dtype=torch.long))
    for bad in ({"input_channels": 4}, {"dt": 0.0}, {"sde_type": "ito"}, {"hidden_dim": 0}, {"num_classes": 1},
                {"horizon": 0.0}, {"horizon": 1.0, "dt": 2.0}):
        with pytest.raises(zoo.ConfigError):
            zoo.create("stable-neural-sde", **bad)
