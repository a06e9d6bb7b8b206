"""`zoo train NAME --task TASK` and `zoo eval PATH_OR_NAME [--task TASK]`.

    zoo train kan --task toy/exp-sin --epochs 20 --out runs/kan
    zoo eval runs/kan            # on the task the run recorded; --task picks another

`zoo train` creates the model sized for the task (config overrides with --set key=value), trains
it, prints the final metrics and writes checkpoints, metrics.json, curves.png and the model (a zoo
repo that `zoo eval` and `zoo.load` read) into --out (default ./runs/<name>-<task>); --log-with
tensorboard,mlflow also sends the metrics to those trackers (their logs go into --out too).
"""

from __future__ import annotations

import argparse
import inspect
import json
import sys
from pathlib import Path

from ..cli import UsageError, _console, say
from ..errors import ConfigError, UnknownNameError
from ..sources import load_model_source, names_a_path
from .run_file import read_run_file

__all__ = ["register", "key_values", "check_output_path"]

EXIT_OK, EXIT_PROBLEMS = 0, 1
SPLITS = ("train", "val", "test")


def shown(text: str, limit: int = 200) -> str:
    """repr of a user's value, shortened so that a huge one still makes a readable message."""
    return repr(text) if len(text) <= limit else repr(text[:limit]) + f"... ({len(text)} characters)"


def key_values(items: list[str] | None, flag: str) -> dict:
    """['width=[2,5,1]', 'grid=7', 'name=x'] -> {key: value}, values parsed as JSON where they are
    JSON (else kept as text); ConfigError for an item that is not KEY=VALUE or a key given twice."""
    out, given = {}, {}
    for item in items or []:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"{flag} expects KEY=VALUE (e.g. {flag} seed=1), got {shown(item)}")
        if not key.isidentifier():
            raise ConfigError(f"{flag} {shown(item)}: the key {shown(key)} is not a name (letters, digits, _)")
        if key in given:
            raise ConfigError(f"{flag} sets {key!r} twice ({shown(given[key])} and {shown(item)}); give it once")
        given[key] = item
        try:
            out[key] = json.loads(raw)
        except json.JSONDecodeError:
            out[key] = raw  # plain text, e.g. name=x
        except (ValueError, RecursionError) as exc:  # an integer too long to convert, nesting too deep
            reason = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)
            raise ConfigError(f"{flag} {shown(item)}: the value cannot be read ({reason})") from None
    return out


def _parse_splits(text: str | None, flag: str) -> list[str] | None:
    if text is None:
        return None
    names = [s.strip() for s in text.split(",") if s.strip()]
    unknown = [n for n in names if n not in SPLITS]
    if unknown:
        raise ConfigError(f"{flag} expects comma-separated splits among {', '.join(SPLITS)} ('' for none), "
                          f"got {shown(unknown[0])} in {shown(text)}")
    return names


def _check_splits(task, wanted, flag: str) -> None:
    """Refuse splits the task does not have, before any model is built."""
    have = task.splits()
    missing = [s for s in wanted if s not in have]
    if missing:
        raise ConfigError(f"{flag}: task {task.name!r} has no {missing[0]!r} split; it has {', '.join(have)}")


def _exists(path: str) -> bool:
    try:
        return Path(path).exists()
    except (OSError, ValueError):  # a name too long for the file system, a NUL byte: no such file
        return False


def check_output_path(path: str | None, flag: str, *, directory: bool) -> None:
    """ConfigError unless `path` can become the directory (or file) `flag` asks for: an existing
    path of the other kind, or an ancestor that is a file, is refused before any work starts."""
    if path is None:
        return
    if not path or "\0" in path:
        raise ConfigError(f"{flag} expects a {'directory' if directory else 'file'} path, got {shown(path)}")
    try:
        target = Path(path).expanduser()
    except RuntimeError:  # '~someone' for a user this machine does not have
        raise ConfigError(f"{flag} {shown(path)}: there is no user {path[1:].split('/')[0]!r} to expand "
                          f"{path.split('/')[0]!r} for") from None
    try:
        if target.exists() and target.is_dir() != directory:
            kind = "a directory" if target.is_dir() else "a file"
            raise ConfigError(f"{flag} {shown(path)} is {kind}; expected {'a directory' if directory else 'a file'}")
        ancestor = target.parent
        while not ancestor.exists() and ancestor != ancestor.parent:
            ancestor = ancestor.parent
        if not ancestor.is_dir():
            raise ConfigError(f"{flag} {shown(path)}: {str(ancestor)!r} is a file, not a directory")
    except OSError as exc:
        raise ConfigError(f"{flag} {shown(path)} cannot be used: {exc.strerror or exc}") from None


