"""Export a zoo model to a file other runtimes read: a torch.export program (.pt2) or ONNX (.onnx).

    import zoo
    result = zoo.export("kan", "kan.pt2")                           # a fresh catalog model
    result = zoo.export(model, "model.onnx", format="onnx")         # a zoo model
    result = zoo.export(module, "m.pt2", example_inputs=(x,))       # any nn.Module

The graph is recorded in eval mode for the example inputs' shapes (by default the inputs the
model's plugin gives the conformance checks, batch of 2), and the file takes inputs of those
shapes. Every export is checked before it is kept: the ONNX file is read back by onnxruntime, the
torch.export program run as recorded (reading a .pt2 file back unpickles its weights, which the zoo
never does), on the example inputs, and compared with the eager model; a file whose outputs
disagree is not kept. The
file appears at `path` only when complete (written beside it, then renamed), and an existing file
is kept unless `force`.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import secrets
import traceback
from dataclasses import dataclass
from pathlib import Path

from .errors import ConfigError, ConfigTypeError, ZooError

__all__ = ["export", "ExportResult", "ExportError", "FORMATS", "EXAMPLE_BATCH", "quiet_exporter_output"]

# format -> the file suffix its runtime expects
FORMATS = {"torch-export": ".pt2", "onnx": ".onnx"}
EXAMPLE_BATCH = 2
INSTALL_HINT = 'pip install "paperzoo[export]"'


class ExportError(ZooError):
    """A model the exporter cannot record, or an exported file whose outputs differ from the model's."""


@dataclass(frozen=True)
class ExportResult:
    """What `export` wrote and how closely the file reproduces the eager model.

    max_abs_difference: the largest |exported - eager| over every output element.
    max_relative_difference: that difference divided by the largest |eager| output (the scale the
        tolerance is measured against).
    dynamic_batch: the batch dimension was left free and the file, run at one more row, matched
        the model there too; False: it takes the example's batch size only.
    """

    path: Path
    format: str
    model: str
    max_abs_difference: float
    max_relative_difference: float
    tolerance: float
    dynamic_batch: bool = False  # the file also ran, and matched the model, at another batch size


def _relative_tolerance(dtype) -> float:
    """How far an exported output may drift from eager, relative to the output's scale: the
    exporters reorder and fuse operations, so agreement is to rounding, not bit for bit."""
    import torch

    return {torch.float64: 1e-8, torch.float16: 1e-2, torch.bfloat16: 1e-2}.get(dtype, 1e-4)


def _model_name(model) -> str:
    identity = getattr(model, "zoo_identity", None)
    if identity is None:
        return type(model).__name__
    name = identity.architecture
    if identity.weights:
        return f"{name}.{identity.weights}"
    return f"{name} (variant {identity.variant})" if identity.variant not in (None, "default") else name


def _reason(exc: BaseException) -> str:
    """The exporter's reason on one line: the first line of the innermost error, shortened (the ONNX
    exporter wraps torch.export's error in "step 1/3 failed", and messages run to pages of graph
    dumps and hints)."""
    while exc.__cause__ is not None:
        exc = exc.__cause__
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(exc))  # terminal colours
    lines = [" ".join(line.split()) for line in text.splitlines() if line.strip()]
    text = lines[0] if lines else ""
    text = text if len(text) <= 300 else text[:300] + "..."
    where = _model_code_frame(exc)
    return (f"{type(exc).__name__}: {text}" if text else type(exc).__name__) + (f" (in {where})" if where else "")


def _model_code_frame(exc: BaseException) -> str | None:
    """Where in the model's own code the exporter gave up ('check_labels, gan/model.py:108'): the
    innermost frame of the traceback outside torch and this module."""
    import torch

    torch_dir = os.path.dirname(torch.__file__)
    frames = [f for f in traceback.extract_tb(exc.__traceback__)
              if not f.filename.startswith(torch_dir) and f.filename not in (__file__, "<string>")
              and os.path.isfile(f.filename)]
    if not frames:
        return None
    frame = frames[-1]
    return f"{frame.name}, {'/'.join(Path(frame.filename).parts[-2:])}:{frame.lineno}"


