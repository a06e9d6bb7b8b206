"""The KAN layer's fused CPU kernels (plugins/kan/native.cpp): same values and gradients as the eager
path and the Cox-de Boor oracle, and a clean fall-back when they cannot be built."""

from __future__ import annotations

import ctypes
import os
import re
import subprocess
import sys
import warnings
from pathlib import Path

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
@pytest.mark.parametrize("adapted", [False, True], ids=["uniform", "adapted-grid"])
def test_threads_split_the_batch_without_changing_results(adapted, monkeypatch):
    layer = _layer(torch.float32, 3, adapted)
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


def _openmp_files_mapped() -> set[str]:
    maps = [line.split(maxsplit=5) for line in Path("/proc/self/maps").read_text().splitlines()]
    return {f[5] for f in maps if len(f) == 6 and re.match(r"lib(g|i)?omp", Path(f[5]).name)}


def _file_defining(library: ctypes.CDLL, symbol: str) -> str:
    info = native._DlInfo()
    assert ctypes.CDLL(None).dladdr(ctypes.cast(getattr(library, symbol), ctypes.c_void_p), ctypes.byref(info))
    return os.fsdecode(info.dli_fname)


@pytest.mark.skipif(not HAS_COMPILER or not Path("/proc/self/maps").exists()
                    or "parallel backend: OpenMP" not in torch.__config__.parallel_info(),
                    reason="needs a compiler, /proc and torch on OpenMP")
def test_the_kernels_run_on_torchs_own_openmp_runtime():
    # a second OpenMP runtime would bring its own threads, contending with torch's spinning workers
    # (other packages, scikit-learn for one, may have loaded theirs: the kernels must not use those)
    before = _openmp_files_mapped()
    library = native.library()
    assert library is not None and native.kernel_threads() == "torch's OpenMP pool"
    assert _openmp_files_mapped() == before
    torch_cpu = next((Path(torch.__file__).parent / "lib").glob("libtorch_cpu.*"))
    ours, torchs = _file_defining(library, "GOMP_parallel"), _file_defining(ctypes.CDLL(str(torch_cpu)), "GOMP_parallel")
    assert Path(ours).resolve() == Path(torchs).resolve() == native.openmp_runtime().resolve()


@pytest.mark.skipif(not HAS_COMPILER, reason="no C++ compiler")
def test_a_runtime_that_does_not_link_leaves_the_kernels_on_one_thread(fresh_native, monkeypatch, tmp_path):
    broken = tmp_path / "libgomp.so.1"
    broken.write_text("not a library")
    monkeypatch.setattr(native, "openmp_runtime", lambda: broken)
    with pytest.warns(RuntimeWarning, match="run on one thread.*libgomp.so.1"):
        assert native.library() is not None
    assert native.kernel_threads() == "one thread"
    layer = _layer(torch.float32, 3, True)
    x = torch.rand(3000, 5) * 2 - 1
    eager, fused = _run(layer, x, False, monkeypatch), _run(layer, x, True, monkeypatch)
    for a, b in zip(eager, fused):
        assert torch.allclose(a, b, rtol=2e-4, atol=2e-4)


@pytest.mark.skipif(not HAS_COMPILER, reason="no C++ compiler")
def test_tables_past_the_limit_run_the_tensor_op_path(monkeypatch):
    layer = _layer(torch.float32, 3, True)
    tables = layer.tables(torch.float32)
    x = torch.rand(50, 5) * 2 - 1
    assert native.table_bytes(tables) > 0
    monkeypatch.setattr(native, "MAX_TABLE_BYTES", native.table_bytes(tables) - 1)
    assert tables.native(x) is None
    monkeypatch.setattr(native, "MAX_TABLE_BYTES", native.table_bytes(tables))
    assert tables.native(x) is not None
