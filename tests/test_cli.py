"""The `zoo` command line: output, exit codes, and every failure as one line on stderr (bad input:
exit 2 naming the value; a bug: exit 1; Ctrl-C: 130), tracebacks only with --debug/PAPERZOO_DEBUG."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import torch
from conftest import run_zoo

from zoo import cli
from zoo.cli import main


def test_list_table_names_and_json():
    table = run_zoo("list")
    assert table.returncode == 0 and "kan" in table.stdout and "KAN: Kolmogorov-Arnold" in table.stdout
    names = run_zoo("list", "*ka*", "--names")
    assert "kan" in names.stdout.split()
    as_json = json.loads(run_zoo("list", "--json").stdout)
    assert "kan" in as_json and as_json == sorted(as_json, key=as_json.index)


def test_info_shows_paper_config_and_variants():
    done = run_zoo("info", "kan")
    assert done.returncode == 0
    for text in ("arXiv:2404.19756", "list[int]", "[2, 5, 1]", "variants: default"):
        assert text in done.stdout, text
    data = json.loads(run_zoo("info", "kan", "--json").stdout)
    assert data["paper"]["arxiv"] == "2404.19756"
    assert [f["name"] for f in data["config"]][:2] == ["width", "grid"]


def test_unknown_name_exits_2_with_a_suggestion_and_no_traceback():
    done = run_zoo("info", "kna")
    assert done.returncode == 2
    assert "unknown model or method 'kna'. Did you mean 'kan'?" in done.stderr
    assert "Traceback" not in done.stderr
    debug = run_zoo("--debug", "info", "kna")
    assert "Traceback" in debug.stderr and "UnknownNameError" in debug.stderr


def test_usage_errors_exit_2():
    assert run_zoo("no-such-command").returncode == 2
    assert run_zoo().returncode == 2


def test_version():
    done = run_zoo("--version")
    assert done.returncode == 0 and done.stdout.startswith("paperzoo ")


# --- every failure is one line on stderr -------------------------------------------------------------

# a run that costs well under a second: any of the cases below that wrongly got through would train this
TINY = ["train", "kan", "--task", "toy/exp-sin", "--set", "width=[2,2,1]", "--epochs", "1", "--task-option",
        "n_train=32", "--task-option", "n_test=32", "--no-progress"]


def only_line(err: str) -> str:
    """The one line a failing command writes on stderr."""
    assert "Traceback" not in err, err
    lines = err.splitlines()
    assert len(lines) == 1, err
    return lines[0]


def failed(capsys, argv: list[str], code: int = 2) -> str:
    """Run `zoo argv` in-process; check its exit code and that stderr is one line; return the line."""
    capsys.readouterr()
    assert main(argv) == code, capsys.readouterr()
    return only_line(capsys.readouterr().err)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("cli") / "run"
    assert main([*TINY, "--out", str(out)]) == 0
    return out


# the review's invocations: each exits 2 with one line that names the bad value
def test_unavailable_device_is_bad_input(capsys, tmp_path):
    missing = next((d for d in ("cuda", "xpu", "mps") if not (getattr(torch, d, None) and
                                                             getattr(torch, d).is_available())), None)
    if missing is None:
        pytest.skip("every accelerator type tried is present on this machine")
    line = failed(capsys, [*TINY, "--device", missing, "--out", str(tmp_path / "run")])
    assert line.startswith("error: ") and repr(missing) in line
    assert not (tmp_path / "run" / "checkpoints").exists()


def test_fp16_on_cpu_is_bad_input(capsys, tmp_path):
    line = failed(capsys, [*TINY, "--device", "cpu", "--precision", "fp16", "--out", str(tmp_path / "run")])
    assert "fp16" in line and not (tmp_path / "run" / "checkpoints").exists()


def test_unknown_task_option_is_bad_input(capsys, tmp_path):
    assert "seeed" in failed(capsys, [*TINY, "--task-option", "seeed=1", "--out", str(tmp_path)])


@pytest.mark.parametrize("item", ["=5", "noequals", " =1", "a b=1"])
def test_set_needs_key_equals_value(capsys, tmp_path, item):
    line = failed(capsys, [*TINY, "--set", item, "--out", str(tmp_path)])
    assert line.startswith("error: --set") and repr(item) in line


def test_kan_commands_print_json(capsys, run_dir, tmp_path):
    capsys.readouterr()
    assert main(["kan", "plot", str(run_dir), "--out", str(tmp_path / "k.png"), "--samples", "50", "--json"]) == 0
    plotted = json.loads(capsys.readouterr().out)
    assert plotted["width"] == [2, 2, 1] and plotted["edges"] == 6 and (tmp_path / "k.png").is_file()
    assert main(["kan", "formula", str(run_dir), "--samples", "50", "--json"]) == 0
    found = json.loads(capsys.readouterr().out)
    assert len(found["formulas"]) == 1 and "x_1" in found["formulas"][0] + "".join(
        e.get("kept", "") for e in found["edges"])
    assert len(found["edges"]) == 6 and all(("function" in e) != ("kept" in e) for e in found["edges"])


def test_progress_is_a_switch(capsys, tmp_path):
    line = failed(capsys, [*TINY, "--progress", "maybe", "--out", str(tmp_path)])
    assert "unrecognized arguments: 'maybe'" in line


def test_without_bars_each_epoch_is_one_line_on_stderr(capsys, tmp_path):
    argv = [*TINY[:-1], "--epochs", "2", "--out", str(tmp_path / "run"), "--json"]  # --no-progress
    assert main(argv) == 0
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert [line.split(":")[0] for line in lines] == ["epoch 1/2", "epoch 2/2"], captured.err
    assert "train_loss=" in lines[0] and json.loads(captured.out)["epochs"] == 2  # stdout stays JSON


@pytest.mark.parametrize("argv, suggestion", [
    (["lsit"], "Did you mean 'list'?"),
    (["train", "kan", "--task", "toy/exp-sin", "--epcohs", "1"], "Did you mean '--epochs'?"),
    (["train", "kan", "--task", "toy/exp-sin", "--schedule", "cosin"], "Did you mean 'cosine'?"),
    (["info", "kan", "--jsn"], "Did you mean '--json'?"),
])
def test_a_mistyped_command_option_or_choice_gets_a_suggestion(capsys, argv, suggestion):
    assert suggestion in failed(capsys, argv)


def _every_parser():
    import argparse

    from zoo.cli import build_parser

    todo = [build_parser()]
    while todo:
        parser = todo.pop()
        yield parser
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                todo.extend(action.choices.values())


def test_every_option_of_every_command_says_what_it_does(capsys):
    parsers = list(_every_parser())
    assert len(parsers) >= 15  # zoo, its commands and their subcommands
    for parser in parsers:
        for action in parser._actions:
            if action.help is None:
                raise AssertionError(f"{parser.prog} {'/'.join(action.option_strings) or action.dest}: no help text")
        capsys.readouterr()
        assert main([*parser.prog.split()[1:], "--help"]) == 0, parser.prog
        assert "usage: " + parser.prog in capsys.readouterr().out


def test_eval_on_a_task_the_model_does_not_fit(capsys):
    line = failed(capsys, ["eval", "kan.toy-exp-sin", "--task", "iris"])
    assert line.startswith("error: ") and "iris" in line


def test_kan_plot_needs_a_positive_sample_count(capsys, run_dir, tmp_path):
    line = failed(capsys, ["kan", "plot", str(run_dir), "--samples", "0", "--out", str(tmp_path / "k.png")])
    assert "--samples" in line and "got 0" in line and not (tmp_path / "k.png").exists()


def test_unknown_monitor_is_found_before_the_first_epoch(capsys, tmp_path):
    out = tmp_path / "run"
    line = failed(capsys, [*TINY, "--epochs", "2", "--patience", "1", "--monitor", "val_bogus", "--out", str(out)])
    assert "val_bogus" in line
    assert not (out / "checkpoints").exists() or not any((out / "checkpoints").iterdir())


# more bad values found the same way; each is refused before training
@pytest.mark.parametrize("extra, named", [
    (["--device", "junk"], "'junk'"),
    (["--task-option", "n_train=-5"], "-5"),
    (["--compile", "junk"], "junk"),
    (["--grad-accumulation", str(2**70)], str(2**70)),
    (["--seed", "-1"], "-1"),
    (["--seed", str(2**40)], str(2**40)),
    (["--final-splits", "train,bogus"], "'bogus'"),
    (["--final-splits", "val"], "'val'"),  # toy/exp-sin has no val split
    (["--epochs", "0"], "epochs=0"),
    (["--set", "grid=" + "9" * 5000], "grid="),
    (["--set", "width=" + "[" * 100_000], "width="),
    (["--set", "grid=3", "--set", "grid=4"], "'grid'"),
    (["--resume", "--overwrite"], "--overwrite"),
])
def test_bad_training_options(capsys, tmp_path, extra, named):
    out = tmp_path / "run"
    assert named in failed(capsys, [*TINY, *extra, "--out", str(out)])
    assert not (out / "checkpoints").exists()


def test_model_that_cannot_size_itself_for_the_task(capsys, tmp_path):
    line = failed(capsys, ["train", "mlp-mixer", "--task", "toy/exp-sin", "--epochs", "1", "--out", str(tmp_path)])
    assert "mlp-mixer" in line and "toy/exp-sin" in line


def test_paths_of_the_wrong_kind(capsys, tmp_path, run_dir):
    file = tmp_path / "file.txt"
    file.write_text("x")
    assert repr(str(file)) in failed(capsys, [*TINY, "--out", str(file)])
    assert repr(str(file)) in failed(capsys, [*TINY, "--out", str(file / "sub")])
    assert str(file) in failed(capsys, ["eval", str(file), "--task", "toy/exp-sin"])
    assert str(tmp_path / "nothing") in failed(capsys, ["eval", str(tmp_path / "nothing"), "--task", "toy/exp-sin"])
    assert repr(str(tmp_path)) in failed(capsys, ["kan", "plot", str(run_dir), "--out", str(tmp_path)])
    assert "k.jpx'" in failed(capsys, ["kan", "plot", str(run_dir), "--out", str(tmp_path / "k.jpx")])
    assert str(file) in failed(capsys, ["push", str(file), "org/name"])
    assert "a\\x00b" in failed(capsys, ["eval", "a\x00b", "--task", "toy/exp-sin"])  # no ValueError from the OS
    assert "File name too long" in failed(capsys, [*TINY, "--out", "x" * 5000])
    assert "'no-such-user-zoo'" in failed(capsys, [*TINY, "--out", "~no-such-user-zoo/run"])


def test_eval_and_kan_checks(capsys, run_dir, tmp_path):
    assert "'val'" in failed(capsys, ["eval", str(run_dir), "--task", "toy/exp-sin", "--split", "val"])
    assert "iris" in failed(capsys, ["kan", "plot", str(run_dir), "--task", "iris", "--out", str(tmp_path / "k.png")])
    assert "mlp-mixer" in failed(capsys, ["kan", "formula", "mlp-mixer"])  # refused before it is built
    assert "nan" in failed(capsys, ["kan", "formula", str(run_dir), "--r2", "nan"])
    assert "1.5" in failed(capsys, ["kan", "formula", str(run_dir), "--r2", "1.5"])
    assert "'nope'" in failed(capsys, ["kan", "formula", str(run_dir), "--lib", "sin,nope"])
    assert str(10**9) in failed(capsys, ["kan", "plot", str(run_dir), "--samples", str(10**9),
                                         "--out", str(tmp_path / "k.png")])
    capsys.readouterr()
    out = tmp_path / "new" / "dir" / "k.png"  # missing folders are made, as for a run directory
    assert main(["kan", "plot", str(run_dir), "--samples", "50", "--out", str(out)]) == 0
    assert out.read_bytes()[:4] == b"\x89PNG"


def test_download_failures_are_one_line(capsys):
    line = failed(capsys, ["download", "nope.x", "kan.y"])
    assert "'nope.x'" in line and "'kan.y'" in line and "2 of 2 failed" in line


# --- argparse's own errors ----------------------------------------------------------------------------


@pytest.mark.parametrize("argv, prog, named", [
    (["no-such-command"], "zoo", "'no-such-command'"),
    ([], "zoo", "COMMAND"),
    (["train"], "zoo train", "name"),
    (["train", "kan", "--task", "toy/exp-sin", "--epochs", "x"], "zoo train", "'x'"),
    (["train", "kan", "--task", "toy/exp-sin", "--schedule", "cosinus"], "zoo train", "'cosinus'"),
    (["eval", "kan", "--task", "iris", "--split", "dev"], "zoo eval", "'dev'"),
    (["list", "--bogus"], "zoo list", "'--bogus'"),
    (["info", "kan", "extra"], "zoo info", "'extra'"),
    (["kan"], "zoo kan", "KAN_COMMAND"),
    (["kan", "plot", "kan"], "zoo kan plot", "--out"),
    (["kan", "formula", "kan", "--samples", "many"], "zoo kan formula", "'many'"),
    (["kan", "formula", "kan", "--unknown"], "zoo kan formula", "'--unknown'"),
])
def test_usage_errors_are_one_line_with_a_help_hint(capsys, argv, prog, named):
    line = failed(capsys, argv)
    assert line.startswith(f"error: {prog}: ") and named in line
    assert line.endswith(f"run '{prog} --help' for usage")


def test_help_and_version_return_0_in_process(capsys):
    assert main(["--help"]) == 0 and "COMMAND" in capsys.readouterr().out
    assert main(["train", "--help"]) == 0 and "--task" in capsys.readouterr().out


# --- tracebacks on request, internal errors, interrupts --------------------------------------------


@pytest.mark.parametrize("how", ["before", "after", "env"])
def test_debug_shows_the_traceback(capsys, monkeypatch, how):
    argv = ["info", "kna"]
    if how == "env":
        monkeypatch.setenv("PAPERZOO_DEBUG", "1")
    else:
        argv = ["--debug", *argv] if how == "before" else [*argv, "--debug"]
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err and "UnknownNameError: unknown model or method 'kna'" in err


def test_an_internal_error_is_one_line_that_says_so(capsys, monkeypatch):
    def broken(args):
        raise RuntimeError("the bug")

    monkeypatch.setattr(cli, "cmd_list", broken)
    line = failed(capsys, ["list"], code=1)
    assert line.startswith("internal error") and "RuntimeError: the bug" in line
    assert "--debug" in line and "PAPERZOO_DEBUG=1" in line
    capsys.readouterr()
    assert main(["--debug", "list"]) == 1
    assert "Traceback" in capsys.readouterr().err


def test_ctrl_c_exits_130_quietly(capsys, monkeypatch):
    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "cmd_list", interrupted)
    capsys.readouterr()
    assert main(["list"]) == 130
    assert capsys.readouterr().err == ""


def test_warnings_are_one_line_each(capsys, monkeypatch):
    def warns(args):
        warnings.warn("watch out\nreally", UserWarning)
        return 0

    monkeypatch.setattr(cli, "cmd_list", warns)
    capsys.readouterr()
    assert main(["list"]) == 0
    assert capsys.readouterr().err == "warning: watch out really\n"


def test_strict_is_undone_after_an_in_process_run(capsys):
    from zoo.discovery import STRICT_ENV

    before = os.environ.get(STRICT_ENV)
    assert main(["--strict", "list", "--names"]) == 0
    assert os.environ.get(STRICT_ENV) == before


# --- the same through real processes ------------------------------------------------------------------


def test_console_script_and_module_report_one_line(tmp_path):
    script = Path(sys.executable).with_name("zoo")
    script = str(script) if script.exists() else shutil.which("zoo")
    assert script, "the console entry point 'zoo' is installed"
    done = subprocess.run([script, "train", "kan", "--task", "toy/exp-sin", "--set", "=5"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and only_line(done.stderr).startswith("error: --set") and "'=5'" in done.stderr
    done = run_zoo("train", "kan", "--task", "toy/exp-sin", "--epochs", "x")
    assert done.returncode == 2 and only_line(done.stderr).endswith("run 'zoo train --help' for usage")
    done = run_zoo("info", "kna", env={"PAPERZOO_DEBUG": "1"})
    assert done.returncode == 2 and "Traceback" in done.stderr
    done = subprocess.run([sys.executable, "-m", "zoo.reference", "nope.tag"], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 2 and "unknown model 'nope'" in only_line(done.stderr)
    done = subprocess.run([sys.executable, "-m", "zoo.reference"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "python -m zoo.reference --help" in only_line(done.stderr)


def test_each_command_is_registered_by_the_module_the_cli_imports_for_it():
    """`zoo CMD` imports only COMMANDS[CMD]; that module must be the one that adds CMD."""
    import argparse
    import importlib

    from zoo.cli import COMMANDS, COMMAND_MODULES, ArgumentParser

    registered = {}
    for module in COMMAND_MODULES:
        parser = ArgumentParser(prog="zoo")
        sub = parser.add_subparsers(dest="command")
        importlib.import_module(module).register(sub)
        action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        registered.update({name: module for name in action.choices})
    assert registered == COMMANDS


def test_info_prints_catalog_text_as_written():
    """A summary is data, not rich markup: fan's "[cos(W_p x) || ...]" once vanished from zoo info."""
    done = run_zoo("info", "fan")
    assert done.returncode == 0
    assert "Layers [cos(W_p x) || sin(W_p x) || act(B + W x)] that build periodicity in" in done.stdout


