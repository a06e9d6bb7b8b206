"""KAN core: the fast layer against the Cox-de Boor oracle, grids, the paper's toolkit, bad input."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

import zoo
from zoo.testing import assert_conforms
from zoo_plugins.kan.config import KANConfig
from zoo_plugins.kan.model import KAN, KANLayer, b_spline_basis


def oracle_forward(layer: KANLayer, x: torch.Tensor) -> torch.Tensor:
    """The paper's Eq. 2.10 summed per node, evaluated with the Cox-de Boor recursion."""
    spline = torch.einsum("bim,iom->bo", b_spline_basis(x, layer.grid, layer.k),
                          layer.coef * (layer.scale_sp * layer.mask).unsqueeze(-1))
    return spline + F.silu(x) @ (layer.scale_base * layer.mask)


def make_layer(k: int, grid: int, non_uniform: bool, dtype=torch.float32) -> KANLayer:
    torch.manual_seed(k * 100 + grid)
    layer = KANLayer(5, 3, grid, k)
    layer.coef.data.normal_()
    if non_uniform:
        layer.update_grid(torch.randn(400, 5) * 0.5)
    return layer.to(dtype)


@pytest.mark.parametrize("k", [0, 1, 2, 3, 5])
@pytest.mark.parametrize("non_uniform", [False, True])
def test_forward_equals_cox_de_boor_float32(k, non_uniform):
    layer = make_layer(k, 6, non_uniform)
    assert layer.tables(torch.float32).uniform is not non_uniform
    x = torch.randn(300, 5) * 1.5  # inside, at the edges of and outside the extended grid
    x[:3, 0] = layer.grid[0, :3]  # exactly on knots
    scale = oracle_forward(layer, x).detach().abs().max()
    assert torch.allclose(layer(x), oracle_forward(layer, x), atol=2e-6 * max(1.0, float(scale)))


@pytest.mark.parametrize("k", [1, 3])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("non_uniform", [False, True])
def test_gradients_equal_autograd_through_the_oracle(k, dtype, non_uniform):
    layer = make_layer(k, 5, non_uniform, dtype)
    x = (torch.randn(200, 5, dtype=dtype) * 1.2).requires_grad_()
    layer(x).square().sum().backward()
    ours = [x.grad.clone()] + [p.grad.clone() for p in layer.parameters()]
    layer.zero_grad()
    x_ref = x.detach().double().requires_grad_()
    reference = layer.double()
    oracle_forward(reference, x_ref).square().sum().backward()
    theirs = [x_ref.grad] + [p.grad for p in reference.parameters()]
    tol = 1e-10 if dtype == torch.float64 else 1e-4
    for a, b in zip(ours, theirs):
        assert torch.allclose(a.double(), b, atol=tol * float(b.abs().max()), rtol=0)