def _default_out(name: str, task: str) -> Path:
    return Path("runs") / f"{name}-{task}".replace("/", "-")


def _print_metrics(title: str, metrics: dict, extra: list[str] = ()) -> None:
    from rich.table import Table
    from rich.text import Text

    table = Table(title=title, title_justify="left")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, value in metrics.items():
        table.add_row(Text(key), Text(f"{value:.6g}" if isinstance(value, float) else str(value)))
    console = _console()
    console.print(table)
    for line in extra:
        console.print(Text(line))


def _train_options(args, base: dict) -> dict:
    """The zoo.train options: a run file's `base`, then what the command line gives over it, validated
    (ConfigError) before any work."""
    from zoo.config import validate_config
    from zoo.training.config import TrainConfig

    if args.resume and args.overwrite:
        raise ConfigError("--resume continues the run in --out and --overwrite deletes its checkpoints; give one")
    options = {**base, **{k: v for k, v in {
        "epochs": args.epochs, "max_steps": args.max_steps, "batch_size": args.batch_size, "lr": args.lr,
        "optimizer": args.optimizer, "weight_decay": args.weight_decay, "schedule": args.schedule,
        "warmup_steps": args.warmup_steps, "grad_accumulation": args.grad_accumulation,
        "clip_grad_norm": args.clip_grad_norm, "device": args.device, "precision": args.precision,
        "compile": args.compile, "seed": args.seed, "patience": args.patience, "monitor": args.monitor,
        "checkpoint_every": args.checkpoint_every, "progress": args.progress,
        "momentum": args.momentum, "keep_checkpoints": args.keep_checkpoints,
        "eval_every": args.eval_every, "final_splits": _parse_splits(args.final_splits, "--final-splits"),
        "log_with": args.log_with, "log_every": args.log_every,
    }.items() if v is not None}}
    validate_config(TrainConfig, options, "zoo train")  # also bounds --seed before set_seed sees it
    if options.get("log_with"):  # an unknown or missing tracker is found before any model is built
        from zoo.training.trackers import check_trackers, tracker_names

        check_trackers(tracker_names(options["log_with"]), args.out or "runs")
    return options


def _method_options(names: list[str] | None, items: list[str] | None) -> dict[str, dict]:
    """{method: {option: value}} from --method-option METHOD.KEY=VALUE items, each naming a --method
    (or a method of the run file)."""
    names = names or []
    grouped: dict[str, list[str]] = {name: [] for name in names}
    for item in items or []:
        method, dot, rest = item.partition(".")
        if not dot or "=" not in rest or "=" in method:
            raise ConfigError(f"--method-option expects METHOD.KEY=VALUE (e.g. --method-option dorefa.weight_bits=2), "
                              f"got {shown(item)}")
        if method not in grouped:
            raise ConfigError(f"--method-option {shown(item)} is for method {method!r}, which no --method names "
                              f"(given: {', '.join(names) or 'none'})")
        grouped[method].append(rest)
    return {name: key_values(values, f"--method-option {name}.") for name, values in grouped.items()}


def _methods(names: list[str] | None, items: list[str] | None,
             recorded: dict | None = None) -> tuple[list, object | None]:
    """(the step methods, the procedure or None) that a run file's `recorded` methods, --method and
    --method-option give; a method's object options (a teacher model) are read as model sources (run
    directory, hf-hub:..., name.tag)."""
    import zoo

    if len(set(names or [])) != len(names or []):
        raise ConfigError(f"--method names {sorted(n for n in set(names) if names.count(n) > 1)[0]!r} twice; give it once")
    recorded = recorded or {}
    names = [*recorded, *(n for n in names or [] if n not in recorded)]
    given_options = _method_options(names, items)
    options = {name: {**(recorded.get(name) or {}), **given_options[name]} for name in names}
    steps, procedure = [], None
    for name in names:
        entry = zoo.method_info(name)
        given = options[name]
        objects = getattr(zoo.default_registry().method_spec(name).build, "objects", {})
        for key in objects:
            if isinstance(given.get(key), str):
                given[key] = load_model_source(given[key])
        method = zoo.method(name, **given)
        if entry.kind == "procedure":
            procedure = method
        else:
            steps.append(method)
    if procedure is not None and "out_dir" not in inspect.signature(procedure.run).parameters:
        raise ConfigError(f"--method {procedure.name} acts on a trained model without training it; run it from "
                          f"Python: zoo.method({procedure.name!r}, ...).run(model, data)")
    if procedure is not None and len(names) > 1:
        raise ConfigError(f"--method {procedure.name} is a procedure of several training runs; give it alone "
                          f"(with its --method-option values)")
    return steps, procedure


