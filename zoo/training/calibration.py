"""Calibration for post-training compression: a few unlabelled inputs, what each layer sees on them,
and the uniform weight grid that rounding methods share.

Post-training methods (AdaRound, Optimal Brain Compression) change a trained model's weights from
a small calibration set, without labels and without retraining. What they need in common:

    x = calibration_inputs("digits", n=1024, seed=0)            # n inputs of the train split, no labels
    layers = compressible_layers(model)                         # {name: Linear/Conv layer}
    seen = capture(model, layers, x)                            # {name: Captured(inputs, outputs)}
    X = layer_input_matrix(layers["fc1"], seen["fc1"].inputs)   # rows of the layer's receptive fields
    grid = fit_grid(weight_matrix(layers["fc1"]), bits=4)       # per-channel asymmetric, MSE-fitted
    w_q = grid.round(weight_matrix(layers["fc1"]))              # round-to-nearest on that grid

A layer's weight as a matrix (`weight_matrix`: one row per output channel, one column per input of
its receptive field) times `layer_input_matrix` of its input gives its output without the bias, so a
convolution is compressed exactly like a fully connected layer. `attach_grid` / `grid_of` keep a
layer's grid in buffers (saved by zoo.save) so that a quantized model carries its grid.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ConfigError, ResourceError, ZooError, did_you_mean

__all__ = ["MAX_CALIBRATION_SAMPLES", "MAX_CAPTURE_BYTES", "calibration_inputs", "compressible_layers", "Captured",
           "capture", "layer_input_matrix", "weight_matrix", "Grid", "fit_grid", "round_to_nearest", "attach_grid",
           "grid_of"]

# A calibration set is a few hundred to a few thousand samples (AdaRound: 1024 ImageNet images); a
# larger request is a mistake, and the activations captured from it would fill memory.
MAX_CALIBRATION_SAMPLES = 100_000
MAX_CAPTURE_BYTES = 4 * 2**30  # activations one `capture` call may hold (float32: one billion values)

# exact types: a subclass has a forward of its own, whose weight use the matrix view may not describe
_LAYER_TYPES = (nn.Linear, nn.Conv1d, nn.Conv2d)


# --- calibration inputs -----------------------------------------------------------------------------


def calibration_inputs(data, n: int = 1024, *, split: str = "train", seed: int = 0):
    """`n` inputs drawn without replacement from `split` of `data`, the same ones for the same seed.

    data: a task name or Task, arrays ``(inputs, targets)`` or a dict of such splits (as zoo.train
    takes them), or a tensor / array of inputs alone. Labels are never returned: the result is the
    model's input tensor (or a tuple of them for a task whose model takes several inputs).
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ConfigError(f"calibration samples n={n!r}: expected a positive integer")
    if n > MAX_CALIBRATION_SAMPLES:
        raise ConfigError(f"calibration samples n={n}: at most {MAX_CALIBRATION_SAMPLES} (a calibration set is a "
                          f"few hundred to a few thousand inputs)")
    if isinstance(data, (torch.Tensor,)) or type(data).__module__ == "numpy":
        pool, task = torch.as_tensor(data), None
        where = "the given inputs"
    else:
        from .data import as_task

        task = as_task(data)
        splits = task.splits()
        if split not in splits:
            raise ConfigError(f"task {task.name!r} has no split {split!r} (splits: {', '.join(splits)})."
                              + did_you_mean(split, list(splits)))
        pool = splits[split]
        where = f"split {split!r} of task {task.name!r}"
    size = len(pool)
    if n > size:
        raise ZooError(f"calibration needs {n} samples but {where} holds {size}; ask for n <= {size}")
    order = torch.randperm(size, generator=torch.Generator().manual_seed(seed))[:n]
    if task is None:
        return pool[order]
    if getattr(pool, "batched_indexing", False):
        batch = pool[order]
    else:
        from torch.utils.data import default_collate

        batch = default_collate([pool[int(i)] for i in order])
    inputs = tuple(task.inputs(batch))
    return inputs[0] if len(inputs) == 1 else inputs


# --- layers and what they see --------------------------------------------------------------------------


def _matrix_form(module: nn.Module) -> bool:
    """Whether the layer's output is weight_matrix @ layer_input_matrix (+ bias): dense or plain
    (ungrouped, zero-padded, numerically padded) convolutions."""
    if type(module) is nn.Linear:
        return True
    if type(module) in (nn.Conv1d, nn.Conv2d):
        return module.groups == 1 and module.padding_mode == "zeros" and not isinstance(module.padding, str)
    return False


def compressible_layers(model: nn.Module, *, skip=()) -> dict[str, nn.Module]:
    """{name: layer} of the layers a post-training method compresses, in registration order: modules
    of exactly nn.Linear, or nn.Conv1d/2d without groups and with zero padding given as numbers,
    outside nn.MultiheadAttention (which reads its projections' weights without calling them), and
    whose name matches none of the fnmatch patterns in `skip`."""
    found, inside_attention = {}, set()
    for name, module in model.named_modules():
        if isinstance(module, nn.MultiheadAttention):
            inside_attention.update(id(m) for m in module.modules())
            continue
        if id(module) in inside_attention or not _matrix_form(module):
            continue
        if any(fnmatch.fnmatchcase(name, pattern) for pattern in skip):
            continue
        found[name] = module
    return found


