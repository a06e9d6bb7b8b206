"""The `zoo` command line: output, exit codes, errors without tracebacks."""

from __future__ import annotations

import json

from conftest import run_zoo


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
    assert "unknown model 'kna'. Did you mean 'kan'?" in done.stderr
    assert "Traceback" not in done.stderr
    debug = run_zoo("--debug", "info", "kna")
    assert "Traceback" in debug.stderr and "UnknownNameError" in debug.stderr


def test_usage_errors_exit_2():
    assert run_zoo("no-such-command").returncode == 2
    assert run_zoo().returncode == 2


def test_version():
    done = run_zoo("--version")
    assert done.returncode == 0 and done.stdout.startswith("paperzoo ")
