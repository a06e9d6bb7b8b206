"""The KAN layer's fused CPU kernels: native.cpp, compiled on first use and called through ctypes.

The tensor-op basis (spline.py) makes several passes over (batch, in, k + 1) tensors per layer and
direction (locate, Horner, scatter, gather, weight); native.cpp does each element's work in one
pass, in registers. It needs only a C++ compiler (`$CXX`, else g++, else c++): no Python or torch
headers, so it builds in about a second. The library is cached under
`$XDG_CACHE_HOME/paperzoo/native` (default ~/.cache/paperzoo/native), keyed by the source, the
flags and the compiler; it is written under a temporary name and renamed, so concurrent first uses
do not see a half-written file.

`library()` returns None, and the layer runs the eager path, when there is no compiler, the build
or load fails (a RuntimeWarning says why, once per process), or PAPERZOO_KAN_NATIVE=0.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import platform
import shutil
import subprocess
import tempfile
import threading
import warnings
from pathlib import Path

import torch

__all__ = ["library", "NativeGrid", "features", "add_input_grad", "spline_weight", "spline_grads"]

SOURCE = Path(__file__).with_name("native.cpp")
# -march=native: the cache key includes the CPU's flags, so a library never runs on another CPU
FLAGS = ["-O3", "-march=native", "-fno-math-errno", "-fno-trapping-math", "-std=c++17", "-shared", "-fPIC", "-pthread"]
_GRID = [ctypes.c_int64] * 4 + [ctypes.c_int] + [ctypes.c_void_p] * 6

_lock = threading.Lock()
_state: dict = {}


def _compiler() -> str | None:
    for name in (os.environ.get("CXX"), "g++", "c++"):
        if name and shutil.which(name):
            return shutil.which(name)
    return None


def _cpu_flags() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("flags", "Features")):
                return line
    except OSError:
        pass
    return platform.processor()


def _cache_dir() -> Path:
    root = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(root) / "paperzoo" / "native"


def _build() -> ctypes.CDLL:
    compiler = _compiler()
    if compiler is None:
        raise RuntimeError("no C++ compiler found ($CXX, g++ or c++)")
    version = subprocess.run([compiler, "--version"], capture_output=True, text=True).stdout
    key = hashlib.sha256("\0".join([SOURCE.read_text(), " ".join(FLAGS), version, platform.machine(),
                                    _cpu_flags()]).encode()).hexdigest()[:20]
    path = _cache_dir() / f"kan-{key}.so"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, staging = tempfile.mkstemp(suffix=".so", dir=path.parent)
        os.close(fd)
        try:
            done = subprocess.run([compiler, *FLAGS, str(SOURCE), "-o", staging], capture_output=True, text=True)
            if done.returncode != 0:
                raise RuntimeError(f"{compiler} failed on {SOURCE.name}: {done.stderr.strip()[-2000:]}")
            os.replace(staging, path)
        finally:
            if os.path.exists(staging):
                os.remove(staging)
    try:
        lib = ctypes.CDLL(str(path))
    except OSError:
        path.unlink(missing_ok=True)  # a damaged cache entry: the next process builds it again
        raise
    for suffix in ("f32", "f64"):
        getattr(lib, f"kan_features_{suffix}").argtypes = _GRID + [ctypes.c_void_p, ctypes.c_int64,
                                                                   ctypes.c_void_p, ctypes.c_int64, ctypes.c_int64]
        getattr(lib, f"kan_input_grad_{suffix}").argtypes = _GRID + [ctypes.c_void_p, ctypes.c_int64, ctypes.c_void_p,
                                                                     ctypes.c_int64, ctypes.c_void_p, ctypes.c_int64]
        getattr(lib, f"kan_spline_weight_{suffix}").argtypes = [ctypes.c_void_p] * 3 + [ctypes.c_int64] * 3 + [
            ctypes.c_void_p]
        getattr(lib, f"kan_spline_grads_{suffix}").argtypes = [ctypes.c_void_p] * 4 + [ctypes.c_int64] * 3 + [
            ctypes.c_void_p] * 2
    return lib


def library() -> ctypes.CDLL | None:
    """The compiled kernels, or None (eager path) with the reason warned once."""
    if os.environ.get("PAPERZOO_KAN_NATIVE", "1") == "0":
        return None
    with _lock:
        if "lib" not in _state:
            try:
                _state["lib"] = _build()
            except (OSError, RuntimeError, subprocess.SubprocessError) as exc:
                _state["lib"] = None
                warnings.warn(f"KAN layers run without their fused CPU kernels (slower): {exc}", RuntimeWarning,
                              stacklevel=2)
        return _state["lib"]


_SUFFIX = {torch.float32: "f32", torch.float64: "f64"}


class NativeGrid:
    """The tables native.cpp reads for a grid's `SplineTables`: plain tensors (a layer holding them
    still deep-copies), built once `library()` has loaded.

    uniform: the tables' k + 1 polynomials of u of the active bases (the same on every interval and
    input), their d/du, and the per-input scale 1 / h and shift -t_0 / h. General grids: the
    polynomials of every (input, interval), fitted in float64 to the Cox-de Boor oracle at k + 1
    points of each interval, with d/dx folded into their derivatives.
    """

    def __init__(self, tables):
        from .spline import interval_polynomials

        k, dtype = tables.k, tables.dtype
        self.n_in, self.k, self.n_int, self.n_bases = tables.n_in, k, tables.n_intervals, tables.n_bases
        self.uniform, self.suffix = tables.uniform, _SUFFIX[dtype]
        if self.uniform:
            poly = tables.poly[:, :, 0].T.cpu()  # (r, p): the same for every input
            dpoly = poly[:, 1:] * torch.arange(1, k + 1, dtype=dtype)  # d/du; native.cpp multiplies by scale
            self.scale, self.shift = tables.scale.cpu().contiguous(), tables.shift.cpu().contiguous()
            self.knots = self.inv_width = None
        else:
            poly, dpoly, inv_width = interval_polynomials(tables.knots.cpu(), k)
            self.knots, self.inv_width = tables.knots.cpu().to(dtype).contiguous(), inv_width.to(dtype).contiguous()
            self.scale = self.shift = None
        self.poly, self.dpoly = poly.to(dtype).contiguous(), dpoly.to(dtype).contiguous()

    def args(self) -> list:
        def ptr(t):
            return None if t is None else t.data_ptr()

        return [self.n_in, self.k, self.n_int, self.n_bases, int(self.uniform), ptr(self.scale), ptr(self.shift),
                ptr(self.knots), ptr(self.inv_width), ptr(self.poly), ptr(self.dpoly)]


def features(grid: NativeGrid, x: torch.Tensor, out: torch.Tensor) -> None:
    """Write B_m(x_i) into out[b, i * n_bases + m] (out: (batch, in * n_bases), rows may be strided).
    x: contiguous (batch, in)."""
    getattr(_state["lib"], f"kan_features_{grid.suffix}")(*grid.args(), x.data_ptr(), x.shape[0], out.data_ptr(),
                                                out.stride(0), torch.get_num_threads())


def add_input_grad(grid: NativeGrid, x: torch.Tensor, grad_features: torch.Tensor, grad_x: torch.Tensor) -> None:
    """grad_x += sum_m dL/dB_m(x) * B_m'(x), dL/dB_m(x_i) read from grad_features[b, i * n_bases + m]."""
    getattr(_state["lib"], f"kan_input_grad_{grid.suffix}")(*grid.args(), x.data_ptr(), x.shape[0], grad_features.data_ptr(),
                                                  grad_features.stride(0), grad_x.data_ptr(), torch.get_num_threads())


