"""Fuzz of the `zoo` command line, run in-process: whatever the arguments, it exits 0, 1 or 2; a
failure is one line on stderr with no traceback; and a bad-input message (exit 2) names the value
at fault. Every generated invocation fails before training or trains a 2-2-1 KAN for one epoch."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import zoo
from zoo.cli import main

# capsys is read out before every example, so sharing it across examples is safe
FUZZ = settings(max_examples=25, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

COMMANDS = ["list", "info", "tasks", "plugins", "doctor", "export", "download", "push", "cache", "train", "eval", "kan"]
TINY = ["train", "kan", "--task", "toy/exp-sin", "--set", "width=[2,2,1]", "--epochs", "1", "--task-option",
        "n_train=32", "--task-option", "n_test=32", "--no-progress"]
_counter = itertools.count()

# any text a shell could pass, newlines and odd Unicode included
junk = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=20)
word = st.text("abcdefghijklmnopqrstuvwxyz0123456789_", min_size=1, max_size=12)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("fuzz") / "run"
    assert main([*TINY, "--out", str(out)]) == 0
    return out


@pytest.fixture
def workdir(tmp_path, monkeypatch) -> Path:
    """An empty working directory: relative junk names never exist, and nothing lands in the repo."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a-file.txt").write_text("not a model")
    return tmp_path


def fresh(workdir: Path) -> Path:
    return workdir / f"out{next(_counter)}"


def run(capsys, argv: list[str], named=(), expect=(0, 1, 2)) -> int:
    """Run `zoo argv`; check the exit code, the one-line failure and, for exit 2, that the line
    holds one of `named` (the value at fault, as typed or as repr shows it)."""
    capsys.readouterr()
    code = main(argv)
    err = capsys.readouterr().err
    assert code in expect, (argv, code, err)
    if code:
        assert "Traceback" not in err, (argv, err)
        lines = err.splitlines()
        assert len(lines) == 1, (argv, err)
        if code == 2 and named:
            assert any(n in lines[0] for n in named), (argv, lines[0], named)
    return code


def names_of(value: str) -> list[str]:
    return [value, repr(value)]


def _parses(kind, text: str) -> bool:
    try:
        kind(text)
        return True
    except ValueError:
        return False


# argument lists for the cheap commands, anything at all in them
@FUZZ
@given(st.sampled_from(["list", "info", "tasks", "cache", "download"]),
       st.lists(st.one_of(junk, st.sampled_from(["--json", "--task", "--kind", "--names", "--pretrained",
                                                 "--family", "-v", "--", "-h"])), max_size=5))
def test_any_arguments_to_catalog_commands(capsys, workdir, command, rest):
    assume(not any(r.startswith("hf-hub:") for r in rest))  # would go to the network
    run(capsys, [command, *rest])


@FUZZ
@given(junk)
def test_unknown_command(capsys, workdir, token):
    assume(token not in COMMANDS and not token.startswith("-"))
    run(capsys, [token], names_of(token), expect=(2,))


REQUIRED = {  # the least each command needs before an unknown option is the only problem
    "list": [], "info": ["kan"], "tasks": [], "cache": [], "download": ["kan"], "push": ["a-file.txt", "org/x"],
    "train": TINY[1:], "eval": ["RUN", "--task", "toy/exp-sin"], "kan plot": ["kan", "--out", "k.png"],
    "kan formula": ["kan"],
}


@FUZZ
@given(st.sampled_from(sorted(REQUIRED)), word)
def test_unknown_option(capsys, workdir, run_dir, command, suffix):
    option = f"--no-such-{suffix}"
    args = [str(run_dir) if a == "RUN" else a for a in REQUIRED[command]]
    run(capsys, [*command.split(), *args, option], [repr(option)], expect=(2,))


TYPED = [("--epochs", int), ("--batch-size", int), ("--seed", int), ("--lr", float), ("--max-steps", int),
         ("--clip-grad-norm", float),
         ("--schedule", ["constant", "cosine", "linear"]), ("--precision", ["fp32", "bf16", "fp16", "auto"])]


@FUZZ
@given(st.sampled_from(TYPED), junk)
def test_option_values_of_the_wrong_type(capsys, workdir, option_kind, value):
    option, kind = option_kind
    assume(value not in kind if isinstance(kind, list) else not _parses(kind, value))
    run(capsys, [*TINY, option, value, "--out", str(fresh(workdir))], [*names_of(value), option], expect=(2,))


@FUZZ
@given(junk)
def test_eval_and_kan_option_values(capsys, workdir, run_dir, value):
    assume(value not in ("train", "val", "test") and not _parses(int, value) and not _parses(float, value))
    for argv in (["eval", str(run_dir), "--task", "toy/exp-sin", "--split", value],
                 ["eval", str(run_dir), "--task", "toy/exp-sin", "--batch-size", value],
                 ["kan", "plot", str(run_dir), "--out", "k.png", "--samples", value],
                 ["kan", "formula", str(run_dir), "--r2", value]):
        run(capsys, argv, [*names_of(value), argv[-2]], expect=(2,))


