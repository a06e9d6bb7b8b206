"""Tests of the `optimal-brain-compression` method: ExactOBS's updates against the least-squares optimum of
the layer-wise problem, the H^-1 downdate against a fresh inverse, the global mask's sparsity, OBQ on its
grid with less layer error than nearest, a model compressed in place and saved/loaded, refusals."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

import zoo
from zoo.errors import ConfigError
from zoo.training.calibration import compressible_layers, fit_grid, grid_of, weight_matrix
from zoo.training.method import MethodMismatchError
from zoo_plugins.optimal_brain_compression.method import (_remove, exact_obs_prune, global_counts, inverse_hessian,
                                                          layer_error, layer_hessian, magnitude_prune, prune_rows,
                                                          prune_trace, quantize_rows)


def problem(rows=6, cols=20, seed=0):
    torch.manual_seed(seed)
    x = torch.randn(400, 8) @ torch.randn(8, cols) + 0.1 * torch.randn(400, cols)  # correlated inputs
    return torch.randn(rows, cols), layer_hessian(x)


def plain_net():
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))


def test_the_downdate_gives_the_inverse_of_h_without_the_removed_index():  # Lemma 1, Eq. 4
    w, h = problem(rows=1)
    h_inv = inverse_hessian(h).float().unsqueeze(0).clone()
    _remove(w.clone(), h_inv, torch.tensor([5]), torch.zeros(1))
    keep = [i for i in range(20) if i != 5]
    fresh = torch.linalg.inv(h[keep][:, keep])
    assert torch.allclose(h_inv[0][keep][:, keep].double(), fresh, rtol=1e-3, atol=1e-6)
    assert h_inv[0, 5].abs().max() < 1e-6 and h_inv[0, :, 5].abs().max() < 1e-6


def test_pruned_rows_hold_the_least_squares_optimum_of_their_survivors():  # Eq. 3, applied step by step
    w, h = problem()
    losses, trace = prune_trace(w, inverse_hessian(h))
    counts = torch.tensor([0, 3, 7, 12, 19, 20])
    pruned = prune_rows(trace, counts)
    assert torch.equal(pruned[0], w[0])
    for r in range(1, 6):
        keep = pruned[r] != 0
        assert int((~keep).sum()) == counts[r]
        if keep.any():  # the survivors minimise ||(w - w^) X||^2 given the removed ones at zero
            best = torch.linalg.solve(h[keep][:, keep], h[keep] @ w[r].double())
            assert torch.allclose(pruned[r][keep].double(), best, rtol=1e-3, atol=1e-3)
    # the greedy step's loss is w_q^2 / (2 [H^-1]_qq): the first removal costs what it says
    first = prune_rows(trace, torch.ones(6, dtype=torch.long))
    assert torch.allclose(torch.tensor([layer_error(first[r:r + 1], w[r:r + 1], h) for r in range(6)], dtype=torch.float64),
                          losses[:, 0].double(), rtol=1e-3)


def test_global_mask_reaches_the_sparsity_and_beats_magnitude_on_the_layer_error():
    w, h = problem(rows=12, cols=30)
    for sparsity, pruned in zip((0.25, 0.5, 0.8), exact_obs_prune(w, h, (0.25, 0.5, 0.8))):
        assert int((pruned == 0).sum()) == round(sparsity * w.numel())
        assert layer_error(pruned, w, h) < layer_error(magnitude_prune(w, sparsity), w, h)
    losses, _ = prune_trace(w, inverse_hessian(h))
    counts = global_counts(losses, 0.5)
    assert counts.sum() == 180 and counts.min() >= 0 and counts.max() <= 30


def test_obq_lands_on_the_grid_with_less_layer_error_than_nearest():
    w, h = problem(rows=10, cols=24)
    for bits in (4, 3):
        grid = fit_grid(w, bits)
        quantized = quantize_rows(w, inverse_hessian(h), grid)
        assert torch.equal(grid.round(quantized), quantized)
        assert layer_error(quantized, w, h) < 0.7 * layer_error(grid.round(w), w, h)


def test_run_prunes_a_plain_net_in_place_and_keeps_the_sparsity_through_save_and_load(tmp_path):
    net = plain_net()
    result = zoo.method("optimal-brain-compression", sparsity=0.7, samples=128).run(net, "digits")
    for name, layer in compressible_layers(net).items():
        assert abs(float((layer.weight == 0).float().mean()) - 0.7) < 0.01
        assert result.layers[name]["obc"] < result.layers[name]["baseline"]
    mixer = zoo.create("mlp-mixer", variant="digits", task="digits", hidden_dim=16, num_blocks=1)
    zoo.method("optimal-brain-compression", sparsity=0.5, samples=64).run(mixer, "digits")
    zoo.save(mixer, tmp_path / "pruned")
    loaded = zoo.load(tmp_path / "pruned")
    for (name, a), b in zip(compressible_layers(mixer).items(), compressible_layers(loaded).values()):
        # at least half of each layer is zero (the mixer's head starts all zero)
        assert torch.equal(a.weight, b.weight) and float((b.weight == 0).float().mean()) >= 0.49, name


def test_a_quantized_zoo_model_survives_save_and_load(tmp_path):
    torch.manual_seed(0)
    model = zoo.create("mlp-mixer", variant="digits", task="digits", hidden_dim=16, num_blocks=1)
    zoo.method("optimal-brain-compression", bits=3, samples=64).run(model, "digits")
    zoo.save(model, tmp_path / "q")
    config = json.loads((tmp_path / "q" / "config.json").read_text())
    assert config["methods"] == [{"name": "optimal-brain-compression", "config": model.zoo_methods[0]["config"]}]
    loaded = zoo.load(tmp_path / "q")
    x = torch.rand(4, 1, 8, 8)
    model.eval(), loaded.eval()
    assert torch.equal(loaded(x), model(x))
    for name, layer in compressible_layers(loaded).items():
        grid = grid_of(layer)
        assert grid.maxq == 7 and torch.equal(grid.round(weight_matrix(layer)), weight_matrix(layer)), name


def test_refusals():
    with pytest.raises(ConfigError, match="sparsity"):
        zoo.method("optimal-brain-compression", sparsty=0.5)
    with pytest.raises(ConfigError, match="not both"):
        zoo.method("optimal-brain-compression", sparsity=0.5, bits=4)
    with pytest.raises(ConfigError, match="nothing to do"):
        zoo.method("optimal-brain-compression").run(plain_net(), "digits")
    with pytest.raises(ConfigError, match=r"runs on its own, not inside a training run"):
        zoo.train(plain_net(), "digits", methods=[("optimal-brain-compression", {"sparsity": 0.5})], epochs=1,
                  progress=False, device="cpu")
    with pytest.raises(MethodMismatchError, match="optimal-brain-compression.*Sequential.*Linear"):
        zoo.method("optimal-brain-compression", sparsity=0.5).run(nn.Sequential(nn.Flatten(), nn.LayerNorm(64)),
                                                                  "digits")