def test_an_unknown_optimizer_is_one_line_with_suggestions(capsys):
    line = failed(capsys, ["train", "kan", "--task", "toy/exp-sin", "--optimizer", "adamm", "--epochs", "1"])
    assert "unknown optimizer 'adamm'" in line and "'adamw'" in line


def test_method_options_must_name_a_given_method(capsys):
    line = failed(capsys, ["train", "kan", "--task", "toy/exp-sin", "--method-option", "ewc.importance=1"])
    assert "--method-option 'ewc.importance=1' is for method 'ewc', which no --method names" in line
    line = failed(capsys, ["train", "kan", "--task", "toy/exp-sin", "--method", "ewcc"])
    assert "unknown method 'ewcc'" in line and "'ewc'" in line


# --- zoo eval takes the task the model records ---------------------------------------------------------


def _copy_of_model(run_dir: Path, to: Path, **metrics_changes) -> Path:
    """The run's model files (no checkpoints) in `to`, its metrics.json changed as given (None: removed)."""
    to.mkdir()
    for name in ("model.safetensors", "config.json"):
        shutil.copyfile(run_dir / name, to / name)
    metrics = json.loads((run_dir / "metrics.json").read_text())
    metrics.update(metrics_changes)
    (to / "metrics.json").write_text(json.dumps({k: v for k, v in metrics.items() if v is not None}))
    return to


