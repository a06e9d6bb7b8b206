"""ltc-biophysical-synapses: conformance, the synapse current by hand, the fused solver as an implicit
Euler step of the state-dependent linear system, its boundedness, its convergence to the ODE, the
parameter count, the short initial time constants the reproduction's controls start from, the
controls' slowed network, a tiny training that must improve, and bad input."""

import pytest
import torch
from torch import nn

import zoo
from zoo.testing import assert_conforms
from zoo_plugins.ltc_biophysical_synapses.baselines import RecurrentBaseline
from zoo_plugins.ltc_biophysical_synapses.model import inverse_softplus, synapse_conductance


def test_conforms_default_and_variants():
    assert_conforms("ltc-biophysical-synapses")
    assert_conforms("ltc-biophysical-synapses", variant="small")


def test_derivative_is_the_membrane_equation_by_hand():
    torch.manual_seed(0)
    model = zoo.create("ltc-biophysical-synapses", input_dim=1, output_dim=1, neurons=2)
    v, x = torch.tensor([[0.3, -0.4]]), torch.tensor([[0.7]])
    w, s, mu, e = model.w, model.sigma, model.mu, model.erev
    sw, ss, smu, se = model.sensory_w, model.sensory_sigma, model.sensory_mu, model.sensory_erev
    u = 0.7 * model.input_w[0] + model.input_b[0]
    expected = []
    for i in range(2):
        current = model.gleak[i] * (model.vleak[i] - v[0, i])  # leak
        for j in range(2):  # I_ji = w sigmoid(sigma (v_j - mu)) (E - v_i)
            current = current + w[j, i] * torch.sigmoid(s[j, i] * (v[0, j] - mu[j, i])) * (e[j, i] - v[0, i])
        current = current + sw[0, i] * torch.sigmoid(ss[0, i] * (u - smu[0, i])) * (se[0, i] - v[0, i])
        expected.append(current / model.cm[i])
    torch.testing.assert_close(model.derivative(v, x)[0], torch.stack(expected))


def test_fused_step_is_implicit_euler_of_the_linear_system():
    torch.manual_seed(1)
    model = zoo.create("ltc-biophysical-synapses", input_dim=3, neurons=5, ode_unfolds=1, elapsed_time=0.5)
    v, x = torch.randn(4, 5).tanh(), torch.randn(4, 3)
    a, b = model.state_dependent_coefficients(v, x)
    new = model.step(v, x)
    dt = 0.5
    torch.testing.assert_close(new, (v + dt * b) / (1 - dt * a))
    # the implicit equation: (v_new - v) / dt = A(v) v_new + b(v), coefficients frozen at the current state
    torch.testing.assert_close((new - v) / dt, a * new + b, atol=1e-5, rtol=1e-5)
    assert torch.all(a < 0)  # every neuron leaks: the linear system is stable


def test_potentials_stay_between_reversal_potentials_at_any_step_size():
    torch.manual_seed(2)
    model = zoo.create("ltc-biophysical-synapses", input_dim=2, neurons=6, ode_unfolds=1, elapsed_time=1000.0)
    x = 50 * torch.randn(3, 30, 2)  # huge inputs and a huge step: explicit Euler would blow up
    with torch.no_grad():
        states = model.states(x)
        low = min(model.vleak.min(), model.erev.min(), model.sensory_erev.min(), 0.0)
        high = max(model.vleak.max(), model.erev.max(), model.sensory_erev.max(), 0.0)
    assert torch.isfinite(states).all()
    assert states.min() >= low - 1e-5 and states.max() <= high + 1e-5


def test_fused_solver_converges_to_the_ode():
    from torchdiffeq import odeint

    torch.manual_seed(3)
    fine = zoo.create("ltc-biophysical-synapses", input_dim=2, neurons=4, ode_unfolds=1000, elapsed_time=1.0)
    v0, x = torch.randn(1, 4).tanh(), torch.randn(1, 2)
    with torch.no_grad():
        ours = fine.step(v0, x)
        reference = odeint(lambda t, v: fine.derivative(v, x), v0, torch.tensor([0.0, 1.0]), method="rk4",
                           options={"step_size": 1e-3})[-1]
        coarse = zoo.create("ltc-biophysical-synapses", input_dim=2, neurons=4, ode_unfolds=2)
        coarse.load_state_dict(fine.state_dict())
        rough = coarse.step(v0, x)
    assert (ours - reference).abs().max() < 2e-3
    assert (rough - reference).abs().max() > 5 * (ours - reference).abs().max()  # the unfolds matter