@dataclass
class Captured:
    """What one layer saw on the calibration inputs: its input (the first positional argument) and,
    when asked, its output, concatenated over the batches along the first axis, on the model's device."""

    inputs: torch.Tensor
    outputs: torch.Tensor | None = None


def _device_of(model: nn.Module) -> torch.device:
    tensor = next(iter(model.parameters()), None)
    if tensor is None:
        tensor = next(iter(model.buffers()), None)
    return tensor.device if tensor is not None else torch.device("cpu")


def _rows(inputs) -> int:
    return len(inputs[0] if isinstance(inputs, (tuple, list)) else inputs)


def _slice(inputs, start: int, stop: int, device):
    if isinstance(inputs, (tuple, list)):
        return tuple(t[start:stop].to(device) for t in inputs)
    return (inputs[start:stop].to(device),)


@torch.no_grad()
def capture(model: nn.Module, layers, inputs, *, outputs: bool = False, batch_size: int = 256,
            max_bytes: int = MAX_CAPTURE_BYTES) -> dict[str, Captured]:
    """Run `model` (in eval mode, without gradients) on `inputs` in batches of `batch_size` on the
    model's device and return, for each of `layers` ({name: module}, or module names), its input
    (and with outputs=True its output). The model's train/eval mode is restored afterwards.
    A layer called several times per forward pass contributes every call, in call order."""
    modules = dict(model.named_modules())
    if not isinstance(layers, dict):
        unknown = [name for name in layers if name not in modules]
        if unknown:
            raise ConfigError(f"capture: the model has no layer {unknown[0]!r}."
                              + did_you_mean(unknown[0], [n for n in modules if n]))
        layers = {name: modules[name] for name in layers}
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ConfigError(f"capture: batch_size={batch_size!r}, expected a positive integer")
    device = _device_of(model)
    seen: dict[str, list] = {name: [] for name in layers}
    held = [0]

    def keep(name):
        def hook(module, args, output):
            pieces = (args[0].detach(),) + ((output.detach(),) if outputs else ())
            held[0] += sum(p.numel() * p.element_size() for p in pieces)
            if held[0] > max_bytes:
                raise ResourceError(f"capture: the activations of layers {list(layers)[:4]} on {_rows(inputs)} "
                                    f"calibration inputs pass {max_bytes / 2**30:.1f} GiB; use fewer samples or "
                                    f"capture fewer layers at a time")
            seen[name].append(pieces)
        return hook

    handles = [module.register_forward_hook(keep(name)) for name, module in layers.items()]
    was_training = model.training
    model.eval()
    try:
        total = _rows(inputs)
        for start in range(0, total, batch_size):
            model(*_slice(inputs, start, start + batch_size, device))
    finally:
        for handle in handles:
            handle.remove()
        model.train(was_training)
    result = {}
    for name, pieces in seen.items():
        if not pieces:
            raise ZooError(f"capture: layer {name!r} was not called in the model's forward pass")
        result[name] = Captured(torch.cat([p[0] for p in pieces]),
                                torch.cat([p[1] for p in pieces]) if outputs else None)
    return result


def weight_matrix(layer: nn.Module) -> torch.Tensor:
    """The layer's weight as (output channels, inputs of one receptive field): a view of the weight,
    whose columns are ordered as `layer_input_matrix` orders its rows' entries."""
    return layer.weight.reshape(layer.weight.shape[0], -1)


