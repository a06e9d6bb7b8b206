"""pv-rnn: conformance, the KL of two Gaussians, one MTRNN step by hand, the unit-Gaussian prior at
t = 1, the top-down order of the layers, the meta-prior weighting of the ELBO, error regression
(fits the window, leaves the weights alone), the PFSM generator's statistics, a tiny training that
improves, and bad input."""

import numpy as np
import pytest
import torch

import zoo
from zoo.testing import assert_conforms
from zoo_plugins.pv_rnn.model import gaussian_kl, weighted_elbo
from zoo_plugins.pv_rnn.task import TRANSITIONS, PFSMTask, pfsm_sequences, primitive


def test_conforms_default_and_variants():
    assert_conforms("pv-rnn", sequences=4, max_length=6)
    assert_conforms("pv-rnn", variant="deterministic", sequences=4, max_length=6)
    assert_conforms("pv-rnn", d_units=[5], z_units=[1], time_constants=[1.0], meta_prior=[0.1], sequences=3,
                    max_length=4, output="linear")


def test_kl_matches_torch_distributions():
    mu_q, mu_p = torch.randn(4, 3), torch.randn(4, 3)
    sigma_q, sigma_p = torch.rand(4, 3) + 0.1, torch.rand(4, 3) + 0.1
    expected = torch.distributions.kl_divergence(torch.distributions.Normal(mu_q, sigma_q),
                                                 torch.distributions.Normal(mu_p, sigma_p)).sum(-1)
    torch.testing.assert_close(gaussian_kl(mu_q, sigma_q, mu_p, sigma_p), expected)
    assert gaussian_kl(mu_p, sigma_p, mu_p, sigma_p).abs().max() < 1e-6


def test_one_mtrnn_step_by_hand():
    torch.manual_seed(0)
    model = zoo.create("pv-rnn", d_units=[4], z_units=[2], time_constants=[3.0], meta_prior=[0.5], sequences=2,
                       max_length=3, output="linear").eval()
    with torch.no_grad():
        model.a_mu.normal_()
        model.a_sigma.normal_()
    out = model.rollout(1, 2, model.a_mu[:1, :2], model.a_sigma[:1, :2], sample=False)
    layer = model.layers[0]
    w, b = layer.from_state.weight, layer.from_state.bias
    z1 = torch.tanh(model.a_mu[0, 0])  # posterior mean at t = 1 (eval: no sampling)
    h1 = (1 - 1 / 3) * 0 + (b[:4] + layer.from_inputs.weight @ z1) / 3  # d_0 = 0: the drive is the bias
    d1 = torch.tanh(h1)
    z2 = torch.tanh(model.a_mu[0, 1])
    h2 = (1 - 1 / 3) * h1 + (w[:4] @ d1 + b[:4] + layer.from_inputs.weight @ z2) / 3
    torch.testing.assert_close(out["output"][0, 1], model.readout(torch.tanh(h2)))
    # KL at t = 1 is against N(0, I); at t = 2 against the prior computed from d_1
    sigma1 = torch.exp(model.a_sigma[0, 0])
    torch.testing.assert_close(out["kl"][0, 0, 0], gaussian_kl(z1, sigma1, torch.zeros(2), torch.ones(2)))
    prior_mu, prior_sigma = torch.tanh(w[4:6] @ d1 + b[4:6]), torch.exp(w[6:8] @ d1 + b[6:8])
    torch.testing.assert_close(out["kl"][0, 1, 0], gaussian_kl(z2, torch.exp(model.a_sigma[0, 1]), prior_mu, prior_sigma))


def test_layers_run_top_down():
    torch.manual_seed(0)
    model = zoo.create("pv-rnn", sequences=1, max_length=2).eval()
    a_mu, a_sigma = torch.zeros(1, 1, 3), torch.zeros(1, 1, 3)
    base = model.rollout(1, 1, a_mu, a_sigma, sample=False)
    top_changed = a_mu.clone()
    top_changed[..., 2] = 1.0  # z of layer 2 (the top)
    assert not torch.allclose(model.rollout(1, 1, top_changed, a_sigma, sample=False)["output"], base["output"])
    bottom_changed = a_mu.clone()
    bottom_changed[..., 0] = 1.0  # z of layer 1 cannot reach layer 2's d within the step
    torch.testing.assert_close(model.rollout(1, 1, bottom_changed, a_sigma, sample=False)["state"][1][1],
                               base["state"][1][1])


