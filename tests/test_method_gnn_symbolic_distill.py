"""Tests of gnn-symbolic-distill: the n-body data, the graph network, the L1 message penalty and the analysis."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import zoo
from zoo.errors import ConfigError
from zoo.training.method import MethodMismatchError
from zoo_plugins.gnn_symbolic_distill.data import accelerations, nbody_arrays, pair_forces, radial_force, simulate
from zoo_plugins.gnn_symbolic_distill.method import (
    GNNSymbolicDistill, distill, edge_data, force_estimate, linear_fit, message_l1, r_squared, symbolic_law,
    top_components)

SMALL = {"n_sims": 30, "steps": 30, "every": 3}
FAST = {"batch_size": 16, "progress": False, "device": "cpu", "eval_splits": [], "final_splits": []}


def small_gn(seed: int = 0):
    torch.manual_seed(seed)
    return zoo.create("nbody-gn", task="nbody/spring", hidden=16, layers=1, message_dim=8)


@pytest.fixture(scope="module")
def spring():
    return zoo.get_task("nbody/spring", **SMALL)


# --- the simulated systems ------------------------------------------------------------------------------


def test_forces_follow_the_laws_and_newtons_third_law():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(50, 6)), rng.normal(size=(50, 6))
    a[:, 5], b[:, 5] = np.exp(a[:, 5]), np.exp(b[:, 5])
    for system in ("spring", "r1", "r2", "charge"):
        f_ab, f_ba = pair_forces(system, a, b), pair_forces(system, b, a)
        assert np.allclose(f_ab, -f_ba)  # equal and opposite
        delta = a[:, :2] - b[:, :2]
        r = np.linalg.norm(delta, axis=1)
        along = (f_ab * delta).sum(1) / r
        assert np.allclose(along, radial_force(system, r, a[:, 4], b[:, 4], a[:, 5], b[:, 5]))
        assert np.allclose(f_ab[:, 0] * delta[:, 1] - f_ab[:, 1] * delta[:, 0], 0, atol=1e-9)  # central
    # the spring is at rest at length 1, pulls beyond it and pushes inside it
    assert radial_force("spring", np.array([1.0]), 0, 0, 1, 1)[0] == 0
    assert radial_force("spring", np.array([2.0]), 0, 0, 1, 1)[0] < 0 < radial_force("spring", np.array([0.5]), 0, 0, 1, 1)[0]


def test_simulation_is_deterministic_and_conserves_momentum():
    first, again = simulate("spring", 4, 3, 40, 0.01, seed=5), simulate("spring", 4, 3, 40, 0.01, seed=5)
    assert np.array_equal(first, again)
    momentum = (first[..., 2:4] * first[..., 5:6]).sum(-2)  # sum_i m_i v_i, constant under internal forces
    assert np.allclose(momentum, momentum[:, :1], atol=1e-9)
    acc = accelerations("spring", first[:, 0])
    assert np.allclose((acc * first[:, 0, :, 5:6]).sum(-2), 0, atol=1e-9)


def test_task_splits_hold_whole_simulations():
    arrays = nbody_arrays("spring", **SMALL)
    assert arrays["train"][0].shape[1:] == (4, 6) and arrays["train"][1].shape[1:] == (8,)
    train_states = {tuple(s.ravel()) for s in arrays["train"][0][:, :, :2]}
    assert not any(tuple(s.ravel()) in train_states for s in arrays["test"][0][:, :, :2])


# --- the model and the penalty --------------------------------------------------------------------------


def test_graph_network_sums_one_message_per_ordered_pair():
    model = small_gn()
    x = torch.randn(3, 4, 6)
    messages, receiver, sender = model.messages(x)
    assert messages.shape == (3, 12, 8) and not bool((receiver == sender).any())
    # swapping two bodies swaps their predictions: the network is permutation-equivariant
    swapped = x[:, [1, 0, 2, 3]]
    out, out_swapped = model(x).view(3, 4, 2), model(swapped).view(3, 4, 2)
    assert torch.allclose(out[:, [1, 0, 2, 3]], out_swapped, atol=1e-5)


def test_penalty_is_l1_weight_times_the_mean_message_l1(spring):
    model = small_gn()
    method = zoo.method("gnn-symbolic-distill", l1_weight=0.5)
    seen = {}

    class Probe(zoo.Method):  # reads the terms after gnn-symbolic-distill added its own
        name = "probe"

        def loss(self, terms, output, batch, run):
            seen.update({k: float(v) for k, v in terms.items()})
            seen["expected"] = 0.5 * float(message_l1(run.model.messages(batch[0])[0]))
            return terms

    zoo.train(model, spring, methods=[method, Probe()], max_steps=1, epochs=1, **FAST)
    assert seen["messages_l1"] == pytest.approx(seen["expected"], rel=1e-5)
    assert message_l1(torch.zeros(2, 5, 3)) == 0
    assert float(message_l1(torch.tensor([[1.0, -2.0], [0.0, 3.0]]))) == pytest.approx(3.0)


def test_l1_training_shrinks_the_messages_against_standard_training(spring):
    sizes = {}
    for weight in (0.0, 1.0):
        model = small_gn(1)
        zoo.train(model, spring, methods=[zoo.method("gnn-symbolic-distill", l1_weight=weight)], epochs=5,
                  lr=3e-3, **FAST)
        sizes[weight] = float(message_l1(model.messages(spring.splits()["test"].tensors[0])[0].detach()))
    assert sizes[1.0] < 0.5 * sizes[0.0]


def test_hook_is_removed_after_training_and_a_plain_module_works(spring):
    class Pairwise(nn.Module):  # a plain module with a message layer of its own
        def __init__(self):
            super().__init__()
            self.msg = nn.Linear(12, 4)
            self.out = nn.Linear(4, 2)

        def forward(self, x):
            pairs = torch.cat([x[:, :, None].expand(-1, -1, 4, -1), x[:, None].expand(-1, 4, -1, -1)], -1)
            return self.out(self.msg(pairs).sum(2)).flatten(1)

    model = Pairwise()
    zoo.train(model, spring, methods=[zoo.method("gnn-symbolic-distill", message_module="msg")], epochs=1, **FAST)
    assert not model.msg._forward_hooks
    gn = small_gn()
    zoo.train(gn, spring, methods=["gnn-symbolic-distill"], epochs=1, **FAST)
    assert not gn.edge_model._forward_hooks


def test_resume_is_bitwise_identical(spring, tmp_path):
    whole = small_gn(2)
    zoo.train(whole, spring, methods=["gnn-symbolic-distill"], epochs=2, out_dir=tmp_path / "a", **FAST)
    cut = small_gn(2)
    zoo.train(cut, spring, methods=["gnn-symbolic-distill"], epochs=1, out_dir=tmp_path / "b", **FAST)
    zoo.train(cut, spring, methods=["gnn-symbolic-distill"], epochs=2, out_dir=tmp_path / "b", resume=True, **FAST)
    for (name, a), (_, b) in zip(whole.state_dict().items(), cut.state_dict().items()):
        assert torch.equal(a, b), name


# --- the analysis ---------------------------------------------------------------------------------------


def test_linear_fit_finds_messages_that_are_linear_in_the_force():
    rng = np.random.default_rng(0)
    forces = rng.normal(size=(400, 2))
    mixed = forces @ np.array([[2.0, -1.0], [0.5, 3.0]]).T + np.array([0.3, -0.2])
    fit = linear_fit(mixed, forces)
    assert min(fit["r2"]) > 0.999999
    assert np.allclose(force_estimate(mixed, fit), forces)
    noise = linear_fit(rng.normal(size=(400, 2)), forces)
    assert max(noise["r2"]) < 0.05
    messages = np.concatenate([mixed, 1e-3 * rng.normal(size=(400, 6))], 1)
    top, _ = top_components(messages, 2)
    assert set(top.tolist()) == {0, 1}


def test_distill_reads_the_exact_force_law_from_perfect_messages():
    """Messages that are exactly a mix of the true forces (the ideal sparse GN): the top components
    fit the forces with R^2 = 1 and the force they encode along r_hat is the true law."""
    states = torch.tensor(nbody_arrays("spring", **SMALL)["test"][0])

    class Ideal(nn.Module):
        def __init__(self):
            super().__init__()
            self.edge_model = nn.Identity()

        def forward(self, x):
            n = x.shape[1]
            receiver, sender = torch.meshgrid(torch.arange(n), torch.arange(n), indexing="ij")
            keep = receiver != sender
            f = torch.tensor(pair_forces("spring", x[:, receiver[keep]].double().numpy(),
                                         x[:, sender[keep]].double().numpy()))
            noise = torch.zeros(*f.shape[:-1], 3, dtype=f.dtype)
            return self.edge_model(torch.cat([f @ torch.tensor([[1.0, 2.0], [-1.0, 0.5]], dtype=f.dtype), noise], -1))

    edges = edge_data(Ideal(), states, "spring")
    result = distill(edges, "spring", generations=2, population=50, fit_edges=100)
    assert min(result["r2"]) > 0.9999
    assert result["encoded_r2"] > 0.9999


def test_symbolic_regression_finds_the_spring_law_in_one_variable():
    rng = np.random.default_rng(0)
    r = rng.uniform(0.2, 3.0, size=(300, 1))
    regressor, law = symbolic_law(r, -2 * (r[:, 0] - 1), ["r"], generations=10, population=500)
    assert r_squared(regressor.predict(r), -2 * (r[:, 0] - 1)) > 0.99, law
    assert "r" in law


# --- refusals -------------------------------------------------------------------------------------------


def test_refusals(spring):
    with pytest.raises(ConfigError, match="l1_weight"):
        zoo.method("gnn-symbolic-distill", l1_wieght=0.1)
    plain = nn.Sequential(nn.Flatten(), nn.Linear(24, 8))
    with pytest.raises(MethodMismatchError, match=r"gnn-symbolic-distill.*'edge_model'"):
        zoo.train(plain, spring, methods=["gnn-symbolic-distill"], epochs=1, **FAST)
    with pytest.raises(MethodMismatchError, match="n-body task"):
        GNNSymbolicDistill().run(small_gn(), "digits", epochs=1, **FAST)