class _EpochLine:
    """Without progress bars (--no-progress, or stderr not a terminal: a log file, a pipe, CI), one
    line per epoch on stderr, so a long run shows it is alive."""

    def __init__(self, epochs: int):
        self.epochs = epochs

    def zoo_train_epoch_end(self, run, metrics: dict) -> None:
        say(f"epoch {metrics['epoch']}/{self.epochs}: " + "  ".join(
            f"{k}={v:.4g}" for k, v in metrics.items() if k not in ("epoch", "step") and isinstance(v, (int, float))))


def _epoch_lines(options: dict) -> list:
    bars = options.get("progress")
    if bars or (bars is None and sys.stderr.isatty()):
        return []  # the bars print each epoch's line themselves
    from zoo.training.config import TrainConfig

    return [_EpochLine(options.get("epochs", TrainConfig.model_fields["epochs"].default))]


def _model_and_task(args, run_file: dict) -> tuple[str, str]:
    """The model and task names from the command line, else from the run file."""
    recorded = run_file.get("model")
    if args.name and recorded and args.name != recorded:
        raise ConfigError(f"zoo train {shown(args.name)}: the run file {shown(args.config)} is a run of {recorded!r}, "
                          f"whose config does not fit another model; leave out the name or the file")
    name, task = args.name or recorded, args.task or run_file.get("task")
    if not name:
        raise UsageError("zoo train: the following arguments are required: name (or a run file with model:, "
                         "--config run.yaml); run 'zoo train --help' for usage")
    if not task:
        raise UsageError("zoo train: the following arguments are required: --task (or a run file with task:); "
                         "run 'zoo train --help' for usage")
    return name, task


def cmd_train(args) -> int:
    import zoo
    from zoo.training import NonFiniteLossError, train

    run_file = read_run_file(args.config) if args.config else {}
    name, task_name = _model_and_task(args, run_file)
    same_task = task_name == run_file.get("task")
    config = {**(run_file.get("config") or {}), **key_values(args.set, "--set")}
    task_options = {**((run_file.get("task_options") or {}) if same_task else {}),
                    **key_values(args.task_option, "--task-option")}
    options = _train_options(args, run_file.get("train") or {})
    methods, procedure = _methods(args.method, args.method_option, run_file.get("methods"))
    check_output_path(args.out, "--out", directory=True)
    task = zoo.get_task(task_name, **task_options)
    _check_splits(task, options.get("final_splits") or (), "--final-splits")
    from accelerate.utils import set_seed

    set_seed(options.get("seed", 0))  # the model's initialisation follows the seed, like the data order
    weights = run_file.get("weights")
    model = zoo.create(f"{name}.{weights}" if weights else name, pretrained=args.pretrained or bool(weights),
                       variant=args.variant or run_file.get("variant"), task=task, **config)
    out = Path(args.out) if args.out else _default_out(name, task_name)
    try:
        if procedure is not None:
            procedure.run(model, task, out_dir=out, resume=args.resume, **options)
            say(f"{procedure.name}: every run of the procedure finished; its runs are in {out}")
            return EXIT_OK
        result = train(model, task, methods=methods, out_dir=out, resume=args.resume, overwrite=args.overwrite,
                       callbacks=_epoch_lines(options), **options)
    except NonFiniteLossError as exc:
        say(f"training stopped: {exc}")
        return EXIT_PROBLEMS
    if args.json:
        sys.stdout.write(json.dumps({"final": result.final, "epochs": result.epochs, "steps": result.steps,
                                     "stopped": result.stopped, "out_dir": str(out),
                                     "seconds": result.seconds}, indent=2) + "\n")
        return EXIT_OK
    _print_metrics(
        f"{name} on {task_name}: {result.epochs} epoch(s), {result.steps} step(s), {result.stopped}, "
        f"{result.seconds:.1f} s", result.final,
        [f"run directory: {out}  (model.safetensors, config.json, README.md, metrics.json, curves.png, run.yaml, "
         f"checkpoints/)",
         *(f"warning: {e}" for e in result.callback_errors)])
    return EXIT_OK