def layer_input_matrix(layer: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The layer's input as rows of receptive fields, (samples x positions, inputs of one field), so
    that ``layer_input_matrix(layer, x) @ weight_matrix(layer).T`` is the layer's output without the
    bias (for a convolution, with the output positions flattened). Linear: every leading axis is a
    row; Conv1d/2d: the unfolded patches (torch's unfold, the layer's stride, padding and dilation)."""
    if type(layer) is nn.Linear:
        return x.reshape(-1, layer.in_features)
    if not _matrix_form(layer):
        raise ZooError(f"layer_input_matrix: {type(layer).__name__} is not a dense or plain convolutional layer")
    if type(layer) is nn.Conv1d:  # a 1-d convolution is a 2-d one of height 1
        patches = F.unfold(x.unsqueeze(2), (1, layer.kernel_size[0]), dilation=(1, layer.dilation[0]),
                           padding=(0, layer.padding[0]), stride=(1, layer.stride[0]))
    else:
        patches = F.unfold(x, layer.kernel_size, dilation=layer.dilation, padding=layer.padding,
                           stride=layer.stride)
    return patches.transpose(1, 2).reshape(-1, patches.shape[1])


# --- the uniform grid -----------------------------------------------------------------------------------


@dataclass
class Grid:
    """A uniform asymmetric grid per row of a weight matrix: the values scale * (q - zero) for the
    integers q in [0, maxq] (maxq = 2^bits - 1). scale and zero have shape (rows, 1) (one row repeated
    for a per-tensor grid); zero is an integer held as a float."""

    scale: torch.Tensor
    zero: torch.Tensor
    maxq: int

    def integers(self, w: torch.Tensor) -> torch.Tensor:
        """The nearest grid integers of `w` (rows as the grid's), clipped to [0, maxq]."""
        return torch.clamp(torch.round(w / self.scale) + self.zero, 0, self.maxq)

    def value(self, q: torch.Tensor) -> torch.Tensor:
        """The weights that grid integers `q` stand for."""
        return self.scale * (q - self.zero)

    def round(self, w: torch.Tensor) -> torch.Tensor:
        """Round-to-nearest onto the grid (values past its ends take the end values)."""
        return self.value(self.integers(w))

    def contains(self, w: torch.Tensor) -> bool:
        """Whether every entry of `w` is a grid value (up to float rounding of scale * (q - zero))."""
        return bool(torch.allclose(self.round(w), w, rtol=0, atol=1e-6 * float(self.scale.max())))


def _grid_for_range(low: torch.Tensor, high: torch.Tensor, maxq: int, symmetric: bool) -> Grid:
    if symmetric:
        high = torch.maximum(low.abs(), high.abs())
        low = -high
    scale = (high - low) / maxq
    scale = torch.where(scale > 0, scale, torch.ones_like(scale))  # an all-zero row: any scale is exact
    zero = torch.full_like(scale, (maxq + 1) / 2) if symmetric else torch.round(-low / scale)
    return Grid(scale, zero, maxq)


@torch.no_grad()
def fit_grid(w: torch.Tensor, bits: int, *, per_channel: bool = True, symmetric: bool = False,
             search: bool = True, steps: int = 100, max_shrink: float = 0.8) -> Grid:
    """The grid for a weight matrix `w` (rows: output channels) at `bits` bits. Its range is the
    rows' (per_channel) or the whole matrix's [min, max] including 0; with `search`, the range is
    shrunk by each of `steps` factors in [1 - max_shrink, 1] and the factor with the least squared
    rounding error of the row (of the matrix, per tensor) is kept, the usual MSE-fitted grid."""
    if isinstance(bits, bool) or not isinstance(bits, int) or not 1 <= bits <= 16:
        raise ConfigError(f"bits={bits!r}: expected an integer from 1 to 16")
    w = w.detach().float()
    maxq = 2**bits - 1
    if per_channel:
        low, high = w.min(dim=1, keepdim=True).values, w.max(dim=1, keepdim=True).values
    else:
        low, high = w.min().expand(w.shape[0], 1), w.max().expand(w.shape[0], 1)
    low, high = low.clamp(max=0), high.clamp(min=0)
    best = _grid_for_range(low, high, maxq, symmetric)
    if not search:
        return best
    best_error = torch.full_like(low, float("inf"))
    for shrink in torch.linspace(1, 1 - max_shrink, steps).tolist():
        grid = _grid_for_range(low * shrink, high * shrink, maxq, symmetric)
        error = (grid.round(w) - w).pow(2).sum(dim=1, keepdim=True)
        if not per_channel:
            error = error.sum().expand_as(error)
        better = error < best_error
        best_error = torch.where(better, error, best_error)
        best.scale = torch.where(better, grid.scale, best.scale)
        best.zero = torch.where(better, grid.zero, best.zero)
    return best


@torch.no_grad()
def round_to_nearest(model: nn.Module, bits: int) -> nn.Module:
    """The rounding methods' baseline, in place: every compressible layer's weight rounded to the
    nearest value of its own `fit_grid` at `bits` bits (the grid the methods themselves start from).
    Returns `model`."""
    for layer in compressible_layers(model).values():
        w = weight_matrix(layer)
        layer.weight.copy_(fit_grid(w, bits).round(w).reshape(layer.weight.shape))
    return model


def attach_grid(layer: nn.Module, grid: Grid | None = None, bits: int | None = None) -> None:
    """Keep a layer's grid in its buffers weight_scale, weight_zero (rows, 1) and weight_maxq, saved
    with the model's weights. grid None: placeholders of the right shapes (for a model being rebuilt
    before its saved weights are loaded into it); bits then gives maxq."""
    rows = layer.weight.shape[0]
    device = layer.weight.device
    if grid is None:
        maxq = 2**bits - 1 if bits is not None else 0
        grid = Grid(torch.ones(rows, 1, device=device), torch.zeros(rows, 1, device=device), maxq)
    values = {"weight_scale": grid.scale.to(device, torch.float32).reshape(rows, 1),
              "weight_zero": grid.zero.to(device, torch.float32).reshape(rows, 1),
              "weight_maxq": torch.tensor(float(grid.maxq), device=device)}
    for key, value in values.items():
        if key in layer._buffers:
            layer._buffers[key].copy_(value)
        else:
            layer.register_buffer(key, value.clone())


def grid_of(layer: nn.Module) -> Grid | None:
    """The grid a layer carries (see attach_grid), or None."""
    if "weight_scale" not in layer._buffers:
        return None
    return Grid(layer.weight_scale, layer.weight_zero, int(layer.weight_maxq.item()))