@pytest.fixture
def tasks_built(monkeypatch) -> list:
    """(name, options) of every task `zoo eval` builds in this test."""
    import zoo

    built, real = [], zoo.get_task

    def get_task(name, **options):
        built.append((name, options))
        return real(name, **options)

    monkeypatch.setattr(zoo, "get_task", get_task)
    return built


def test_eval_uses_the_task_the_run_recorded(capsys, run_dir, tasks_built):
    assert json.loads((run_dir / "metrics.json").read_text())["task"] == "toy/exp-sin"
    capsys.readouterr()
    report = json.loads((run_dir / "metrics.json").read_text())
    assert main(["eval", str(run_dir), "--json"]) == 0  # the recorded task, built with the recorded options
    assert json.loads(capsys.readouterr().out)["loss"] == pytest.approx(report["final"]["test_loss"], rel=1e-6)
    assert main(["eval", str(run_dir), "--task", "toy/exp-sin", "--json"]) == 0
    capsys.readouterr()
    assert tasks_built == [("toy/exp-sin", report["task_options"]), ("toy/exp-sin", {})]
    assert report["task_options"]  # TINY trains with task options: the run recorded them
    assert main(["eval", str(run_dir)]) == 0
    assert "on toy/exp-sin (test, the recorded task)" in capsys.readouterr().out
    # an explicit --task wins over the recorded one
    assert "'iris'" in failed(capsys, ["eval", str(run_dir), "--task", "iris"])