@pytest.mark.parametrize("n_out", [3, 40])  # both GEMM orientations (narrow outputs run transposed)
@pytest.mark.parametrize("non_uniform", [False, True])
def test_batch_chunks_and_wide_outputs_match_the_oracle(n_out, non_uniform, monkeypatch):
    """On CPU the batch runs in cache-sized chunks: with tiny chunks (uneven last one), forward and
    every gradient still equal the oracle's."""
    from zoo_plugins.kan import spline

    monkeypatch.setattr(spline, "_CHUNK_ELEMENTS", max(1, 7 * 5 * 8 // torch.get_num_threads()))  # per thread
    torch.manual_seed(n_out)
    layer = KANLayer(5, n_out, 4, 3).double()
    layer.coef.data.normal_()
    if non_uniform:
        layer.update_grid(torch.randn(400, 5, dtype=torch.float64) * 0.5)
    x = (torch.randn(45, 5, dtype=torch.float64) * 1.5).requires_grad_()
    assert len(spline._chunks(x, layer.tables(x.dtype))) > 3
    out = layer(x)
    out.square().sum().backward()
    ours = [out.detach(), x.grad.clone()] + [p.grad.clone() for p in layer.parameters()]
    layer.zero_grad()
    x_ref = x.detach().clone().requires_grad_()
    reference = oracle_forward(layer, x_ref)
    reference.square().sum().backward()
    theirs = [reference.detach(), x_ref.grad] + [p.grad for p in layer.parameters()]
    for a, b in zip(ours, theirs):
        assert torch.allclose(a, b, atol=1e-10 * float(b.abs().max()), rtol=0)


def test_huge_and_nan_inputs_stay_in_their_own_rows():
    """Inputs far outside the grid (or NaN) must not write into other inputs' features."""
    layer = make_layer(3, 5, False)
    x = torch.rand(8, 5) * 2 - 1
    clean = layer(x)
    x_bad = x.clone()
    x_bad[:, 0] = torch.tensor([1e30, -1e30, math.inf, -math.inf, math.nan, 1e9, -1e9, 0.5])
    changed = layer(x_bad) - clean
    contribution = oracle_forward(layer, x_bad) - oracle_forward(layer, x)  # only input 0's edges differ
    finite = torch.isfinite(contribution).all(1)
    assert finite[[0, 1, 5, 6, 7]].all()
    assert torch.allclose(changed[finite], contribution[finite], atol=1e-4)


@pytest.mark.parametrize("non_uniform", [False, True])
def test_bases_sum_to_one_inside_the_grid(non_uniform):
    """Partition of unity through the fast path: with every coefficient 1 and no base, each output
    is the number of inputs wherever the inputs lie inside [t_k, t_G+k)."""
    layer = make_layer(3, 7, non_uniform)
    with torch.no_grad():
        layer.coef.fill_(1.0)
        layer.scale_base.zero_()
    low, high = layer.grid[:, 3], layer.grid[:, -4]
    x = low + (high - low) * torch.rand(1000, 5) * 0.999
    assert torch.allclose(layer(x), torch.full((1000, 3), 5.0), atol=1e-5)


def test_backward_saves_only_the_input_and_the_parameters():
    model = KAN(KANConfig(width=[16, 32, 4])).train()
    x = torch.randn(512, 16, requires_grad=True)
    saved = []
    with torch.autograd.graph.saved_tensors_hooks(lambda t: saved.append(t.numel()) or t, lambda t: t):
        model(x)
    activations = sum(n for n in saved if n in (512 * 16, 512 * 32))
    assert activations <= 512 * (16 + 32), f"saved {saved}: more than the layer inputs"
    assert max(saved) < 512 * 16 * 9, "a basis-sized tensor was saved for backward"


def test_tables_follow_the_grid_through_load_state_dict():
    a, b = KAN(KANConfig(width=[2, 3, 1])), KAN(KANConfig(width=[2, 3, 1]))
    a.update_grid(torch.randn(300, 2) * 0.3)
    x = torch.rand(64, 2) * 2 - 1
    b(x)  # builds b's (uniform) tables
    b.load_state_dict(a.state_dict())
    assert torch.allclose(a(x), b(x), atol=1e-6)
    assert set(a.state_dict()) == {f"layers.{i}.{n}" for i in range(2) for n in ("grid", "mask", "coef",
                                                                                 "scale_base", "scale_sp")}


def test_update_grid_keeps_the_function_and_covers_out_of_range_samples():
    torch.manual_seed(0)
    layer = KANLayer(3, 2, 8, 3)
    inside = torch.rand(500, 3) * 2 - 1
    before = layer.spline(inside)
    samples = torch.cat([inside, torch.tensor([[4.0, -5.0, 3.0]])])  # far outside the grid
    layer.update_grid(samples)
    assert layer.grid[:, 3].le(samples.min(0).values).all() and layer.grid[:, -4].ge(samples.max(0).values).all()
    assert torch.isfinite(layer(samples)).all()
    assert (layer.spline(inside) - before).abs().max() < 0.05


@pytest.mark.parametrize("bad, message", [(torch.tensor([[0.0, math.nan, 1.0]] * 4), "NaN or inf"),
                                          (torch.tensor([[0.0, math.inf, 1.0]] * 4), "NaN or inf"),
                                          (torch.zeros(4, 2), r"shape \(batch, 3\)"),
                                          (torch.zeros(1, 3), "at least 2 samples")])
def test_update_grid_rejects_bad_samples(bad, message):
    layer = KANLayer(3, 2)
    grid = layer.grid.clone()
    with pytest.raises(ValueError, match=message):
        layer.update_grid(bad)
    assert torch.equal(layer.grid, grid), "a rejected update must leave the grid alone"


@pytest.mark.parametrize("config", [{"width": [2]}, {"width": [2, 0, 1]}, {"grid": 0}, {"k": -1},
                                    {"grid_range": [1.0, -1.0]}, {"grid": 5000}])
def test_invalid_configs_fail_at_create(config):
    with pytest.raises(zoo.ConfigError):
        zoo.create("kan", **config)


def test_invalid_layer_arguments_and_inputs():
    with pytest.raises(ValueError, match="grid_size"):
        KANLayer(2, 3, grid_size=0)
    with pytest.raises(ValueError, match="k must be"):
        KANLayer(2, 3, k=-2)
    model = KAN(KANConfig(width=[2, 3, 1]))
    with pytest.raises(ValueError, match=r"\(batch, 2\)"):
        model(torch.zeros(4, 3))
    with pytest.raises(TypeError, match="floating-point"):
        model(torch.zeros(4, 2, dtype=torch.long))


def test_refine_extends_the_grid_and_keeps_the_function():
    torch.manual_seed(0)
    model = KAN(KANConfig(width=[2, 3, 1], grid=3))
    for layer in model.layers:
        layer.coef.data.normal_(0, 0.5)
    x = torch.rand(400, 2) * 2 - 1
    fine = model.refine(10, x)  # knots at the activations' quantiles: not nested, close
    assert fine.config.grid == 10 and fine.layers[0].coef.shape == (2, 3, 13)
    assert (fine(x) - model(x)).abs().max() < 1e-2 * model(x).abs().max()
    nested = model.refine(9)  # uniform 3 -> 9 intervals contains the old knots: exact
    assert (nested(x) - model(x)).abs().max() < 1e-5 * model(x).abs().max() + 1e-6
    with pytest.raises(ValueError, match="grid size"):
        model.refine(0)


def test_regularization_is_the_papers_l1_plus_entropy():
    torch.manual_seed(0)
    model = KAN(KANConfig(width=[2, 3, 1]))
    x = torch.rand(100, 2) * 2 - 1
    total = model.regularization(x, mu_1=1.0, mu_2=1.0)
    expected = 0.0
    for layer, h in zip(model.layers, model.layer_inputs(x)):
        phi = oracle_forward_edges(layer, h).abs().mean(0)
        p = phi / phi.sum()
        expected += phi.sum() - (p * p.log()).sum()
    assert torch.allclose(total, expected, rtol=1e-5)
    total.backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())


def oracle_forward_edges(layer, x):
    spline = torch.einsum("bim,iom->bio", b_spline_basis(x, layer.grid, layer.k), layer.coef)
    return (F.silu(x).unsqueeze(-1) * layer.scale_base + layer.scale_sp * spline) * layer.mask


def test_prune_removes_dead_nodes_and_keeps_the_output():
    torch.manual_seed(0)
    model = KAN(KANConfig(width=[2, 4, 1]))
    with torch.no_grad():  # hidden node 2 receives nothing and sends nothing
        model.layers[0].coef[:, 2] = 0
        model.layers[0].scale_base[:, 2] = 0
        model.layers[1].coef[2] = 0
        model.layers[1].scale_base[2] = 0
    x = torch.rand(200, 2) * 2 - 1
    pruned = model.prune(x, threshold=1e-3)
    assert pruned.config.width == [2, 3, 1]
    assert torch.allclose(pruned(x), model(x), atol=1e-5)
    assert pruned.prune_edges(x, threshold=1e9) == 2 * 3 + 3 * 1 and pruned(x).abs().max() == 0


def test_std_edge_score_is_pykans_edge_scale():
    torch.manual_seed(0)
    model = KAN(KANConfig(width=[2, 3, 1]))
    x = torch.rand(200, 2) * 2 - 1
    for layer, h, scores in zip(model.layers, model.layer_inputs(x), model.edge_scores(x, score="std")):
        phi = oracle_forward_edges(layer, h)
        # pykan 0.2 MultKAN.forward: std(postacts) / (std(preacts) + 0.1), torch's unbiased std
        assert torch.allclose(scores, phi.std(0) / (h.std(0)[:, None] + 0.1), rtol=1e-5)
    with pytest.raises(ValueError, match="edge score 'mean'"):
        model.edge_scores(x, score="mean")
    with pytest.raises(ValueError, match="prune score 'mean'"):
        model.prune(x, score="mean")


def test_std_score_prunes_a_node_that_only_carries_a_bias():
    torch.manual_seed(0)
    model = KAN(KANConfig(width=[2, 3, 1]))
    with torch.no_grad():  # hidden node 2 sends a constant 0.1: B-splines sum to 1 inside the grid
        model.layers[1].scale_base[2] = 0
        model.layers[1].coef[2] = 0.1
    x = torch.rand(300, 2) * 1.8 - 0.9
    assert model.prune(x, threshold=1e-2).config.width == [2, 3, 1]  # |phi|_1 = 0.1 keeps it
    pruned = model.prune(x, threshold=1e-2, score="std")
    assert pruned.config.width == [2, 2, 1]
    assert torch.allclose(pruned(x), model(x) - 0.1, atol=1e-5)  # only the bias is lost
    assert pruned.prune_edges(x, threshold=1e9, score="std") == 2 * 2 + 2 * 1


def test_pruning_to_nothing_is_a_clear_error():
    model = KAN(KANConfig(width=[2, 3, 1]))
    with pytest.raises(ValueError, match="every node of hidden layer 1"):
        model.prune(torch.rand(50, 2), threshold=1e6)


def test_refine_and_prune_keep_the_zoo_identity():
    model = zoo.create("kan", width=[2, 3, 1], grid=3)
    fine = model.refine(6)
    assert fine.zoo_identity.config.grid == 6 and fine.zoo_identity.architecture == "kan"
    assert fine.zoo_identity.config.width == [2, 3, 1]


def test_conformance():
    assert_conforms("kan")
    assert_conforms("kan", width=[3, 4, 2], grid=4, k=2)