@contextlib.contextmanager
def quiet_exporter_output():
    """Hold back what the exporters write to stderr while exporting: a failed trace prints pages of
    partial graph and log lines around the one-line reason ExportError already gives (the command
    line shows them with --debug)."""
    with contextlib.redirect_stderr(io.StringIO()):
        yield


def _resolve_model(model_or_name):
    import torch

    if isinstance(model_or_name, torch.nn.Module):
        return model_or_name
    if isinstance(model_or_name, (str, os.PathLike)):
        from .sources import load_model_source

        # 'name.tag' is the pretrained model; a bare name a fresh model of its default variant
        return load_model_source(os.fspath(model_or_name), untrained=True)
    raise ConfigTypeError(f"export expects a model (torch.nn.Module), a catalog name, a saved model or run "
                          f"directory, or 'hf-hub:org/name'; got {type(model_or_name).__name__} {model_or_name!r:.80}")


def _example_inputs(model, given, batch_size: int) -> tuple:
    import torch

    if given is not None:
        if isinstance(given, torch.Tensor):
            return (given,)
        if isinstance(given, (tuple, list)):
            return tuple(given)
        raise ConfigTypeError(f"example_inputs expects a tensor or a tuple of forward arguments, "
                              f"got {type(given).__name__}")
    identity = getattr(model, "zoo_identity", None)
    if identity is None:
        raise ConfigError(f"{type(model).__name__} was not built by the zoo, so it has no example inputs; "
                          f"pass example_inputs=(tensor, ...) with the forward arguments to trace")
    from .registry import default_registry

    spec = default_registry().model_spec(identity.architecture)
    if spec.example_inputs is None:
        raise ConfigError(f"model {identity.architecture!r} gives no example inputs (its ModelSpec has no "
                          f"example_inputs); pass example_inputs=(tensor, ...)")
    torch.manual_seed(1234)
    inputs = tuple(spec.example_inputs(identity.config, batch_size))
    device = next((p.device for p in model.parameters()), None)
    if device is None or device.type == "cpu":
        return inputs
    # the plugin makes its inputs on the CPU; a model moved to an accelerator is traced there
    return tuple(t.to(device) if isinstance(t, torch.Tensor) else t for t in inputs)


def _check_target(path, format: str, force: bool) -> Path:
    if not isinstance(path, (str, os.PathLike)) or not os.fspath(path) or "\0" in os.fspath(path):
        raise ConfigTypeError(f"export path expects a file path, got {path!r:.80}")
    target = Path(path).expanduser()
    other = {suffix: name for name, suffix in FORMATS.items() if name != format}.get(target.suffix.lower())
    if other:
        raise ConfigError(f"{str(target)!r} ends in {target.suffix}, the suffix of format {other!r}, but the "
                          f"format is {format!r}; name it *{FORMATS[format]} or choose that format")
    if target.is_dir():
        raise ConfigError(f"{str(target)!r} is a directory; export writes one file (e.g. "
                          f"{str(target / ('model' + FORMATS[format]))!r})")
    if target.exists() and not force:
        raise ConfigError(f"{str(target)!r} already exists; pass force=True (--force) to replace it")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot create the folder of {str(target)!r}: {exc.strerror or exc}") from None
    return target


def _need_onnx() -> None:
    missing = []
    for module in ("onnx", "onnxscript", "onnxruntime"):
        try:
            __import__(module)
        except ImportError:
            missing.append(module)
    if missing:
        raise ConfigError(f"ONNX export needs {', '.join(missing)} ({'is' if len(missing) == 1 else 'are'} not "
                          f"installed): {INSTALL_HINT}")


def _tensors(output) -> list:
    from .testing import tensors_in

    return [t.detach().cpu() for t in tensors_in(output)]


def _batch_free(inputs: tuple):
    """dynamic_shapes leaving dim 0 of every batched tensor input to the exporter (Dim.AUTO: free
    where the model allows it, fixed where it does not, never an export failure of its own)."""
    import torch

    return tuple({0: torch.export.Dim.AUTO} if isinstance(t, torch.Tensor) and t.dim() > 0 else None
                 for t in inputs)