def test_meta_prior_weights_the_kl():
    output = {"output": torch.zeros(2, 5, 2), "kl": torch.rand(2, 5, 2)}
    target = torch.ones(2, 5, 2)
    parts = weighted_elbo(output, target, torch.tensor([0.1, 2.0]), [2, 1])
    kl = output["kl"].mean((0, 1)) / torch.tensor([2.0, 1.0])
    torch.testing.assert_close(parts["kl"], kl)
    torch.testing.assert_close(parts["loss"], 1.0 + 0.1 * kl[0] + 2.0 * kl[1])
    mask = torch.tensor([[1.0] * 5, [0.0] * 5])
    torch.testing.assert_close(weighted_elbo(output, target, torch.tensor([1.0, 1.0]), [2, 1], mask)["kl"],
                               output["kl"][0].mean(0) / torch.tensor([2.0, 1.0]))


def test_pfsm_statistics():
    x, states = pfsm_sequences(400, 10, 6, np.random.default_rng(0), noise=0.0)
    after_a = states[:, 1:][states[:, :-1] == 0]
    assert abs((after_a == 1).mean() - 0.7) < 0.03 and np.all(after_a != 0)
    assert np.all(states[:, 1:][states[:, :-1] != 0] == 0)  # B and C always return to A
    np.testing.assert_allclose(x[0, :6], primitive(states[0, 0], 6))
    assert np.allclose(TRANSITIONS.sum(1), 1.0)
    task = PFSMTask(n_train=4, n_val=2, n_test=3, primitives=3, period=5, seed=0)
    index, seq = task.splits()["train"].tensors
    assert index.tolist() == [0, 1, 2, 3] and seq.shape == (4, 15, 2)
    with pytest.raises(ValueError, match="period must be"):
        PFSMTask(period=1)


def test_training_improves_and_error_regression_fits_the_window():
    task = PFSMTask(n_train=4, n_test=3, primitives=3, period=6, seed=0)
    torch.manual_seed(0)
    model = zoo.create("pv-rnn", task=task, d_units=[12], z_units=[2], time_constants=[2.0], meta_prior=[0.01])
    index, x = task.splits()["train"].tensors
    optimizer = torch.optim.Adam(model.parameters(), lr=0.02)
    model.eval()
    before = model.loss(model(index), x)["reconstruction"].item()
    model.train()
    for _ in range(120):
        optimizer.zero_grad()
        model.loss(model(index), x)["loss"].backward()
        optimizer.step()
    model.eval()
    assert model.loss(model(index), x)["reconstruction"].item() < 0.5 * before
    weights = {k: v.clone() for k, v in model.state_dict().items()}
    test = torch.as_tensor(task.data["test"], dtype=torch.float32)
    untouched = model.error_regression(test[:, :12], horizon=6, iterations=0)
    fitted = model.error_regression(test[:, :12], horizon=6, iterations=40, lr=0.1)
    assert fitted["loss"] < untouched["loss"] and fitted["prediction"].shape == (3, 6, 2)
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in weights.items())
    assert all(p.requires_grad for p in model.parameters())


def test_bad_input_and_config():
    model = zoo.create("pv-rnn", sequences=4, max_length=10)
    with pytest.raises(ValueError, match=r"\[0, 4\)"):
        model(torch.tensor([0, 4]))
    with pytest.raises(ValueError, match="integer tensor"):
        model(torch.zeros(2))
    with pytest.raises(ValueError, match="steps must lie"):
        model(torch.tensor([0]), steps=11)
    with pytest.raises(ValueError, match="do not match"):
        model.loss(model(torch.tensor([0])), torch.zeros(1, 9, 2))
    for bad in ({"d_units": [3]}, {"time_constants": [0.5, 2.0]}, {"meta_prior": [-1.0, 0.1]},
                {"z_units": [0, 1]}, {"sequences": 0}):
        with pytest.raises(zoo.ConfigError):
            zoo.create("pv-rnn", **bad)
