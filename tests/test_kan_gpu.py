"""The KAN layer's Triton kernels (plugins/kan/gpu.py), run on the CPU by Triton's interpreter:
basis and input gradient equal the Cox-de Boor oracle on uniform and adapted grids, in float32 and
float64, and a layer routed through them trains like the CPU path. On a CUDA machine the GPU check
script runs the same comparisons on the device."""

from __future__ import annotations

import importlib
import os
import sys

import pytest
import torch

pytest.importorskip("triton")  # ships with torch's CUDA builds, which the project installs

from zoo_plugins.kan import gpu, native  # noqa: E402
from zoo_plugins.kan.model import KANLayer  # noqa: E402
from zoo_plugins.kan.spline import SplineTables, b_spline_basis  # noqa: E402


@pytest.fixture(scope="module")
def interpreted():
    """gpu_kernels re-imported with TRITON_INTERPRET=1 (read when the kernels are defined), and
    re-imported as before afterwards."""
    before = os.environ.get("TRITON_INTERPRET")
    os.environ["TRITON_INTERPRET"] = "1"
    name = "zoo_plugins.kan.gpu_kernels"
    kernels = importlib.reload(sys.modules[name]) if name in sys.modules else importlib.import_module(name)
    yield kernels
    if before is None:
        del os.environ["TRITON_INTERPRET"]
    else:
        os.environ["TRITON_INTERPRET"] = before
    importlib.reload(kernels)


def _layer(dtype, k, adapted, in_features=3, out_features=2, seed=0):
    torch.manual_seed(seed)
    layer = KANLayer(in_features, out_features, grid_size=5, k=k).to(dtype)
    if adapted:  # non-uniform knots, denser near -1
        layer.update_grid((torch.rand(300, in_features, dtype=dtype) ** 3) * 2 - 1)
    return layer


TOLERANCE = {torch.float32: 2e-6, torch.float64: 1e-12}


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("adapted", [False, True], ids=["uniform", "adapted"])
@pytest.mark.parametrize("k", [0, 1, 2, 3, 4])
def test_basis_and_input_gradient_equal_the_oracle(interpreted, dtype, adapted, k):
    layer = _layer(dtype, k, adapted)
    tables = SplineTables(layer.grid, k, dtype)
    kernels = gpu.TritonGrid(tables, torch.device("cpu"))
    x = (torch.rand(50, 3, dtype=dtype) * 3.2 - 1.6).requires_grad_()  # also beyond the extended grid
    x.data[0] = layer.grid[:, 4]  # exactly on knots
    oracle = b_spline_basis(x, layer.grid, k)  # (batch, in, G + k)
    padded = torch.full((50, 3 * tables.n_bases + 5), float("nan"), dtype=dtype)  # strided rows
    features = padded[:, : 3 * tables.n_bases]
    kernels.features(x.detach(), features)
    scale = 1 + oracle.abs().max().item()
    torch.testing.assert_close(features.view(50, 3, -1), oracle.detach(), atol=TOLERANCE[dtype] * scale, rtol=0)
    assert torch.isnan(padded[:, 3 * tables.n_bases:]).all()  # nothing written past the row
    if k == 0:
        return
    upstream = torch.randn(50, 3 * tables.n_bases, dtype=dtype)
    (expected,) = torch.autograd.grad((oracle * upstream.view(50, 3, -1)).sum(), x)
    grad_x = torch.ones(50, 3, dtype=dtype)  # accumulates into what is there
    kernels.add_input_grad(x.detach(), upstream, grad_x)
    torch.testing.assert_close(grad_x - 1, expected, atol=TOLERANCE[dtype] * 50 * (1 + expected.abs().max().item()),
                               rtol=0)


@pytest.mark.parametrize("adapted", [False, True], ids=["uniform", "adapted"])
def test_a_layer_on_the_triton_path_matches_the_cpu_path(interpreted, monkeypatch, adapted):
    """Forward, loss and every gradient of a layer whose basis runs in the kernels (as on CUDA)
    equal those of the same layer on the CPU path."""
    reference = _layer(torch.float64, 3, adapted, in_features=4, out_features=5)
    routed = _layer(torch.float64, 3, adapted, in_features=4, out_features=5)
    x = torch.rand(64, 4, dtype=torch.float64) * 2.2 - 1.1
    results = []
    for layer, via_triton in ((reference, False), (routed, True)):
        with monkeypatch.context() as patch:
            if via_triton:
                patch.setattr(gpu.TritonGrid, "available", staticmethod(lambda x: True))
                patch.setattr(native, "library", lambda: None)
            xi = x.clone().requires_grad_()
            out = layer(xi)
            (out ** 2).sum().backward()
            results.append([out.detach(), xi.grad] + [p.grad for p in (layer.coef, layer.scale_base, layer.scale_sp)])
    for ours, theirs in zip(results[1], results[0]):
        torch.testing.assert_close(ours, theirs, atol=1e-10, rtol=1e-10)


def test_cpu_tensors_and_half_precision_stay_off_the_kernels():
    layer = _layer(torch.float32, 3, False)
    tables = SplineTables(layer.grid, 3, torch.float32)
    assert tables.gpu(torch.rand(4, 3)) is None  # CPU: native.cpp or tensor ops
    assert not gpu.TritonGrid.available(torch.rand(4, 3, dtype=torch.bfloat16))