def _recorded_task(source: str) -> tuple[str, dict] | None:
    """(task name, task options) that the model SOURCE records it was trained on: a run or saved
    model directory's metrics.json ("task", and "task_options" where the run wrote them), or the
    catalog weights' `task` for 'arch.tag' (or 'arch', meaning its first weights). None when the
    source records no task (a model saved without its run, weights without a task) or is no model."""
    import zoo
    from zoo.cards import training_summary
    from zoo.errors import WeightsError
    from zoo.registry import split_name
    from zoo.training.report import METRICS_FILE

    if _exists(source):
        file = Path(source) / METRICS_FILE
        if not file.is_file():
            return None
        data = training_summary(file).metrics_json
        task, options = data.get("task"), data.get("task_options")
        if task is None:
            return None
        options = {} if options is None else options
        if not isinstance(task, str) or not task or not isinstance(options, dict):
            raise WeightsError(f"{file}: 'task' must be a task name and 'task_options' an object of its options, "
                               f"got {repr(task)[:80]} and {repr(options)[:80]}")
        return task, options
    if names_a_path(source):
        return None  # load_model_source says what is wrong with the path
    try:
        entry = zoo.info(source)
        _, tag = split_name(source)
    except UnknownNameError:
        return None  # load_model_source says what is wrong with the name
    weights = entry.weights.get(tag) if tag else next(iter(entry.weights.values()), None)
    return (weights.task, {}) if weights is not None and weights.task else None


def _eval_task(args) -> tuple[str, dict]:
    """The task `zoo eval` scores on and its options: --task with --task-option, else the task the
    model records, its recorded options updated by --task-option."""
    import zoo

    given = key_values(args.task_option, "--task-option")
    if args.task is not None:
        return args.task, given
    if args.model.startswith("hf-hub:"):  # its metrics.json is not fetched: only config.json and the weights are
        raise ConfigError(f"zoo eval reads no recorded task from a Hub model ({shown(args.model)}); pass --task TASK "
                          f"(see 'zoo tasks')")
    recorded = _recorded_task(args.model)
    if recorded is None:
        load_model_source(args.model)  # a source that is no model at all is the error to report
        raise ConfigError(f"{shown(args.model)} records no task it was trained on (a run directory, or a model "
                          f"saved with its run, records it in metrics.json; catalog weights in their 'task'); "
                          f"pass --task TASK (see 'zoo tasks')")
    name, options = recorded
    if name not in zoo.list_tasks():
        raise ConfigError(f"{shown(args.model)} was trained on {name!r}, which is not a registered task (data "
                          f"passed from Python, or the task of a plugin that is not installed); pass --task TASK")
    return name, {**options, **given}


def cmd_eval(args) -> int:
    import zoo
    from zoo.config import validate_config
    from zoo.training import evaluate
    from zoo.training.config import TrainConfig

    options = {k: v for k, v in {"batch_size": args.batch_size, "device": args.device,
                                 "precision": args.precision}.items() if v is not None}
    validate_config(TrainConfig, options, "zoo eval")
    task_name, task_options = _eval_task(args)
    task = zoo.get_task(task_name, **task_options)
    _check_splits(task, [args.split], "--split")
    model = load_model_source(args.model)
    metrics = evaluate(model, task, split=args.split, **options)
    if args.json:
        sys.stdout.write(json.dumps(metrics, indent=2) + "\n")
    else:
        recorded = "" if args.task is not None else ", the recorded task"
        _print_metrics(f"{args.model} on {task_name} ({args.split}{recorded})", metrics)
    return EXIT_OK