def test_eval_uses_recorded_task_options_updated_by_the_given_ones(capsys, run_dir, tmp_path, tasks_built):
    model = _copy_of_model(run_dir, tmp_path / "model", task_options={"n_test": 16, "seed": 3})
    capsys.readouterr()
    assert main(["eval", str(model), "--task-option", "seed=5", "--json"]) == 0
    assert main(["eval", str(model), "--task", "toy/exp-sin", "--json"]) == 0  # --task: only the given options
    assert tasks_built == [("toy/exp-sin", {"n_test": 16, "seed": 5}), ("toy/exp-sin", {})]


def test_eval_of_catalog_weights_uses_their_task(capsys, tasks_built):
    capsys.readouterr()
    assert main(["eval", "kan.toy-exp-sin", "--json"]) == 0
    assert tasks_built == [("toy/exp-sin", {})]
    assert json.loads(capsys.readouterr().out)["rmse"] < 0.01


def test_eval_without_a_recorded_task_asks_for_task(capsys, run_dir, tmp_path):
    import zoo

    saved = zoo.save(zoo.create("kan", width=[2, 2, 1]), tmp_path / "saved")  # no run: no metrics.json
    line = failed(capsys, ["eval", str(saved)])
    assert "records no task" in line and "pass --task" in line and str(saved) in line
    no_task = _copy_of_model(run_dir, tmp_path / "no-task", task=None)
    assert "pass --task" in failed(capsys, ["eval", str(no_task)])
    arrays = _copy_of_model(run_dir, tmp_path / "arrays", task="arrays")  # trained on data from Python
    line = failed(capsys, ["eval", str(arrays)])
    assert "'arrays'" in line and "not a registered task" in line and "pass --task" in line
    bad = _copy_of_model(run_dir, tmp_path / "bad", task=["toy/exp-sin"])
    assert "'task' must be a task name" in failed(capsys, ["eval", str(bad)])
    assert "pass --task" in failed(capsys, ["eval", "hf-hub:org/not-read-offline"])
    # a source that is no model says so, rather than asking for a task
    assert "unknown model 'no-such-model'" in failed(capsys, ["eval", "no-such-model"])
    assert "no weights tagged 'nope'" in failed(capsys, ["eval", "kan.nope"])


