"""`zoo reproduce`: a paper's scripts are found in its plugin folder without importing them, run
from the package into a folder the user names, write records in the one format, keep the models
they trained, and never overwrite a full record with a smoke run's."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

import zoo
from zoo.errors import BusyError, UnknownNameError, ZooError
from zoo.reproduce import Part, Run, find_parts, recorded, run_part, select_parts, write_record

from conftest import run_zoo

RECORD = dict(claim="a claim", verdict="measured", summary="numbers", setup="how")


def test_parts_are_found_in_the_plugin_folder_without_importing_them():

    parts = find_parts("fan")
    assert [p.name for p in parts][:1] == ["repro"] and {"repro", "perf"} <= {p.name for p in parts}
    assert parts[0].module == "zoo_plugins.fan.repro" and parts[0].folder.name == "fan"
    assert parts[0].command == "zoo reproduce fan --part repro"
    assert recorded(parts[0], "fan")["verdict"] in {"reproduced", "partially reproduced", "not reproduced"}


def test_models_of_one_paper_share_its_scripts():
    assert {p.module for p in find_parts("latent-ode")} == {p.module for p in find_parts("neural-ode")}


@pytest.mark.parametrize("name, part, message", [
    ("no-such-model", None, "unknown model 'no-such-model'"),
    ("fan", "repr", "has no part 'repr'. Did you mean 'repro'"),
    ("fan.periodic-sin", None, "name a model, not a checkpoint"),
])
def test_bad_names_are_refused_with_suggestions(name, part, message):
    with pytest.raises(UnknownNameError, match=message):
        select_parts(name, part)


def test_write_record_checks_verdict_table_and_names(tmp_path):
    with pytest.raises(ZooError, match="verdict 'great'"):
        write_record(tmp_path, "fan", "x", command="c", **{**RECORD, "verdict": "great"})
    with pytest.raises(ZooError, match="rows as wide as columns"):
        write_record(tmp_path, "fan", "x", command="c", table={"columns": ["a"], "rows": [[1, 2]]}, **RECORD)
    with pytest.raises(ZooError, match="plain file name"):
        write_record(tmp_path, "fan", "../escape", command="c", **RECORD)
    with pytest.raises(ZooError, match="plain file name"):
        write_record(tmp_path, "fan", "ok", command="c", figures=["../../x.png"], **RECORD)
    path = write_record(tmp_path, "fan", "ok", command="c", **RECORD)
    record = json.loads(path.read_text())
    assert record["verdict"] == "measured" and record["machine"]["torch"] and "quick" not in record
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ok.json"]


def test_quick_run_never_replaces_a_full_record(tmp_path):
    part = find_parts("fan")[0]
    full = Run(part, tmp_path)
    full.record("fan", **RECORD)
    quick = Run(part, tmp_path, quick=True)
    with pytest.raises(ZooError, match="holds a full run's record"):
        quick.record("fan", **RECORD)
    assert "quick" not in json.loads((tmp_path / "results" / "fan.json").read_text())
    quick.record("other", **RECORD)
    quick.record("other", **RECORD)  # a quick record may replace a quick one
    assert json.loads((tmp_path / "results" / "other.json").read_text())["command"].endswith("--part repro --quick")


def test_a_second_run_into_the_same_folder_is_refused(tmp_path, monkeypatch):
    import types

    started, release = threading.Event(), threading.Event()

    def slow(run):
        started.set()
        release.wait(10)

    part = Part("fan", "repro", "fake_slow_part", Path(zoo.__file__).parent)
    monkeypatch.setitem(__import__("sys").modules, "fake_slow_part", types.SimpleNamespace(reproduce=slow))
    thread = threading.Thread(target=run_part, args=(part, tmp_path))
    thread.start()
    try:
        assert started.wait(10)
        errors = []

        def second():
            try:
                run_part(part, tmp_path)
            except BusyError as exc:
                errors.append(exc)

        other = threading.Thread(target=second)
        other.start()
        other.join(10)
        assert errors and "zoo reproduce fan" in str(errors[0])
    finally:
        release.set()
        thread.join(10)


def test_quick_reproduction_from_the_command_line(tmp_path):
    """The whole path: the CLI runs fan's reproduction at smoke size, writes its record and figure
    where it was told, keeps the model it trained as a loadable repo, and says the verdict is not
    comparable with the recorded one."""
    out = tmp_path / "fan-run"
    done = run_zoo("reproduce", "fan", "--part", "repro", "--quick", "--out", str(out), timeout=300)
    assert done.returncode == 0, done.stderr
    assert "fan fan: " in done.stdout and "(recorded: partially reproduced) [quick run: not comparable]" in done.stdout
    record = json.loads((out / "results" / "fan.json").read_text())
    assert record["quick"] is True and record["command"] == "zoo reproduce fan --part repro --quick"
    assert (out / "results" / "fan_extrapolation.png").stat().st_size > 1000
    model = zoo.load(out / "weights" / "periodic-sin")
    assert model.zoo_identity.architecture == "fan"
    assert "kept fan.periodic-sin" in done.stdout


def test_cli_errors_are_one_line(tmp_path):
    done = run_zoo("reproduce", "fan", "--part", "nope", "--out", str(tmp_path))
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "has no part 'nope'" in done.stderr
    done = run_zoo("reproduce")
    assert done.returncode == 2 and "name a model or a training method (or --list)" in done.stderr


def test_list_shows_parts_and_recorded_verdicts():
    done = run_zoo("reproduce", "--list", "--json")
    assert done.returncode == 0, done.stderr
    rows = {(r["model"], r["part"]): r["records"] for r in json.loads(done.stdout)}
    assert rows[("fan", "repro")] == {"fan": "partially reproduced"}
    assert ("kan", "repro_toy") in rows


def test_a_kept_model_without_its_run_leaves_no_earlier_runs_metrics(tmp_path):
    """Run.keep into a folder that held an earlier checkpoint and its run: the earlier metrics.json and
    curves.png must not pass for the new model's."""
    import torch

    import zoo
    from zoo.reproduce import Part, Run

    run = Run(Part("kan", "repro", "zoo_plugins.kan.repro_toy", tmp_path), tmp_path)
    model = zoo.create("kan", width=[2, 2, 1])
    x = torch.rand(32, 2)
    trained = zoo.train(model, (x, x.sum(1, keepdim=True)), epochs=1, out_dir=tmp_path / "run", progress=False)
    folder = run.keep(model, "toy", run=trained.out_dir)
    assert (folder / "metrics.json").exists() and (folder / "curves.png").exists()
    again = run.keep(zoo.create("kan", width=[2, 2, 1]), "toy")
    assert again == folder and not (folder / "metrics.json").exists() and not (folder / "curves.png").exists()
    assert zoo.load(folder).zoo_identity.weights == "toy"