def _write_torch_export(model, inputs: tuple, file: Path):
    """Record and save the program; returns a function running the recorded program on inputs.
    The saved file is not read back: torch.export.load unpickles, which the zoo never does."""
    import torch

    program = torch.export.export(model, inputs, dynamic_shapes=_batch_free(inputs))
    torch.export.save(program, file)

    def run_recorded(given: tuple):
        module = program.module()
        torch.manual_seed(0)
        with torch.no_grad():
            return _tensors(module(*given))
    return run_recorded


def _write_onnx(model, inputs: tuple, file: Path):
    import torch

    program = torch.onnx.export(model, inputs, dynamo=True, verbose=False, dynamic_shapes=_batch_free(inputs))
    program.save(str(file))

    def run_saved(given: tuple):
        import onnxruntime

        session = onnxruntime.InferenceSession(str(file), providers=["CPUExecutionProvider"])
        # the graph's inputs are the tensor arguments, in order (other arguments are baked in)
        tensors = [t for t in given if isinstance(t, torch.Tensor)]
        feeds = {i.name: t.detach().cpu().numpy() for i, t in zip(session.get_inputs(), tensors)}
        return [torch.from_numpy(out) for out in session.run(None, feeds)]
    return run_saved


def _one_more_row(inputs: tuple) -> tuple | None:
    """The inputs with their first row repeated at the end (batch + 1), or None when no input is batched."""
    import torch

    grown = tuple(torch.cat([t, t[:1]]) if isinstance(t, torch.Tensor) and t.dim() > 0 else t for t in inputs)
    return grown if any(isinstance(t, torch.Tensor) and t.dim() > 0 for t in inputs) else None


def _runs_at(model, run_saved, inputs: tuple, name: str, format: str) -> bool:
    """Whether the exported file runs at `inputs` and matches the eager model there."""
    import torch

    try:
        torch.manual_seed(0)
        with torch.no_grad():
            eager = _tensors(model(*inputs))
        _compare(name, format, eager, run_saved(inputs))
    except Exception:  # noqa: BLE001 - a batch size the model or the file was not made for: static
        return False
    return True


WRITERS = {"torch-export": _write_torch_export, "onnx": _write_onnx}


def _compare(name: str, format: str, eager: list, exported: list) -> tuple[float, float, float]:
    """(max abs difference, max relative difference, tolerance); ExportError beyond the tolerance."""
    import torch

    if len(eager) != len(exported):
        raise ExportError(f"{name}: the {format} file gives {len(exported)} output tensor(s), the model {len(eager)}")
    worst_abs, worst_rel, tolerance = 0.0, 0.0, 0.0
    for index, (a, b) in enumerate(zip(eager, exported)):
        if tuple(a.shape) != tuple(b.shape):
            raise ExportError(f"{name}: output {index} of the {format} file has shape {tuple(b.shape)}, "
                              f"the model's {tuple(a.shape)}")
        if not a.is_floating_point():
            if not torch.equal(a, b.to(a.dtype)):
                raise ExportError(f"{name}: output {index} ({a.dtype}) of the {format} file differs from the model's")
            continue
        a64, b64 = a.double(), b.double()
        finite = torch.isfinite(a64)
        if not torch.equal(finite, torch.isfinite(b64)):
            raise ExportError(f"{name}: output {index} of the {format} file is NaN or inf where the model's is "
                              f"not (or the reverse)")
        if not finite.any():
            continue
        difference = (a64[finite] - b64[finite]).abs().max().item()
        scale = a64[finite].abs().max().item() or 1.0
        worst_abs, worst_rel = max(worst_abs, difference), max(worst_rel, difference / scale)
        tolerance = max(tolerance, _relative_tolerance(a.dtype))
        if difference / scale > _relative_tolerance(a.dtype):
            raise ExportError(f"{name}: the {format} file's output {index} differs from the model's by up to "
                              f"{difference:.3g} ({difference / scale:.3g} of the output's scale {scale:.3g}; "
                              f"the tolerance is {_relative_tolerance(a.dtype):g}); the file was not written")
    return worst_abs, worst_rel, tolerance


