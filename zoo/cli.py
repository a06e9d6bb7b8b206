"""The `zoo` command: argument parsing, error reporting and exit codes, plus the catalog commands
(list, info, tasks, plugins, doctor) and export. Other areas add subcommands through COMMAND_MODULES.

Exit codes: 0 success; 1 the command ran and found problems (doctor, a failed check, a stopped
run) or hit an internal error (a bug); 2 bad input (unknown name or option, invalid value or
config, malformed catalog, unusable file); 130 interrupted (Ctrl-C).

Every failure is one line on stderr: "error: ..." for bad input, "internal error: ..." for a bug.
`zoo --debug ...`, `zoo COMMAND ... --debug` or PAPERZOO_DEBUG=1 print the full traceback instead.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import re
import sys
import traceback
import warnings
from dataclasses import asdict
from pathlib import Path

from .errors import ConfigError, UnknownNameError, ZooError, did_you_mean

__all__ = ["main", "run", "build_parser", "ArgumentParser", "UsageError", "COMMAND_MODULES"]

# each command and the module whose `register(subparsers)` adds it: a command imports only its own
# module, so `zoo list` does not pay for the others (tests check this against what they register)
COMMANDS = {
    "list": "zoo.cli", "info": "zoo.cli", "tasks": "zoo.cli", "plugins": "zoo.cli", "doctor": "zoo.cli",
    "export": "zoo.cli", "completion": "zoo.cli",
    "download": "zoo.hub_cli", "push": "zoo.hub_cli", "cache": "zoo.hub_cli",
    "train": "zoo.training.cli", "eval": "zoo.training.cli",
    "reproduce": "zoo.reproduce_cli",
    "kan": "zoo_plugins.kan.cli",
}
COMMAND_MODULES = list(dict.fromkeys(COMMANDS.values()))

EXIT_OK, EXIT_PROBLEMS, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 130

DEBUG_ENV = "PAPERZOO_DEBUG"


# the line width of output that goes to a pipe or a file: wide enough that no table or line wraps
PIPED_WIDTH = 100_000


def _console(stderr: bool = False):
    """A console that fits a terminal's width, and, piped or captured (`zoo list | grep ...`),
    wraps nothing: each table row stays one line whatever COLUMNS says."""
    from rich.console import Console

    console = Console(stderr=stderr, highlight=False)
    if not console.is_terminal:
        console.soft_wrap = True
        console.width = PIPED_WIDTH
    return console


def _add_row(table, *cells: str) -> None:
    """Add a row of plain text: names like list[int] must not be read as rich markup."""
    from rich.text import Text

    table.add_row(*(Text(str(c)) for c in cells))


def _print_json(data) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


# --- list / info / tasks ---------------------------------------------------------------------------


def cmd_list(args) -> int:
    import zoo

    if args.methods:
        if args.task or args.pretrained:
            raise ConfigError("--methods lists training methods; --task and --pretrained filter models")
        names = [n for n in zoo.list_methods(args.pattern)
                 if args.family is None or zoo.method_info(n).family == args.family]
        return _print_listing(args, names, "method(s)", "kind", lambda name: (zoo.method_info(name), None))
    names = zoo.list_models(args.pattern, task=args.task, pretrained=args.pretrained, family=args.family)

    def model_row(name: str):
        entry = zoo.info(name)
        return entry, (str(len(entry.weights)) if not args.pretrained
                       else entry.weights[name.split(".", 1)[1]].dataset or "")

    return _print_listing(args, names, "model(s)", "weights", model_row)


def _print_listing(args, names: list[str], what: str, last: str, row) -> int:
    """Names one per line (--names), as JSON, or as a table of paper, arXiv, family and `last`;
    row(name) gives the entry and the `last` column's text (None: the entry's kind)."""
    if args.names or args.json:
        if args.json:
            _print_json(names)
        else:
            sys.stdout.write("".join(n + "\n" for n in names))
        return EXIT_OK
    from rich.table import Table

    table = Table(title=f"{len(names)} {what}", title_justify="left")
    for column in ("name", "paper", "arXiv", "family", last):
        table.add_column(column)
    for name in names:
        entry, extra = row(name)
        paper = entry.paper.title + (f" ({entry.paper.year})" if entry.paper.year else "")
        _add_row(table, name, paper, entry.paper.arxiv or "", entry.family, entry.kind if extra is None else extra)
    _console().print(table)
    return EXIT_OK


def _method_info(args) -> int:
    import zoo
    from rich.table import Table
    from rich.text import Text

    entry = zoo.method_info(args.name)
    if args.json:
        _print_json({"method": True, **asdict(entry)})
        return EXIT_OK
    console = _console()
    paper = entry.paper
    console.print(Text(entry.name, style="bold") + Text(
        f" (training method): {paper.title}" + (f" ({paper.year})" if paper.year else "")
        + (f", arXiv:{paper.arxiv}" if paper.arxiv else "")))
    lines = [entry.summary] if entry.summary else []
    lines.append(f"plugin: {entry.plugin}   family: {entry.family or '-'}   kind: {entry.kind}   "
                 f"source: {entry.source}")
    if entry.needs:
        lines.append(f"needs: {entry.needs}")
    if entry.tasks:
        lines.append("tasks: " + ", ".join(entry.tasks))
    lines.append(f"use: zoo train MODEL --task TASK --method {entry.name}" if entry.kind == "step" else
                 f"use: zoo train MODEL --task TASK --method {entry.name}   (a procedure of several runs)")
    for line in lines:
        console.print(Text(line))
    if not entry.config:
        console.print(Text("no options"))
        return EXIT_OK
    options = Table(title="options (--method-option " + entry.name + ".NAME=VALUE)", title_justify="left")
    for column in ("option", "type", "default", "description"):
        options.add_column(column)
    for f in entry.config:
        _add_row(options, f.name, f.type, json.dumps(f.default), f.doc)
    console.print(options)
    return EXIT_OK


def cmd_info(args) -> int:
    import zoo

    if isinstance(args.name, str) and args.name in zoo.list_methods() and args.name not in zoo.list_models():
        return _method_info(args)
    try:
        entry = zoo.info(args.name)
    except UnknownNameError:
        if "." in args.name:
            raise
        from .errors import did_you_mean

        raise UnknownNameError(f"unknown model or method {args.name!r}."
                               + did_you_mean(args.name, zoo.list_models() + zoo.list_methods())) from None
    if args.json:
        _print_json(asdict(entry))
        return EXIT_OK
    from rich.table import Table

    from rich.text import Text

    console = _console()
    paper = entry.paper
    # catalog text is data, not rich markup: "[cos(W_p x) || ...]" in a summary must print as written
    console.print(Text(entry.name, style="bold") + Text(
        f": {paper.title}" + (f" ({paper.year})" if paper.year else "")
        + (f", arXiv:{paper.arxiv}" if paper.arxiv else "")))
    lines = [entry.summary] if entry.summary else []
    lines.append(f"plugin: {entry.plugin}   family: {entry.family or '-'}   source: {entry.source}")
    if entry.tasks:
        lines.append("tasks: " + ", ".join(entry.tasks))
    lines.append("variants: " + ", ".join(f"{v}{' (default)' if v == entry.default_variant else ''}"
                                          for v in entry.variants))
    for line in lines:
        console.print(Text(line))
    if entry.config:
        config = Table(title="config", title_justify="left")
        for column in ("field", "type", "default", "description"):
            config.add_column(column)
        for f in entry.config:
            _add_row(config, f.name, f.type, json.dumps(f.default), f.doc)
        console.print(config)
    else:
        console.print(Text("no config fields"))
    if entry.weights:
        weights = Table(title="pretrained weights", title_justify="left")
        for column in ("tag", "dataset", "metrics", "license", "where"):
            weights.add_column(column)
        for w in entry.weights.values():
            where = f"{w.repo_id}@{w.revision[:10]}" if w.repo_id else f"shipped: {w.file}"
            metrics = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in w.metrics.items())
            _add_row(weights, f"{entry.name}.{w.tag}", w.dataset or "", metrics, w.license or "", where)
        console.print(weights)
    return EXIT_OK


def cmd_tasks(args) -> int:
    import zoo

    names = zoo.list_tasks(args.pattern, kind=args.kind)
    if args.json:
        _print_json([asdict(zoo.task_info(n)) for n in names])
        return EXIT_OK
    from rich.table import Table

    table = Table(title=f"{len(names)} task(s)", title_justify="left")
    for column in ("name", "kind", "data", "summary"):
        table.add_column(column)
    for name in names:
        t = zoo.task_info(name)
        _add_row(table, name, t.kind, t.data, t.summary)
    _console().print(table)
    return EXIT_OK


# --- plugins / doctor ----------------------------------------------------------------------------


def cmd_plugins(args) -> int:
    import zoo
    from zoo.registry import default_registry

    statuses = zoo.plugins(load=True)
    catalog_failures = default_registry().catalog_failures
    if args.json:
        _print_json({"plugins": [asdict(s) for s in statuses],
                     "catalog_failures": [{"owner": o, **asdict(f)} for o, f in catalog_failures]})
        return EXIT_OK
    from rich.table import Table

    table = Table(title=f"{len(statuses)} plugin(s)", title_justify="left")
    for column in ("plugin", "distribution", "version", "status", "provides"):
        table.add_column(column)
    for s in statuses:
        state = {"ok": "[green]ok[/green]", "failed": "[red]failed[/red]"}.get(s.state, s.state)
        if s.state == "ok" and s.failures:
            state = f"[yellow]ok, {len(s.failures)} problem(s)[/yellow]"
        from rich.text import Text

        table.add_row(Text(s.name), Text(s.distribution or "-"), Text(s.version or "-"), Text.from_markup(state),
                      Text(", ".join(s.provides)))
    console = _console()
    console.print(table)
    _print_failures(console, [(s.name, f) for s in statuses for f in s.failures] + list(catalog_failures),
                    args.verbose)
    return EXIT_OK


def _print_failures(console, failures, verbose: bool) -> None:
    from rich.markup import escape

    for owner, failure in failures:
        console.print(f"[red]{escape(owner)}[/red] \\[{failure.stage}] {escape(failure.message)}")
        if verbose and failure.traceback:
            console.print(failure.traceback, markup=False)
    if failures and not verbose:
        console.print("(run with --verbose for tracebacks)")


def cmd_doctor(args) -> int:
    import zoo

    failures = zoo.doctor()
    if args.json:
        _print_json({"ok": not failures, "problems": [{"owner": owner, **asdict(f)} for owner, f in failures]})
        if failures:
            say(f"zoo doctor: {len(failures)} problem(s) found, listed on stdout")
        return EXIT_PROBLEMS if failures else EXIT_OK
    console = _console()
    if not failures:
        console.print("[green]no problems found[/green]: every catalog and plugin loaded")
        return EXIT_OK
    console.print(f"[red]{len(failures)} problem(s)[/red]")
    _print_failures(console, failures, args.verbose)
    say(f"zoo doctor: {len(failures)} problem(s) found, listed on stdout")
    return EXIT_PROBLEMS


# --- export --------------------------------------------------------------------------------------------


def cmd_export(args) -> int:
    import contextlib

    from .exporting import FORMATS, export, quiet_exporter_output

    # without --format the file name says it: model.onnx is ONNX, anything else a torch.export program
    format = args.format or next((f for f, suffix in FORMATS.items() if args.out.lower().endswith(suffix)),
                                 "torch-export")
    with contextlib.nullcontext() if debug_requested(args) else quiet_exporter_output():
        result = export(args.source, args.out, format=format, batch_size=args.batch_size, force=args.force)
    if args.json:
        _print_json({k: str(v) if isinstance(v, Path) else v for k, v in asdict(result).items()})
        return EXIT_OK
    sys.stdout.write(f"exported {result.model} to {result.path} ({result.format}); its outputs match the model's "
                     f"to {result.max_abs_difference:.3g} (relative {result.max_relative_difference:.3g}, "
                     f"tolerance {result.tolerance:g})\n")
    return EXIT_OK


def cmd_completion(args) -> int:
    import argcomplete

    sys.stdout.write(argcomplete.shellcode(["zoo"], shell=args.shell))
    return EXIT_OK


def register(sub) -> None:
    p = sub.add_parser("completion", help="print the shell code that completes zoo's commands and options",
                       description="Print the code that makes your shell complete zoo's commands, options and "
                                   "choices. Bash: add  eval \"$(zoo completion bash)\"  to ~/.bashrc; zsh: the "
                                   "same in ~/.zshrc; fish: zoo completion fish > ~/.config/fish/completions/zoo.fish")
    p.add_argument("shell", choices=["bash", "zsh", "fish"], help="the shell to complete in")
    p.set_defaults(func=cmd_completion)

    p = sub.add_parser("list", help="list models in the catalog (imports no plugin)")
    p.add_argument("pattern", nargs="?", default="*", help="shell-style pattern, e.g. '*kan*'")
    p.add_argument("--task", help="only models meant for this task")
    p.add_argument("--family", help="only models of this family")
    p.add_argument("--pretrained", action="store_true", help="list name.tag for every checkpoint")
    p.add_argument("--methods", action="store_true", help="list training methods instead of models")
    p.add_argument("--names", action="store_true", help="one name per line, no table")
    p.add_argument("--json", action="store_true", help="print the names and summaries as JSON")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("info", help="paper, variants, config fields and weights of a model (or a method's options)")
    p.add_argument("name", help="a model, name.tag (a checkpoint) or a training method")
    p.add_argument("--json", action="store_true", help="print the entry as JSON")
    p.set_defaults(func=cmd_info)

    p = sub.add_parser("tasks", help="list tasks (data, loss, metrics) models train on")
    p.add_argument("pattern", nargs="?", default="*", help="shell-style pattern, e.g. 'toy/*'")
    p.add_argument("--kind", help="classification, regression, forecasting, ...")
    p.add_argument("--json", action="store_true", help="print the tasks as JSON")
    p.set_defaults(func=cmd_tasks)

    p = sub.add_parser("export", help="export a model to a torch.export program (.pt2) or ONNX, checked against it")
    p.add_argument("source", metavar="RUN_OR_NAME",
                   help="run or saved model directory, hf-hub:org/name, catalog name.tag (pretrained) or name (fresh)")
    p.add_argument("--format", choices=["torch-export", "onnx"],
                   help="default: onnx for an --out ending in .onnx, else torch-export")
    p.add_argument("--out", required=True, help="the file to write (e.g. model.pt2 or model.onnx)")
    p.add_argument("--batch-size", type=int, default=2,
                   help="rows of the example inputs; the exported file takes this batch size (default: 2)")
    p.add_argument("--force", action="store_true", help="replace an existing file")
    p.add_argument("--json", action="store_true", help="print the result (file, format, differences) as JSON")
    p.set_defaults(func=cmd_export)

    for name, func, text in (("plugins", cmd_plugins, "every plugin: distribution, version, status, errors"),
                             ("doctor", cmd_doctor, "load every plugin and report every problem (exit 1 if any)")):
        p = sub.add_parser(name, help=text)
        p.add_argument("-v", "--verbose", action="store_true", help="show tracebacks")
        p.add_argument("--json", action="store_true", help="print the findings as JSON (tracebacks included)")
        p.set_defaults(func=func)


# --- entry point -------------------------------------------------------------------------------------


class UsageError(ConfigError):
    """The command line itself is wrong: an unknown command or option, a missing argument, a value
    of the wrong type or not among the choices."""


class HelpFormatter(argparse.HelpFormatter):
    """Help that shows each option's default (where it has one worth showing)."""

    def _get_help_string(self, action):
        text = action.help or ""
        default = action.default
        if (action.option_strings and "%(default)" not in text and "default:" not in text
                and default not in (None, False, argparse.SUPPRESS) and not isinstance(action, argparse._HelpAction)):
            text += " (default: %(default)s)"
        return text


