"""`zoo kan plot` and `zoo kan formula`: look inside a trained KAN from the command line.

    zoo kan plot runs/my-kan --out kan.png --task toy/exp-sin
    zoo kan formula runs/my-kan --task toy/exp-sin --r2 0.99

SOURCE is a folder written by zoo.save (or 'hf-hub:org/name@rev'), or a catalog name
('kan', 'kan.<tag>' for pretrained weights). Activations are sampled on the task's training inputs,
or uniformly on the first layer's grid range without --task.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

from zoo.errors import ConfigError, ResourceError
from zoo.sources import load_model_source
from zoo.training.cli import check_output_path, shown

__all__ = ["register"]

MAX_SAMPLES = 100_000  # enough for any plot or fit; more only costs memory and time


def _check_options(args) -> None:
    """Refuse bad --samples, --r2, --lib and --out values before any model is loaded."""
    if not 1 <= args.samples <= MAX_SAMPLES:
        raise ConfigError(f"--samples expects a number of input samples from 1 to {MAX_SAMPLES}, got {args.samples}")
    r2 = getattr(args, "r2", None)
    if r2 is not None and not (math.isfinite(r2) and 0.0 <= r2 <= 1.0):
        raise ConfigError(f"--r2 expects an R^2 threshold from 0 to 1, got {r2}")
    if getattr(args, "lib", None) is not None:
        from .symbolic import LIBRARY

        names = [n.strip() for n in args.lib.split(",") if n.strip()]
        unknown = [n for n in names if n not in LIBRARY]
        if unknown or not names:
            problem = (f"unknown symbolic function(s) {unknown}" if unknown
                       else f"no function named in {shown(args.lib)}")
            raise ConfigError(f"--lib: {problem}; expected comma-separated names among {', '.join(LIBRARY)}")
        args.lib = ",".join(names)
    if getattr(args, "out", None) is not None:
        from matplotlib.backend_bases import FigureCanvasBase

        check_output_path(args.out, "--out", directory=False)
        formats = FigureCanvasBase.get_supported_filetypes()
        suffix = Path(args.out).suffix.lower().lstrip(".")
        if suffix not in formats:
            raise ConfigError(f"--out {shown(args.out)}: the file name must end in an image format matplotlib "
                              f"writes ({', '.join('.' + f for f in sorted(formats))}), e.g. kan.png")


def _kan(source: str):
    from .model import KAN

    model = load_model_source(source, untrained=True, plugin="kan")
    if not isinstance(model, KAN):
        raise ConfigError(f"{shown(source)} holds a {type(model).__name__}, not a KAN; `zoo kan` works on models "
                          f"of the 'kan' plugin")
    return model.eval()


def _task(name: str | None):
    import zoo

    return zoo.get_task(name) if name else None


def _samples(model, task, n: int):
    """n input samples: the task's first training inputs, or uniform on the first layer's grid range."""
    import torch

    width = model.config.width
    if task is not None:
        from zoo.training import TaskMismatchError

        if task.info.input_dim != width[0]:
            raise TaskMismatchError(f"the KAN takes {width[0]} input(s), task {task.name!r} gives inputs of shape "
                                    f"{task.info.input_shape}; give the task it was trained on, or no --task")
        data = task.splits()["train"]
        x = torch.stack([data[i][0] for i in range(min(n, len(data)))])
        return x.reshape(x.shape[0], -1).to(model.layers[0].coef.dtype)
    grid = model.layers[0].grid
    k = model.layers[0].k
    low, high = grid[:, k], grid[:, -k - 1]
    generator = torch.Generator().manual_seed(0)
    u = torch.rand(n, grid.shape[0], generator=generator, dtype=grid.dtype)
    return low + (high - low) * u


def cmd_plot(args) -> int:
    from .plot import MAX_EDGES, plot_activations

    _check_options(args)
    task = _task(args.task)
    model = _kan(args.source)
    width = list(model.config.width)
    edges = sum(a * b for a, b in zip(width[:-1], width[1:]))
    if edges > MAX_EDGES:
        raise ResourceError(f"KAN {args.source!r} (width {width}) has {edges} edges; plots are limited to "
                            f"{MAX_EDGES}. Prune it first (KAN.prune) or plot a smaller model")
    samples = _samples(model, task, args.samples)
    try:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        plot_activations(model, samples, args.out, title=args.title)
    except OSError as exc:
        raise ConfigError(f"--out {shown(args.out)} cannot be written: {exc.strerror or exc}") from None
    if args.json:
        print(json.dumps({"out": str(args.out), "width": width, "edges": edges, "samples": int(samples.shape[0])}))
    else:
        print(f"wrote {args.out}")
    return 0


def cmd_formula(args) -> int:
    from .symbolic import auto_symbolic

    _check_options(args)
    task = _task(args.task)
    model = _kan(args.source)
    lib = args.lib.split(",") if args.lib else None
    from tqdm.auto import tqdm

    active = int(sum((layer.mask != 0).sum() for layer in model.layers))
    # fitting every edge against the library takes seconds to minutes: show it moving on a terminal
    with tqdm(total=active, desc="fitting edges", unit="edge", leave=False, disable=not sys.stderr.isatty()) as bar:
        snapped = auto_symbolic(model, _samples(model, task, args.samples), lib=lib, r2_threshold=args.r2,
                                on_edges=bar.update)
    formulas, numeric = snapped.formula()
    if args.json:
        edges = [{"layer": key[0], "input": key[1], "output": key[2],
                  **({"kept": what} if isinstance(what, str) else {"function": what.name, "r2": what.r2})}
                 for key, what in snapped.report.items()]
        print(json.dumps({"formulas": [str(f) for f in formulas], "edges": edges,
                          "spline_edges": len(numeric)}, indent=2))
        return 0
    for i, f in enumerate(formulas):
        print(f"y_{i + 1} = {f}")
    for key, what in snapped.report.items():
        text = what if isinstance(what, str) else f"{what.name}, R^2 = {what.r2:.5f}"
        print(f"  edge layer {key[0]} {key[1]} -> {key[2]}: {text}")
    if numeric:
        print(f"{len(numeric)} edge(s) kept their splines (phi_l_i_j in the formula)")
    return 0


def register(sub) -> None:
    kan = sub.add_parser("kan", help="KAN tools: plot learned activations, extract a symbolic formula")
    commands = kan.add_subparsers(dest="kan_command", metavar="KAN_COMMAND", required=True,
                                  help="what to show of a trained KAN")
    for name, func, text in (("plot", cmd_plot, "draw every edge's learned activation (PNG)"),
                             ("formula", cmd_formula, "snap activations to symbolic functions, print the formula")):
        p = commands.add_parser(name, help=text)
        p.add_argument("source", help="folder written by zoo.save, hf-hub:org/name@rev, or a catalog name")
        p.add_argument("--task", help="sample activations on this task's training inputs (e.g. toy/exp-sin)")
        p.add_argument("--samples", type=int, default=1000,
                       help=f"number of input samples, 1 to {MAX_SAMPLES} (default 1000)")
        p.add_argument("--json", action="store_true", help="print the result as JSON")
        p.set_defaults(func=func)
        if name == "plot":
            p.add_argument("--out", required=True, help="image file to write (PNG, or another format by its suffix)")
            p.add_argument("--title", help="a title over the figure (default: none)")
        else:
            p.add_argument("--r2", type=float, default=0.9,
                           help="snap an edge when its best fit reaches this R^2 (0 to 1)")
            p.add_argument("--lib", help="comma-separated library functions (default: all)")