def test_four_parameters_per_synapse_and_count():
    model = zoo.create("ltc-biophysical-synapses", input_dim=3, output_dim=2, neurons=5)
    assert model.synapse_parameters() == 4 * (5 * 5 + 3 * 5)
    total = sum(p.numel() for p in model.parameters())
    assert total == model.synapse_parameters() + 3 * 5 + 2 * 3 + (5 * 2 + 2)  # + neurons, input map, readout
    torch.testing.assert_close(torch.nn.functional.softplus(inverse_softplus(torch.tensor([0.01, 0.5, 3.0]))),
                               torch.tensor([0.01, 0.5, 3.0]))
    g = synapse_conductance(torch.tensor([[10.0, -10.0]]), torch.ones(2, 1), torch.full((2, 1), 5.0), torch.zeros(2, 1))
    torch.testing.assert_close(g[0, :, 0], torch.tensor([1.0, 0.0]), atol=1e-6, rtol=0)  # open / closed synapse


def test_initial_time_constants_are_a_fraction_of_an_input_step():
    # the reproduction's diagnosis: at LTC's initial ranges a neuron's time constant
    # C / (g_leak + sum G) is well under one input step, so one step keeps little of a state difference
    torch.manual_seed(0)
    model = zoo.create("ltc-biophysical-synapses", input_dim=8, output_dim=8, neurons=16)
    x = torch.randn(256, 6, 8)
    with torch.no_grad():
        v = model.states(x[:, :5])[:, -1]
        a, _ = model.state_dependent_coefficients(v, x[:, 5])
        delta = 1e-2 * torch.randn_like(v)
        kept = (model.step(v + delta, x[:, 5]) - model.step(v, x[:, 5])).norm(dim=1) / delta.norm(dim=1)
    assert (-1 / a).median() < 0.3 * model.config.elapsed_time
    assert kept.mean() < 0.2


def test_repro_slowed_network_scales_only_the_capacitances():
    from zoo_plugins.ltc_biophysical_synapses.repro import linear_forecasts, ltc

    task = zoo.get_task("dynamics/coupled", seed=0, lookback=3, length=600)
    plain, slowed = ltc(task, 0), ltc(task, 0, slower=10.0)
    torch.testing.assert_close(slowed.cm, 10 * plain.cm)
    for (name, p), q in zip(plain.named_parameters(), slowed.parameters()):
        if name != "cm_raw":
            assert torch.equal(p, q), name
    x = torch.randn(64, 3, task.info.input_shape[-1]).clamp(-2, 2)
    with torch.no_grad():  # slower neurons keep more of the first steps: the states differ
        assert (slowed.states(x) - plain.states(x)).abs().max() > 1e-2
    forecasts = linear_forecasts(task)
    assert set(forecasts) == {"linear_last_step", "linear_window"}
    # on this data the window's history is worth more than the last step alone (what the LTC fails to use)
    assert 0 < forecasts["linear_window"] < 0.9 * forecasts["linear_last_step"]


def test_tiny_training_improves():
    torch.manual_seed(0)
    t = torch.linspace(0, 12, 100)
    series = torch.stack([torch.sin(t), torch.cos(1.3 * t)], -1)
    x = torch.stack([series[i:i + 5] for i in range(90)])
    y = torch.stack([series[i + 5] for i in range(90)])
    model = zoo.create("ltc-biophysical-synapses", input_dim=2, output_dim=2, neurons=6, ode_unfolds=2)
    before = nn.functional.mse_loss(model(x), y).item()
    zoo.train(model, (x, y), loss=nn.functional.mse_loss, optimizer="adam", lr=0.03, batch_size=30, epochs=8,
              eval_splits=[], final_splits=[], progress=False)
    after = nn.functional.mse_loss(model(x), y).item()
    assert after < 0.5 * before


def test_baselines_and_bad_input():
    assert RecurrentBaseline("lstm", 3, 7, 2)(torch.randn(4, 5, 3)).shape == (4, 2)
    with pytest.raises(ValueError, match="cell 'tcn'"):
        RecurrentBaseline("tcn", 3, 7, 2)
    model = zoo.create("ltc-biophysical-synapses", input_dim=3)
    with pytest.raises(ValueError, match=r"\(batch, T >= 1, 3\)"):
        model(torch.randn(4, 5, 2))
    with pytest.raises(TypeError, match="floating-point"):
        model(torch.ones(4, 5, 3, dtype=torch.long))
    for bad in ({"neurons": 0}, {"ode_unfolds": 0}, {"elapsed_time": 0.0}, {"neurons": 5000}, {"ode_unfolds": 10**6}):
        with pytest.raises(zoo.ConfigError):
            zoo.create("ltc-biophysical-synapses", **bad)
