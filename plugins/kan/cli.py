"""`zoo kan plot` and `zoo kan formula`: look inside a trained KAN from the command line.

    zoo kan plot runs/my-kan --out kan.png --task toy/exp-sin
    zoo kan formula runs/my-kan --task toy/exp-sin --r2 0.99

SOURCE is a folder written by zoo.save (or 'hf-hub:org/name@rev'), or a catalog name
('kan', 'kan.<tag>' for pretrained weights). Activations are sampled on the task's training inputs,
or uniformly on the first layer's grid range without --task.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["register"]


def _load(source: str):
    import zoo

    if Path(source).exists() or source.startswith("hf-hub:"):
        return zoo.load(source)
    name, _, tag = source.partition(".")
    return zoo.create(source, pretrained=bool(tag)) if tag else zoo.create(name)


def _samples(model, task: str | None, n: int):
    import torch

    if task:
        import zoo

        data = zoo.get_task(task).splits()["train"]
        x = torch.stack([data[i][0] for i in range(min(n, len(data)))])
        return x.reshape(x.shape[0], -1).to(model.layers[0].coef.dtype)
    grid = model.layers[0].grid
    k = model.layers[0].k
    low, high = grid[:, k], grid[:, -k - 1]
    generator = torch.Generator().manual_seed(0)
    u = torch.rand(n, grid.shape[0], generator=generator, dtype=grid.dtype)
    return low + (high - low) * u


def _kan(model):
    from .model import KAN

    if not isinstance(model, KAN):
        raise TypeError(f"{type(model).__name__} is not a KAN; `zoo kan` works on models of the 'kan' plugin")
    return model


def _reported(func):
    """Bad input (wrong model, samples, thresholds) is an error message and exit code 2."""
    def run(args) -> int:
        try:
            return func(args)
        except (ValueError, TypeError) as exc:
            import sys

            sys.stderr.write(f"error: {exc}\n")
            return 2
    return run


@_reported
def cmd_plot(args) -> int:
    from .plot import plot_activations

    model = _kan(_load(args.source)).eval()
    plot_activations(model, _samples(model, args.task, args.samples), args.out, title=args.title)
    print(f"wrote {args.out}")
    return 0


@_reported
def cmd_formula(args) -> int:
    from .symbolic import auto_symbolic

    model = _kan(_load(args.source)).eval()
    lib = args.lib.split(",") if args.lib else None
    snapped = auto_symbolic(model, _samples(model, args.task, args.samples), lib=lib, r2_threshold=args.r2)
    formulas, numeric = snapped.formula()
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
    commands = kan.add_subparsers(dest="kan_command", metavar="KAN_COMMAND", required=True)
    for name, func, text in (("plot", cmd_plot, "draw every edge's learned activation (PNG)"),
                             ("formula", cmd_formula, "snap activations to symbolic functions, print the formula")):
        p = commands.add_parser(name, help=text)
        p.add_argument("source", help="folder written by zoo.save, hf-hub:org/name@rev, or a catalog name")
        p.add_argument("--task", help="sample activations on this task's training inputs (e.g. toy/exp-sin)")
        p.add_argument("--samples", type=int, default=1000, help="number of input samples (default 1000)")
        p.set_defaults(func=func)
        if name == "plot":
            p.add_argument("--out", required=True, help="PNG file to write")
            p.add_argument("--title")
        else:
            p.add_argument("--r2", type=float, default=0.9, help="snap an edge when its best fit reaches this R^2")
            p.add_argument("--lib", help="comma-separated library functions (default: all)")