# --- --json on every command that prints data ----------------------------------------------------------


@pytest.mark.parametrize("argv", [["list"], ["list", "--methods"], ["info", "kan"], ["tasks"], ["plugins"],
                                  ["doctor"]])
def test_catalog_commands_print_json(capsys, argv):
    capsys.readouterr()
    assert main([*argv, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)


def test_doctor_json_lists_the_same_problems_and_keeps_the_exit_code(capsys, monkeypatch):
    import zoo
    from zoo.discovery import Failure

    problems = [("broken-plugin", Failure("import", "ModuleNotFoundError: no module named 'nope'", "Traceback ...")),
                ("thief", Failure("collision", "model 'kan' is already provided by kan"))]
    monkeypatch.setattr(zoo, "doctor", lambda: problems)
    capsys.readouterr()
    assert main(["doctor"]) == 1
    plain = capsys.readouterr().out
    assert main(["doctor", "--json"]) == 1
    done = capsys.readouterr()
    assert json.loads(done.out) == {"ok": False, "problems": [
        {"owner": owner, "stage": f.stage, "message": f.message, "traceback": f.traceback} for owner, f in problems]}
    assert "2 problem(s)" in plain and "2 problem(s)" in only_line(done.err)
    for owner, failure in problems:
        assert owner in plain and failure.message in plain


def test_doctor_json_of_a_clean_install(capsys):
    capsys.readouterr()
    assert main(["doctor", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"ok": True, "problems": []}


# --- output that is not a terminal is not wrapped ----------------------------------------------------


def test_piped_tables_keep_each_row_on_one_line(capsys, monkeypatch):
    import zoo

    monkeypatch.setenv("COLUMNS", "80")  # a pipe has no width: not even COLUMNS makes it wrap
    capsys.readouterr()
    assert main(["list"]) == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("│")]
    names = zoo.list_models()
    assert len(rows) == len(names)
    for name, row in zip(names, rows):
        title = zoo.info(name).paper.title
        assert row.split("│")[1].strip() == name and title in row, row
    assert max(map(len, rows)) > 80


def test_a_terminal_keeps_its_width(monkeypatch):
    import io

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr(sys, "stdout", Terminal())
    monkeypatch.setenv("COLUMNS", "60")
    for name in ("FORCE_TERMINAL", "TTY_COMPATIBLE", "TTY_INTERACTIVE"):
        monkeypatch.delenv(name, raising=False)
    console = cli._console()
    assert console.is_terminal and console.width == 60


# --- a model without config fields ---------------------------------------------------------------------


def test_info_says_when_there_are_no_config_fields(capsys, monkeypatch):
    import dataclasses

    import zoo

    real_info, real_method = zoo.info, zoo.method_info
    monkeypatch.setattr(zoo, "info", lambda name: dataclasses.replace(real_info(name), config=[]))
    monkeypatch.setattr(zoo, "method_info", lambda name: dataclasses.replace(real_method(name), config=[]))
    capsys.readouterr()
    assert main(["info", "kan"]) == 0
    out = capsys.readouterr().out
    assert "no config fields" in out and "┃ field" not in out and "variants: default" in out
    method = zoo.list_methods()[0]
    assert main(["info", method]) == 0
    out = capsys.readouterr().out
    assert "no options" in out and "options (--method-option" not in out


@pytest.mark.parametrize("line, expected", [
    ("train kan --ep", ["--epochs"]),
    ("li", ["list"]),
    ("train kan --schedule co", ["constant", "cosine"]),
])
def test_the_shell_completes_commands_options_and_choices(tmp_path, line, expected):
    comp_line = f"python -m zoo.cli {line}"
    out = tmp_path / "completions"
    env = {**os.environ, "_ARGCOMPLETE": "3", "COMP_LINE": comp_line, "COMP_POINT": str(len(comp_line)),
           "_ARGCOMPLETE_IFS": "\n", "_ARGCOMPLETE_STDOUT_FILENAME": str(out)}
    done = subprocess.run([sys.executable, "-m", "zoo.cli"], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert sorted(w.strip() for w in out.read_text().split("\n") if w.strip()) == expected


def test_completion_prints_the_shell_code(capsys):
    assert main(["completion", "bash"]) == 0
    code = capsys.readouterr().out
    assert "complete" in code and "zoo" in code and "_ARGCOMPLETE" in code
