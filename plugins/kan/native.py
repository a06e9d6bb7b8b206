"""The KAN layer's fused CPU kernels: native.cpp, compiled on first use and called through ctypes.

The tensor-op basis (spline.py) makes several passes over (batch, in, k + 1) tensors per layer and
direction (locate, Horner, scatter, gather, weight); native.cpp does each element's work in one
pass, in registers. It needs only a C++ compiler (`$CXX`, else g++, else c++): no Python or torch
headers, so it builds in about a second. Batch rows are split over torch's intra-op threads: the
library is linked against the OpenMP runtime torch itself loaded (torch's pool, sized by
`torch.set_num_threads`); where torch does not run on OpenMP, or that build fails (a RuntimeWarning
says so), the kernels run on one thread. The library is cached under
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

__all__ = ["library", "kernel_threads", "NativeGrid", "features", "add_input_grad", "spline_weight", "spline_grads",
           "MAX_TABLE_BYTES"]

SOURCE = Path(__file__).with_name("native.cpp")
# -march=native: the cache key includes the CPU's flags, so a library never runs on another CPU
FLAGS = ["-O3", "-march=native", "-fno-math-errno", "-fno-trapping-math", "-std=c++17", "-fPIC", "-Wno-unknown-pragmas"]
# Non-uniform grids keep polynomial tables per (input, interval): past this size (grid and order far
# beyond the paper's) the layer runs its tensor-op path instead, whose memory grows with the batch only
MAX_TABLE_BYTES = 256 * 2**20
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


class _DlInfo(ctypes.Structure):
    _fields_ = [("dli_fname", ctypes.c_char_p), ("dli_fbase", ctypes.c_void_p), ("dli_sname", ctypes.c_char_p),
                ("dli_saddr", ctypes.c_void_p)]


def openmp_runtime() -> Path | None:
    """The file of the OpenMP runtime torch's intra-op pool runs on, or None where torch's parallel
    backend is not OpenMP or it cannot be told: the library that `omp_get_max_threads` resolves to
    from libtorch_cpu (other packages may have loaded other OpenMP runtimes into the process)."""
    if "parallel backend: OpenMP" not in torch.__config__.parallel_info():
        return None
    try:
        torch_cpu = next((Path(torch.__file__).parent / "lib").glob("libtorch_cpu.*"))
        symbol = ctypes.cast(getattr(ctypes.CDLL(str(torch_cpu)), "omp_get_max_threads"), ctypes.c_void_p)
        info = _DlInfo()
        if not ctypes.CDLL(None).dladdr(symbol, ctypes.byref(info)) or not info.dli_fname:
            return None
        path = Path(os.fsdecode(info.dli_fname))
    except (StopIteration, OSError, AttributeError):
        return None
    return path if path.exists() else None


def _build() -> ctypes.CDLL:
    compiler = _compiler()
    if compiler is None:
        raise RuntimeError("no C++ compiler found ($CXX, g++ or c++)")
    runtime = openmp_runtime()
    if runtime is not None:
        try:
            return _build_with(compiler, runtime)
        except RuntimeError as exc:  # it did not compile or link (a damaged cache entry is an OSError)
            warnings.warn(f"KAN's fused CPU kernels run on one thread: building them with torch's OpenMP "
                          f"runtime {runtime} failed: {exc}", RuntimeWarning, stacklevel=3)
    return _build_with(compiler, None)


def _build_with(compiler: str, runtime: Path | None) -> ctypes.CDLL:
    """Compile (cached) and load; `runtime`: link against this OpenMP library, else run serially."""
    compile_flags = FLAGS + (["-fopenmp"] if runtime else [])
    # linked by path (not -lgomp): the dependency is then the runtime torch loaded, not a second copy;
    # -z defs: a runtime that lacks what the compiler's OpenMP calls fails here, not at load
    link_flags = [str(runtime), f"-Wl,-rpath,{runtime.parent}", "-Wl,-z,defs"] if runtime else []
    version = subprocess.run([compiler, "--version"], capture_output=True, text=True).stdout
    key = hashlib.sha256("\0".join([SOURCE.read_text(), " ".join(compile_flags + link_flags), version,
                                    platform.machine(), _cpu_flags()]).encode()).hexdigest()[:20]
    path = _cache_dir() / f"kan-{key}.so"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=path.parent) as staging:
            obj, lib = os.path.join(staging, "kan.o"), os.path.join(staging, "kan.so")
            for step in ([compiler, *compile_flags, "-c", str(SOURCE), "-o", obj],
                         [compiler, "-shared", obj, *link_flags, "-o", lib]):
                done = subprocess.run(step, capture_output=True, text=True)
                if done.returncode != 0:
                    raise RuntimeError(f"{compiler} failed on {SOURCE.name}: {done.stderr.strip()[-2000:]}")
            os.replace(lib, path)
    try:
        lib = ctypes.CDLL(str(path))
    except OSError:
        path.unlink(missing_ok=True)  # a damaged cache entry: the next process builds it again
        raise
    _state["threads"] = "torch's OpenMP pool" if runtime else "one thread"
    for suffix in ("f32", "f64"):
        getattr(lib, f"kan_features_{suffix}").argtypes = _GRID + [ctypes.c_void_p, ctypes.c_int64,
                                                                   ctypes.c_void_p, ctypes.c_int64, ctypes.c_int64]
        getattr(lib, f"kan_input_grad_{suffix}").argtypes = _GRID + [ctypes.c_void_p, ctypes.c_int64, ctypes.c_void_p,
                                                                     ctypes.c_int64, ctypes.c_void_p, ctypes.c_int64]
        getattr(lib, f"kan_spline_weight_{suffix}").argtypes = [ctypes.c_void_p] * 3 + [ctypes.c_int64] * 3 + [
            ctypes.c_void_p, ctypes.c_int64]
        getattr(lib, f"kan_spline_grads_{suffix}").argtypes = [ctypes.c_void_p] * 4 + [ctypes.c_int64] * 3 + [
            ctypes.c_void_p] * 2 + [ctypes.c_int64]
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


def kernel_threads() -> str | None:
    """How the loaded kernels use threads ("torch's OpenMP pool" or "one thread"), None if not loaded."""
    return _state.get("threads") if _state.get("lib") is not None else None


def table_bytes(tables) -> int:
    """Bytes of the per-(input, interval) tables a non-uniform grid needs (0 for uniform grids)."""
    if tables.uniform:
        return 0
    k = tables.k
    per_interval = (k + 1) ** 2 + (k + 1) * k + 1  # poly, dpoly, inverse width
    return tables.n_in * tables.n_intervals * per_interval * torch.finfo(tables.dtype).bits // 8


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
            self.knots = tables.knots.cpu().to(dtype).T.contiguous()  # knot-major: native.cpp counts per knot
            self.inv_width = inv_width.to(dtype).contiguous()
            self.scale = self.shift = None
        self.poly, self.dpoly = poly.to(dtype).contiguous(), dpoly.to(dtype).contiguous()
        self._args = None

    def args(self) -> list:
        """The grid's leading arguments of every row kernel (its tables' addresses: the tables live as
        long as this object)."""
        if self._args is None:
            def ptr(t):
                return None if t is None else t.data_ptr()

            self._args = [self.n_in, self.k, self.n_int, self.n_bases, int(self.uniform), ptr(self.scale),
                          ptr(self.shift), ptr(self.knots), ptr(self.inv_width), ptr(self.poly), ptr(self.dpoly)]
        return self._args


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


def spline_weight(coef: torch.Tensor, scale_sp: torch.Tensor, mask: torch.Tensor,
                  out: torch.Tensor | None = None) -> torch.Tensor:
    """(out, in, nb) = coef (in, out, nb) with in and out swapped, times scale_sp * mask, into `out`
    (contiguous, that shape) if given."""
    coef, scale_sp, mask = _contiguous(coef, scale_sp, mask)
    n_in, n_out, nb = coef.shape
    out = coef.new_empty(n_out, n_in, nb) if out is None else out
    getattr(_state["lib"], f"kan_spline_weight_{_SUFFIX[coef.dtype]}")(
        coef.data_ptr(), scale_sp.data_ptr(), mask.data_ptr(), n_in, n_out, nb, out.data_ptr(), torch.get_num_threads())
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
        None if grad_coef is None else grad_coef.data_ptr(), None if grad_sp is None else grad_sp.data_ptr(),
        torch.get_num_threads())
    return grad_coef, grad_sp