@FUZZ
@given(junk)
def test_values_the_cli_parses(capsys, workdir, value):
    """--set and --task-option need KEY=VALUE, --final-splits split names."""
    named = [*names_of(value), "expected one argument"]  # a value that starts with '-' is taken for an option
    out = str(fresh(workdir))
    if "=" not in value:
        run(capsys, [*TINY, "--set", value, "--out", out], named, expect=(2,))
        run(capsys, [*TINY, "--task-option", value, "--out", out], named, expect=(2,))
    splits = [s.strip() for s in value.split(",") if s.strip()]
    if any(s not in ("train", "val", "test") for s in splits):
        bad = next(s for s in splits if s not in ("train", "val", "test"))
        run(capsys, [*TINY, "--final-splits", value, "--out", out], [*named, repr(bad)], expect=(2,))


@FUZZ
@given(st.one_of(word, junk), st.sampled_from(["1", "[2, 2]", '"x"', "null", "NaN", "{}"]))
def test_unknown_config_fields_and_task_options(capsys, workdir, key, value):
    assume(key not in [f.name for f in zoo.info("kan").config] and key not in ("n_train", "n_test", "seed"))
    item = f"{key}={value}"
    named = [*names_of(item), *names_of(key), "expected one argument"]
    run(capsys, [*TINY, "--set", item, "--out", str(fresh(workdir))], named, expect=(2,))
    run(capsys, [*TINY, "--task-option", item, "--out", str(fresh(workdir))], named, expect=(2,))


@FUZZ
@given(st.one_of(st.integers(max_value=0), st.integers(min_value=100_001)),
       st.floats(allow_nan=True).filter(lambda r: not 0 <= r <= 1),
       st.one_of(st.integers(max_value=-1), st.integers(min_value=2**32)))
def test_numbers_out_of_range(capsys, workdir, run_dir, samples, r2, seed):
    run(capsys, ["kan", "formula", str(run_dir), "--samples", str(samples)], [str(samples)], expect=(2,))
    text = str(r2)
    run(capsys, ["kan", "formula", str(run_dir), "--r2", text], [text, "expected one argument"], expect=(2,))
    run(capsys, [*TINY, "--seed", str(seed), "--out", str(fresh(workdir))], [str(seed), "expected one argument"],
        expect=(2,))


def _not_a_name(text: str) -> bool:
    known = set(zoo.list_models()) | set(zoo.list_tasks()) | set(zoo.list_models(pretrained=True))
    return text not in known and text.partition(".")[0] not in known and not text.startswith(("-", "hf-hub:"))


@FUZZ
@given(junk)
def test_unknown_names(capsys, workdir, name):
    assume(_not_a_name(name))
    named = [*names_of(name), repr(name.partition(".")[0])]
    for argv in (["info", name], ["download", name], ["kan", "formula", name], ["eval", name, "--task", "toy/exp-sin"],
                 ["train", name, "--task", "toy/exp-sin", "--epochs", "1", "--out", str(fresh(workdir))],
                 [*TINY, "--out", str(fresh(workdir)), "--task", name],
                 ["eval", name, "--task", name]):
        run(capsys, argv, named, expect=(2,))


@FUZZ
@given(word)
def test_paths_that_do_not_exist_or_are_files(capsys, workdir, run_dir, name):
    missing = str(workdir / "missing" / name)
    a_file = str(workdir / "a-file.txt")
    for path in (missing, a_file):
        for argv in (["eval", path, "--task", "toy/exp-sin"], ["kan", "plot", path, "--out", "k.png"],
                     ["kan", "formula", path], ["push", path, "org/name"]):
            run(capsys, argv, names_of(path), expect=(2,))
    for argv in ([*TINY, "--out", a_file], [*TINY, "--out", f"{a_file}/{name}"],
                 ["kan", "plot", str(run_dir), "--out", str(workdir)],
                 ["kan", "plot", str(run_dir), "--out", f"{a_file}/{name}.png"]):
        run(capsys, argv, names_of(argv[-1]), expect=(2,))


@settings(FUZZ, max_examples=4)
@given(st.sampled_from(["adamw", "adam", "sgd"]), st.sampled_from(["constant", "cosine", "linear"]),
       st.integers(1, 64), st.floats(1e-4, 0.1), st.sampled_from(["", "train", "test", "train,test"]),
       st.integers(0, 2**31 - 1))
def test_tiny_runs_that_should_work(capsys, workdir, optimizer, schedule, batch_size, lr, final_splits, seed):
    out = fresh(workdir)
    argv = [*TINY, "--optimizer", optimizer, "--schedule", schedule, "--batch-size", str(batch_size),
            "--lr", repr(lr), "--final-splits", final_splits, "--seed", str(seed), "--out", str(out)]
    assert math.isfinite(lr)
    if run(capsys, argv, expect=(0, 1)) == 0:  # 1: the loss diverged, one line says so
        assert (out / "model.safetensors").is_file()