# zoo train's flags for TrainConfig fields: help text and default come from the field itself
_TRAIN_FLAGS = {
    "--epochs": {}, "--max-steps": {}, "--batch-size": {}, "--lr": {},
    "--optimizer": {"help": "adamw, adam, sgd, lbfgs, or a method that provides an optimizer"},
    "--weight-decay": {}, "--momentum": {}, "--schedule": {}, "--warmup-steps": {}, "--grad-accumulation": {},
    "--clip-grad-norm": {}, "--device": {}, "--precision": {},
    "--compile": {"nargs": "?", "const": True, "metavar": "BACKEND"},
    "--seed": {}, "--patience": {}, "--monitor": {}, "--eval-every": {},
    "--final-splits": {"metavar": "SPLITS", "help": "comma-separated splits evaluated after training "
                                                    "(default: every split the task has; '' for none)"},
    "--checkpoint-every": {}, "--keep-checkpoints": {},
    "--progress": {"action": argparse.BooleanOptionalAction,
                   "help": "progress bars; without them (--no-progress, or output that is not a terminal) one "
                           "line per epoch (default: bars on a terminal)"},
    "--log-with": {"action": "append", "metavar": "TRACKER",
                   "help": "experiment tracker that also receives the metrics: tensorboard or mlflow (repeatable "
                           "or comma-separated; writes into --out; pip install 'paperzoo[trackers]')"},
    "--log-every": {"metavar": "N"},
}


def _train_flag(parser, flag: str, **extra) -> None:
    """Add `flag` for the TrainConfig field of its name, typed, with the field's description and
    default as help unless `extra` says otherwise; its value stays None when not given (the run
    file's, else the field's default, applies)."""
    import typing

    from zoo.training.config import TrainConfig

    field = TrainConfig.model_fields[flag[2:].replace("-", "_")]
    kind = next((t for t in (int, float) if field.annotation in (t, t | None)), None)
    choices = typing.get_args(field.annotation) if typing.get_origin(field.annotation) is typing.Literal else None
    options = {"type": kind, "choices": list(choices) if choices else None}
    text = extra.pop("help", field.description)
    if "default" not in text and "None:" not in text:
        text += f" (default: {'none' if field.default in (None, []) else field.default})"
    options["help"] = text
    options.update(extra)
    if options.get("action") is not None:
        options.pop("type"), options.pop("choices")
    options = {k: v for k, v in options.items() if v is not None}
    parser.add_argument(flag, default=None, **options)


def register(sub) -> None:
    p = sub.add_parser("train", help="train a model on a task (checkpoints, metrics.json, curves.png)",
                       description="Train a catalog model on a task and write the run into --out.")
    p.add_argument("name", nargs="?", help="catalog model name, e.g. kan (default: the run file's model)")
    p.add_argument("--task", help="task name, see 'zoo tasks' (default: the run file's task)")
    p.add_argument("--config", metavar="RUN_YAML",
                   help="take every setting from a run file (a run directory's run.yaml, or one you wrote); "
                        "the other flags override it")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="model config value (JSON), repeatable")
    p.add_argument("--task-option", action="append", metavar="KEY=VALUE", help="task option, e.g. seed=1")
    p.add_argument("--variant", help="named config preset of the model")
    p.add_argument("--pretrained", action="store_true", help="start from the catalog weights")
    p.add_argument("--out", help="run directory (default: runs/<name>-<task>)")
    p.add_argument("--method", action="append", metavar="NAME",
                   help="training method acting on the run (see 'zoo list --methods'), repeatable; they act in "
                        "the order given")
    p.add_argument("--method-option", action="append", metavar="METHOD.KEY=VALUE",
                   help="an option of a --method (JSON value; a teacher is a run directory, hf-hub:... or name.tag)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its newest checkpoint")
    p.add_argument("--overwrite", action="store_true", help="start afresh even if --out holds a run's checkpoints")
    for flag, extra in _TRAIN_FLAGS.items():
        _train_flag(p, flag, **extra)
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("eval", help="evaluate a trained model (run directory, saved model or catalog weights)",
                       description="Evaluate a model on one split of a task and print its metrics.")
    p.add_argument("model", metavar="PATH_OR_NAME", help="a run/model directory, hf-hub:org/name, or name.tag")
    p.add_argument("--task", help="task name (default: the task the run, saved model or catalog weights record, "
                                  "with its recorded options)")
    p.add_argument("--split", default="test", choices=["train", "val", "test"], help="the split scored")
    p.add_argument("--task-option", action="append", metavar="KEY=VALUE",
                   help="task option; without --task it updates the recorded ones")
    _train_flag(p, "--batch-size", help="samples per evaluation batch (default: 64)")
    _train_flag(p, "--device")
    _train_flag(p, "--precision")
    p.add_argument("--json", action="store_true", help="print the metrics as JSON")
    p.set_defaults(func=cmd_eval)