def _contiguous(*tensors: torch.Tensor) -> list[torch.Tensor]:
    return [t.contiguous() for t in tensors]


def spline_weight(coef: torch.Tensor, scale_sp: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """(out, in, nb) = coef (in, out, nb) with in and out swapped, times scale_sp * mask."""
    coef, scale_sp, mask = _contiguous(coef, scale_sp, mask)
    n_in, n_out, nb = coef.shape
    out = coef.new_empty(n_out, n_in, nb)
    getattr(_state["lib"], f"kan_spline_weight_{_SUFFIX[coef.dtype]}")(
        coef.data_ptr(), scale_sp.data_ptr(), mask.data_ptr(), n_in, n_out, nb, out.data_ptr())
    return out


def spline_grads(grad_t: torch.Tensor, coef: torch.Tensor, scale_sp: torch.Tensor, mask: torch.Tensor,
                 want_coef: bool, want_sp: bool) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """From grad_t (out, in, nb), the gradient of `spline_weight`'s output: (grad coef (in, out, nb),
    grad scale_sp (in, out)), each None unless wanted."""
    grad_t, coef, scale_sp, mask = _contiguous(grad_t, coef, scale_sp, mask)
    grad_coef = torch.empty_like(coef) if want_coef else None
    grad_sp = torch.empty_like(scale_sp) if want_sp else None
    getattr(_state["lib"], f"kan_spline_grads_{_SUFFIX[coef.dtype]}")(
        grad_t.data_ptr(), coef.data_ptr(), scale_sp.data_ptr(), mask.data_ptr(), *coef.shape,
        None if grad_coef is None else grad_coef.data_ptr(), None if grad_sp is None else grad_sp.data_ptr())
    return grad_coef, grad_sp