_INVALID_CHOICE = re.compile(r"invalid choice: '(?P<given>[^']*)' \(choose from (?P<choices>.*)\)$")


class ArgumentParser(argparse.ArgumentParser):
    """argparse with the zoo's error reporting: a bad command line raises UsageError (printed as one
    line, exit 2, with a suggestion for a mistyped command, choice or option) instead of printing a
    usage block, help shows defaults, and every (sub)command accepts --debug."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)
        # SUPPRESS: a subcommand that does not see --debug must not reset the one given before it
        self.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                          help=f"show the full traceback of an error (or set {DEBUG_ENV}=1)")

    def error(self, message: str):
        found = _INVALID_CHOICE.search(message)
        if found:
            choices = re.findall(r"'([^']*)'", found["choices"])
            message += did_you_mean(found["given"], choices)
        raise UsageError(f"{self.prog}: {message}; run '{self.prog} --help' for usage")

    def parse_known_args(self, args=None, namespace=None):
        namespace, extras = super().parse_known_args(args, namespace)
        # the innermost (sub)command returns first: it names the command for later errors
        if not hasattr(namespace, "command_prog"):
            namespace.command_prog = self.prog
            namespace.command_options = [o for a in self._actions for o in a.option_strings]
        return namespace, extras

    def parse_args(self, args=None, namespace=None):
        namespace, extras = self.parse_known_args(args, namespace)
        if extras:
            prog = getattr(namespace, "command_prog", self.prog)
            options = getattr(namespace, "command_options", [])
            hints = "".join(did_you_mean(e.partition("=")[0], options) for e in extras if e.startswith("--"))
            raise UsageError(f"{prog}: unrecognized arguments: {' '.join(map(repr, extras))}{hints}; "
                             f"run '{prog} --help' for usage")
        return namespace


def one_line(text: str) -> str:
    """`text` on a single line: a message spread over lines (a library's, a wrapped one) is joined."""
    return " ".join(part.strip() for part in str(text).splitlines() if part.strip())


def say(text: str) -> None:
    """Write one line to stderr (plain text: rich would wrap it at the terminal's width)."""
    sys.stderr.write(one_line(text) + "\n")
    sys.stderr.flush()


def debug_requested(args=None) -> bool:
    return bool(getattr(args, "debug", False)) or os.environ.get(DEBUG_ENV, "").strip().lower() not in (
        "", "0", "false", "no", "off")


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    say(f"warning: {message}")  # one line, without the source line Python would print under it


def _failed(exc: BaseException, line: str, code: int, debug: bool) -> int:
    if debug:
        traceback.print_exception(exc)
    else:
        say(line)
    return code


def run(parser: argparse.ArgumentParser, argv: list[str] | None = None) -> int:
    """Parse argv with `parser` and run the chosen command (`args.func(args)`), turning every
    failure into one line on stderr and an exit code (see the module docstring)."""
    try:
        try:
            args = parser.parse_args(argv)
        except SystemExit as exc:  # --help and --version print and exit
            return exc.code if isinstance(exc.code, int) else EXIT_OK
        except ZooError as exc:
            return _failed(exc, f"error: {exc}", EXIT_BAD_INPUT, debug_requested())
        debug = debug_requested(args)
        try:
            with warnings.catch_warnings():  # restores the caller's warning display afterwards
                if not debug:
                    warnings.showwarning = _show_warning
                return args.func(args)
        except ZooError as exc:
            return _failed(exc, f"error: {exc}", EXIT_BAD_INPUT, debug)
        except Exception as exc:  # noqa: BLE001 - a bug: one line that says so and how to see more
            what = type(exc).__name__ + (f": {exc}" if str(exc) else "")
            return _failed(exc, f"internal error (a bug, not your input): {what}. Rerun with --debug or "
                                f"{DEBUG_ENV}=1 for the traceback", EXIT_PROBLEMS, debug)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED


class _StrictPlugins(argparse.Action):
    """--strict: plugin errors are raised, not recorded (read by zoo.discovery when plugins load)."""

    def __call__(self, parser, namespace, values, option_string=None):
        from .discovery import STRICT_ENV

        os.environ[STRICT_ENV] = "1"


class _Version(argparse.Action):
    """--version, read from the installed metadata only when asked (reading it costs every start)."""

    def __call__(self, parser, namespace, values, option_string=None):
        from .version import installed_version

        sys.stdout.write(f"paperzoo {installed_version()}\n")
        parser.exit()


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The `zoo` parser: every command, or (given the command a command line names) just that one."""
    parser = ArgumentParser(prog="zoo", description="PaperZoo: every paper a plugin.")
    parser.add_argument("--version", action=_Version, nargs=0, help="show the version and exit")
    parser.add_argument("--strict", action=_StrictPlugins, nargs=0,
                        help="raise on the first plugin error (for plugin authors)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True,
                                help="what to do (see each command's --help)")
    for module in [COMMANDS[command]] if command in COMMANDS else COMMAND_MODULES:
        importlib.import_module(module).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """The `zoo` command; returns its exit code."""
    from .discovery import STRICT_ENV

    before = os.environ.get(STRICT_ENV)
    try:
        if "_ARGCOMPLETE" in os.environ:  # the shell asks for completions: every command's options
            import argcomplete

            argcomplete.autocomplete(build_parser())  # prints the completions and exits
        words = sys.argv[1:] if argv is None else argv
        # top-level options take no value, so the first word that is not an option is the command
        command = next((w for w in words if not w.startswith("-")), None)
        return run(build_parser(command), argv)
    finally:  # a caller that runs main() in-process gets its environment back
        if before is None:
            os.environ.pop(STRICT_ENV, None)
        else:
            os.environ[STRICT_ENV] = before


if __name__ == "__main__":
    sys.exit(main())