def _new_partial_file(target: Path, format: str) -> Path:
    """An empty file beside `target` to write into: hidden, unique, ending in the format's suffix
    (torch.export.load refuses other names), with the permissions a plain new file gets."""
    for _ in range(100):
        partial = target.parent / f".{target.name}.{secrets.token_hex(4)}.partial{FORMATS[format]}"
        try:
            os.close(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            return partial
        except FileExistsError:
            continue
        except OSError as exc:
            raise ConfigError(f"cannot write beside {str(target)!r}: {exc.strerror or exc}") from None
    raise ConfigError(f"cannot create a temporary file beside {str(target)!r}")


def _move_into_place(temporary: Path, target: Path, force: bool) -> None:
    if force:
        os.replace(temporary, target)
        return
    try:  # a link fails when the name exists: a file made meanwhile is never replaced
        os.link(temporary, target)
    except FileExistsError:
        raise ConfigError(f"{str(target)!r} already exists; pass force=True (--force) to replace it") from None
    except OSError:  # a file system without hard links
        if target.exists():
            raise ConfigError(f"{str(target)!r} already exists; pass force=True (--force) to replace it") from None
        os.replace(temporary, target)
        return
    temporary.unlink()


def export(model_or_name, path, format: str = "torch-export", example_inputs=None, *,
           batch_size: int = EXAMPLE_BATCH, force: bool = False) -> ExportResult:
    """Export a model to `path` and check the file against the eager model.

    model_or_name: a torch.nn.Module (a zoo model, or any module when example_inputs is given),
        or what ``zoo.load``/``zoo eval`` take: a saved model or run directory, ``hf-hub:org/name``,
        a catalog ``name.tag`` (pretrained); a bare catalog name is a fresh model of its default variant.
    format: ``"torch-export"`` (torch.export program, read by ``torch.export.load``) or ``"onnx"``
        (needs ``pip install "paperzoo[export]"``).
    example_inputs: the forward arguments to trace (a tensor or a tuple); by default the inputs the
        model's plugin gives, of `batch_size` rows. The batch dimension (dim 0) is left free where the
        model allows it; the result's `dynamic_batch` says whether the file also matched the model at
        one row more. Other dimensions are fixed to the example's.
    force: replace an existing file.

    Raises ConfigError for a bad format, path or missing package, ExportError (a ZooError) when the
    exporter cannot record the model or the file's outputs differ from the model's beyond the
    tolerance (1e-4 of the output's scale in float32).
    """
    if format not in FORMATS:
        from .errors import did_you_mean

        raise ConfigError(f"unknown export format {format!r}; expected one of {', '.join(map(repr, FORMATS))}."
                          + did_you_mean(str(format), FORMATS))
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ConfigError(f"batch_size expects a positive integer, got {batch_size!r}")
    target = _check_target(path, format, force)
    if format == "onnx":
        _need_onnx()
    model = _resolve_model(model_or_name)
    name = _model_name(model)
    inputs = _example_inputs(model, example_inputs, batch_size)

    import torch

    was_training = model.training
    model.eval()
    temporary = None
    try:
        torch.manual_seed(0)
        with torch.no_grad():
            eager = _tensors(model(*inputs))
        if not eager:
            raise ExportError(f"{name}: its forward returns no tensor, so there is nothing to export")
        temporary = _new_partial_file(target, format)
        try:
            run_saved = WRITERS[format](model, inputs, temporary)
        except ZooError:
            raise
        except Exception as exc:  # the exporter's failure, told in one line
            raise ExportError(f"{name} cannot be exported to {format}: {_reason(exc)}") from exc
        try:
            exported = run_saved(inputs)
        except Exception as exc:
            raise ExportError(f"{name}: the {format} file was written but does not run: {_reason(exc)}") from exc
        worst_abs, worst_rel, tolerance = _compare(name, format, eager, exported)
        grown = _one_more_row(inputs)
        dynamic = grown is not None and _runs_at(model, run_saved, grown, name, format)
        _move_into_place(temporary, target, force)
        temporary = None
    finally:
        model.train(was_training)
        if temporary is not None:
            temporary.unlink(missing_ok=True)
    return ExportResult(target, format, name, worst_abs, worst_rel, tolerance, dynamic)
