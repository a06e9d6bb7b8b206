"""The KAN layer's fused CPU kernels (plugins/kan/native.cpp): same values and gradients as the eager
path and the Cox-de Boor oracle, and a clean fall-back when they cannot be built."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings

import pytest
import torch

from zoo_plugins.kan import native
from zoo_plugins.kan.model import KANLayer

HAS_COMPILER = native._compiler() is not None


@pytest.fixture
def fresh_native(monkeypatch, tmp_path):
    """A native module with nothing loaded yet and its cache in tmp_path; restored afterwards."""
    monkeypatch.setattr(native, "_state", {})
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.delenv("PAPERZOO_KAN_NATIVE", raising=False)
    return tmp_path


def _layer(dtype, k=3, adapted=False, seed=0):
    torch.manual_seed(seed)
    layer = KANLayer(5, 7, grid_size=6, k=k).to(dtype)
    with torch.no_grad():
        layer.coef.normal_()
        layer.scale_base.normal_()
        layer.scale_sp.uniform_(0.5, 1.5)
        layer.mask[0, 1] = 0.0
    if adapted:  # quantile knots: a non-uniform grid
        layer.update_grid(torch.randn(400, 5, dtype=dtype) * 0.6)
    return layer


def _run(layer, x, fused: bool, monkeypatch):
    """Output and gradients (x, coef, scale_base, scale_sp) with the fused kernels on or off."""
    monkeypatch.setenv("PAPERZOO_KAN_NATIVE", "1" if fused else "0")
    layer._tables_cache = None
    layer.zero_grad(set_to_none=True)
    x = x.clone().requires_grad_()
    y = layer(x)
    assert (layer.tables(x.dtype).native(x) is not None) == fused
    (y * torch.linspace(-1, 1, y.shape[1], dtype=y.dtype)).sum().backward()
    return [y.detach(), x.grad, layer.coef.grad, layer.scale_base.grad, layer.scale_sp.grad]


@pytest.mark.skipif(not HAS_COMPILER, reason="no C++ compiler: the layer runs its eager path (tested elsewhere)")
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("adapted", [False, True], ids=["uniform", "adapted-grid"])
@pytest.mark.parametrize("k", [0, 1, 2, 3, 5])
def test_fused_kernels_match_the_eager_path_and_the_oracle(dtype, adapted, k, monkeypatch):
    layer = _layer(dtype, k, adapted)
    # inside, on and outside the grid (bases vanish outside the extended grid), and a knot itself
    x = torch.cat([torch.rand(300, 5, dtype=dtype) * 4 - 2, layer.grid[:, 4].to(dtype)[None]])
    eager, fused = _run(layer, x, False, monkeypatch), _run(layer, x, True, monkeypatch)
    tolerance = 1e-10 if dtype == torch.float64 else 2e-4
    for name, a, b in zip(["output", "grad x", "grad coef", "grad scale_base", "grad scale_sp"], eager, fused):
        assert torch.allclose(a, b, rtol=tolerance, atol=tolerance), f"{name}: max diff {(a - b).abs().max():.3g}"
    with torch.no_grad():  # the oracle: Cox-de Boor activations summed per output
        oracle = layer.activations(x).sum(1)
    assert torch.allclose(fused[0], oracle, rtol=tolerance, atol=tolerance)


@pytest.mark.skipif(not HAS_COMPILER, reason="no C++ compiler")
def test_threads_split_the_batch_without_changing_results(monkeypatch):
    layer = _layer(torch.float32)
    x = torch.rand(20000, 5) * 2 - 1  # large enough for native.cpp to use several threads
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = _run(layer, x, True, monkeypatch)
        torch.set_num_threads(3)
        several = _run(layer, x, True, monkeypatch)
    finally:
        torch.set_num_threads(threads)
    for a, b in zip(one, several):
        assert torch.allclose(a, b, rtol=1e-5, atol=1e-5)


@pytest.mark.skipif(not HAS_COMPILER, reason="no C++ compiler")
def test_non_finite_inputs_give_non_finite_outputs_not_a_crash(monkeypatch):
    layer = _layer(torch.float32)
    x = torch.zeros(4, 5)
    x[1, 2], x[2, 3], x[3, 0] = float("nan"), float("inf"), -float("inf")
    monkeypatch.setenv("PAPERZOO_KAN_NATIVE", "1")
    y = layer(x)
    assert torch.isfinite(y[0]).all()
    assert torch.isnan(y[1]).all()


@pytest.mark.skipif(not HAS_COMPILER, reason="no C++ compiler")
def test_the_library_is_built_once_and_cached(fresh_native):
    assert native.library() is not None
    built = list((fresh_native / "paperzoo" / "native").glob("kan-*.so"))
    assert len(built) == 1
    stamp = built[0].stat().st_mtime_ns
    native._state.clear()  # a new process: finds the cached file
    assert native.library() is not None
    assert built[0].stat().st_mtime_ns == stamp
    assert [p.name for p in built[0].parent.iterdir()] == [built[0].name]  # no staging files left


@pytest.mark.skipif(not HAS_COMPILER, reason="no C++ compiler")
def test_a_damaged_cached_library_is_dropped_and_rebuilt(fresh_native):
    assert native.library() is not None
    (built,) = (fresh_native / "paperzoo" / "native").glob("kan-*.so")
    damaged = built.with_suffix(".tmp")
    damaged.write_bytes(b"not a shared library")
    os.replace(damaged, built)  # a new file: the library this process has mapped stays intact
    # new processes (this one would get its loaded copy back from dlopen)
    probe = ("import warnings; warnings.simplefilter('always'); from zoo_plugins.kan import native; "
             "print(native.library() is not None)")
    env = dict(os.environ, XDG_CACHE_HOME=str(fresh_native))
    first = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, timeout=120)
    assert first.stdout.strip() == "False" and "without their fused CPU kernels" in first.stderr, first.stderr
    assert not built.exists()
    second = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, timeout=120)
    assert second.stdout.strip() == "True", second.stderr
    assert built.exists()


def test_without_a_compiler_the_layer_warns_once_and_runs_eagerly(fresh_native, monkeypatch):
    monkeypatch.setattr(native, "_compiler", lambda: None)
    layer = _layer(torch.float32)
    x = torch.rand(50, 5) * 2 - 1
    with pytest.warns(RuntimeWarning, match="no C\\+\\+ compiler"):
        y = layer(x)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # once per process, not per call
        layer(x)
    assert layer.tables(x.dtype).native(x) is None
    assert torch.allclose(y, layer.activations(x).sum(1), atol=1e-5)


def test_a_failing_build_names_the_compiler_and_falls_back(fresh_native, monkeypatch, tmp_path):
    compiler = tmp_path / "broken-cxx"
    compiler.write_text("#!/bin/sh\necho 'broken-cxx: cannot compile' >&2\nexit 1\n")
    compiler.chmod(0o755)
    monkeypatch.setenv("CXX", str(compiler))
    with pytest.warns(RuntimeWarning, match="broken-cxx.*cannot compile"):
        assert native.library() is None
    assert not list((fresh_native / "paperzoo" / "native").glob("*.so"))  # nothing half-written kept


def test_the_switch_turns_the_kernels_off(monkeypatch):
    monkeypatch.setenv("PAPERZOO_KAN_NATIVE", "0")
    assert native.library() is None
