"""`zoo train NAME --task TASK` and `zoo eval PATH_OR_NAME --task TASK`.

    zoo train kan --task toy/exp-sin --epochs 20 --out runs/kan
    zoo eval runs/kan --task toy/exp-sin

`zoo train` creates the model sized for the task (config overrides with --set key=value), trains
it, prints the final metrics and writes checkpoints, metrics.json, curves.png and the model (a zoo
repo that `zoo eval` and `zoo.load` read) into --out (default ./runs/<name>-<task>).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

__all__ = ["register"]

EXIT_OK, EXIT_PROBLEMS = 0, 1


def _key_values(items: list[str] | None, what: str) -> dict:
    """['width=[2,5,1]', 'grid=7', 'name=x'] -> values parsed as JSON where they are JSON."""
    out = {}
    for item in items or []:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise argparse.ArgumentTypeError(f"{what} must look like key=value, got {item!r}")
        try:
            out[key] = json.loads(raw)
        except json.JSONDecodeError:
            out[key] = raw
    return out


def _default_out(name: str, task: str) -> Path:
    return Path("runs") / f"{name}-{task}".replace("/", "-")


def _print_metrics(title: str, metrics: dict, extra: list[str] = ()) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    table = Table(title=title, title_justify="left")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, value in metrics.items():
        table.add_row(Text(key), Text(f"{value:.6g}" if isinstance(value, float) else str(value)))
    console = Console(highlight=False, soft_wrap=not sys.stdout.isatty())
    console.print(table)
    for line in extra:
        console.print(Text(line))


def cmd_train(args) -> int:
    import zoo
    from zoo.training import NonFiniteLossError, train

    config = _key_values(args.set, "--set")
    task_options = _key_values(args.task_option, "--task-option")
    task = zoo.get_task(args.task, **task_options)
    from accelerate.utils import set_seed

    set_seed(args.seed or 0)  # the model's initialisation follows --seed, like the data order
    model = zoo.create(args.name, pretrained=args.pretrained, variant=args.variant, task=task, **config)
    out = Path(args.out) if args.out else _default_out(args.name, args.task)
    options = {k: v for k, v in {
        "epochs": args.epochs, "max_steps": args.max_steps, "batch_size": args.batch_size, "lr": args.lr,
        "optimizer": args.optimizer, "weight_decay": args.weight_decay, "schedule": args.schedule,
        "warmup_steps": args.warmup_steps, "grad_accumulation": args.grad_accumulation,
        "clip_grad_norm": args.clip_grad_norm, "device": args.device, "precision": args.precision,
        "compile": args.compile, "seed": args.seed, "patience": args.patience, "monitor": args.monitor,
        "checkpoint_every": args.checkpoint_every, "progress": args.progress, "eval_every": args.eval_every,
        "final_splits": args.final_splits,
    }.items() if v is not None}
    try:
        result = train(model, task, out_dir=out, resume=args.resume, overwrite=args.overwrite, **options)
    except NonFiniteLossError as exc:
        from rich.console import Console
        from rich.markup import escape

        Console(stderr=True).print(f"[red]training stopped:[/red] {escape(str(exc))}")
        return EXIT_PROBLEMS
    if args.json:
        sys.stdout.write(json.dumps({"final": result.final, "epochs": result.epochs, "steps": result.steps,
                                     "stopped": result.stopped, "out_dir": str(out),
                                     "seconds": result.seconds}, indent=2) + "\n")
        return EXIT_OK
    _print_metrics(
        f"{args.name} on {args.task}: {result.epochs} epoch(s), {result.steps} step(s), {result.stopped}, "
        f"{result.seconds:.1f} s", result.final,
        [f"run directory: {out}  (model.safetensors, config.json, README.md, metrics.json, curves.png, checkpoints/)",
         *(f"warning: {e}" for e in result.callback_errors)])
    return EXIT_OK


def cmd_eval(args) -> int:
    import zoo
    from zoo.errors import UnknownNameError
    from zoo.training import evaluate

    source = Path(args.model)
    if source.exists() or args.model.startswith("hf-hub:"):
        model = zoo.load(args.model)
    else:
        try:
            entry = zoo.info(args.model)
        except UnknownNameError as exc:
            raise UnknownNameError(f"{exc} ({args.model!r} is not a directory either)") from None
        if not entry.weights:
            raise UnknownNameError(f"model {args.model!r} has no pretrained weights to evaluate; give a run "
                                   f"directory written by 'zoo train' or a saved model directory")
        model = zoo.create(args.model, pretrained=True)
    options = {k: v for k, v in {"batch_size": args.batch_size, "device": args.device,
                                 "precision": args.precision}.items() if v is not None}
    metrics = evaluate(model, args.task, split=args.split, task_options=_key_values(args.task_option, "--task-option"),
                       **options)
    if args.json:
        sys.stdout.write(json.dumps(metrics, indent=2) + "\n")
    else:
        _print_metrics(f"{args.model} on {args.task} ({args.split})", metrics)
    return EXIT_OK


def _optional_bool(text: str) -> bool:
    return {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}[text.lower()]


def register(sub) -> None:
    p = sub.add_parser("train", help="train a model on a task (checkpoints, metrics.json, curves.png)",
                       description="Train a catalog model on a task and write the run into --out.")
    p.add_argument("name", help="catalog model name, e.g. kan")
    p.add_argument("--task", required=True, help="task name (see 'zoo tasks')")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="model config value (JSON), repeatable")
    p.add_argument("--task-option", action="append", metavar="KEY=VALUE", help="task option, e.g. seed=1")
    p.add_argument("--variant", help="named config preset of the model")
    p.add_argument("--pretrained", action="store_true", help="start from the catalog weights")
    p.add_argument("--out", help="run directory (default: runs/<name>-<task>)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its newest checkpoint")
    p.add_argument("--overwrite", action="store_true", help="start afresh even if --out holds a run's checkpoints")
    p.add_argument("--epochs", type=int)
    p.add_argument("--max-steps", type=int)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--lr", type=float)
    p.add_argument("--optimizer", choices=["adamw", "adam", "sgd", "lbfgs"])
    p.add_argument("--weight-decay", type=float)
    p.add_argument("--schedule", choices=["constant", "cosine", "linear"])
    p.add_argument("--warmup-steps", type=int)
    p.add_argument("--grad-accumulation", type=int)
    p.add_argument("--clip-grad-norm", type=float)
    p.add_argument("--device", help="auto, cpu, cuda, mps, xpu")
    p.add_argument("--precision", choices=["fp32", "bf16", "fp16", "auto"])
    p.add_argument("--compile", nargs="?", const=True, metavar="BACKEND", help="torch.compile (optional backend)")
    p.add_argument("--seed", type=int)
    p.add_argument("--patience", type=int, help="early stopping after this many epochs without improvement")
    p.add_argument("--monitor", help="metric watched by early stopping, e.g. val_accuracy")
    p.add_argument("--eval-every", type=int)
    p.add_argument("--final-splits", type=lambda text: [s for s in text.split(",") if s], metavar="SPLITS",
                   help="comma-separated splits evaluated after training (default: all; '' for none)")
    p.add_argument("--checkpoint-every", type=int, help="also checkpoint every N optimizer steps")
    p.add_argument("--progress", type=_optional_bool, metavar="BOOL", help="progress bars (default: on a terminal)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("eval", help="evaluate a trained model (run directory, saved model or catalog weights)",
                       description="Evaluate a model on one split of a task and print its metrics.")
    p.add_argument("model", metavar="PATH_OR_NAME", help="a run/model directory, hf-hub:org/name, or name.tag")
    p.add_argument("--task", required=True)
    p.add_argument("--split", default="test", choices=["train", "val", "test"])
    p.add_argument("--task-option", action="append", metavar="KEY=VALUE")
    p.add_argument("--batch-size", type=int)
    p.add_argument("--device")
    p.add_argument("--precision", choices=["fp32", "bf16", "fp16", "auto"])
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_eval)
