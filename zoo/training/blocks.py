"""Cut a model into a chain of blocks for a layer-local learning rule: no gradient between blocks.

A learning rule without end-to-end backprop (DFA, Mono-Forward) gives each hidden block a signal of
its own instead of the gradient from the layers above. `Cuts` does this on the model's own forward:
a forward hook on each block's last module records the block's output h_l (still attached to the
block's parameters) and passes a detached copy on, so the layers above neither send gradient back
nor need to be re-run. What follows the last cut (the output layer, or a head with pooling) is the
output part, trained by the loss's own gradient.

Where the cuts go:
- an `nn.Sequential` is split at each layer that holds parameters: a block is one such layer with
  the parameter-free layers after it (activation, pooling, dropout, flatten); layers in front of the
  first one join the first block. E.g. Flatten, Linear, ReLU, Linear, ReLU, Linear gives the hidden
  blocks [Flatten, Linear, ReLU], [Linear, ReLU] and the output part [Linear].
- `names`: dotted names of the modules that end the hidden blocks, in forward order (e.g. ["stem",
  "blocks.0", "blocks.1"] of an MLP-Mixer: its norm, pooling and head are then the output part).
  Block l is everything between cut l-1 and cut l, so layers in front of the first named module
  belong to the first block.

Shared by the layer-local learning rules (dfa, mono-forward, ...).
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn

__all__ = ["sequential_blocks", "cut_modules", "Cuts", "CutError", "chain_problem", "probe_batch", "block_sizes"]


class CutError(TypeError):
    """A block cannot be cut: it returns no single tensor, or runs out of order (said as a need)."""


def _has_parameters(module: nn.Module) -> bool:
    return next(module.parameters(), None) is not None


def sequential_blocks(model: nn.Sequential) -> list[list[nn.Module]]:
    """The blocks of an nn.Sequential: each layer with parameters and the parameter-free layers after it."""
    groups: list[list[nn.Module]] = []
    leading: list[nn.Module] = []
    for layer in model:
        if _has_parameters(layer):
            groups.append([*leading, layer])
            leading = []
        elif groups:
            groups[-1].append(layer)
        else:
            leading.append(layer)
    return groups


def cut_modules(model: nn.Module, names: list[str] | None) -> list[nn.Module] | str:
    """The modules whose outputs are the hidden blocks' outputs, in order, or (a string) what the
    model lacks to give them."""
    if names:
        found = []
        for name in names:
            try:
                found.append(model.get_submodule(name))
            except AttributeError:
                children = [n for n, _ in model.named_children()]
                return (f"blocks= naming submodules of the model; it has no submodule {name!r} (its children: "
                        f"{children})")
        return found
    if not isinstance(model, nn.Sequential):
        return (f"a chain of blocks: an nn.Sequential, or blocks=[names of its hidden blocks' submodules] (model "
                f"{type(model).__name__} is not an nn.Sequential)")
    groups = sequential_blocks(model)
    if len(groups) < 2:
        return f"a chain of at least two layers with parameters (the nn.Sequential has {len(groups)})"
    return [group[-1] for group in groups[:-1]]


class Cuts:
    """While active, each cut module's output is recorded in `outputs` and passed on detached.
    `on_output(index, h)`, if given, is called with each hidden block's (attached) output as it is
    made, inside the forward (Mono-Forward trains a layer there and frees its graph)."""

    def __init__(self, modules: list[nn.Module], on_output: Callable[[int, torch.Tensor], None] | None = None):
        self.modules, self.on_output = modules, on_output
        self.outputs: list[torch.Tensor] = []
        self._handles: list = []

    def _hook(self, index: int):
        def hook(module, inputs, output):
            if not isinstance(output, torch.Tensor):
                raise CutError(f"blocks that each return one tensor (block {index}, {type(module).__name__}, "
                               f"returned {type(output).__name__})")
            if len(self.outputs) != index:
                raise CutError(f"blocks that run once each, in the order given (block {index}, "
                               f"{type(module).__name__}, ran out of order or twice in one forward)")
            self.outputs.append(output)
            if self.on_output is not None:
                self.on_output(index, output)
            return output.detach()
        return hook

    def __enter__(self) -> "Cuts":
        self.outputs = []
        self._handles = [m.register_forward_hook(self._hook(i)) for i, m in enumerate(self.modules)]
        return self

    def __exit__(self, *exc) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []


def probe_batch(task, device=None):
    """Two training samples of `task` (its first ones, no shuffling and no global RNG draw)."""
    from accelerate.utils import send_to_device

    from zoo.training.data import make_loader

    loader, _ = make_loader(task.splits()["train"], 2, shuffle=False, seed=0)
    batch = next(iter(loader))
    return send_to_device(batch, device) if device is not None else batch


def block_sizes(model: nn.Module, modules: list[nn.Module], task, device) -> tuple[list[int], int]:
    """(numel per sample of each hidden block's output, numel per sample of the model's output),
    from a forward in eval mode on two training samples (no gradient, no random draw)."""
    inputs = task.inputs(probe_batch(task, device))
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), Cuts(modules) as cuts:
            output = model(*inputs)
    finally:
        model.train(was_training)
    return [h[0].numel() for h in cuts.outputs], output[0].numel()


def chain_problem(model: nn.Module, task, names: list[str] | None) -> str | None:
    """What keeps `model` from being trained block by block on `task`, or None: no chain, a block
    that returns no tensor or runs out of order, or trainable parameters that neither a block's output
    nor the model's output depends on. Checked on two training samples, in eval mode."""
    modules = cut_modules(model, names)
    if isinstance(modules, str):
        return modules
    try:
        inputs = task.inputs(probe_batch(task, next(model.parameters()).device))
    except Exception:  # noqa: BLE001 - a task without a train split to probe: the loop's own checks speak
        return None
    params = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    was_training = model.training
    model.eval()
    try:
        with torch.enable_grad(), Cuts(modules) as cuts:
            output = model(*inputs)
        if len(cuts.outputs) != len(modules):
            return f"blocks that each run once in the forward (only {len(cuts.outputs)} of {len(modules)} ran)"
        reached = sum(t.float().sum() for t in [output, *cuts.outputs] if t.requires_grad)
        grads = torch.autograd.grad(reached, [p for _, p in params], allow_unused=True) if params else []
    except CutError as exc:
        return str(exc)
    except Exception:  # noqa: BLE001 - a model that does not fit the task: the loop's own fit check says so
        return None
    finally:
        model.train(was_training)
    unreached = [n for (n, _), g in zip(params, grads) if g is None]
    if unreached:
        return (f"every trainable parameter to shape a block's output or the model's output; no signal reaches "
                f"{unreached[:4]}{' ...' if len(unreached) > 4 else ''}")
    return None
