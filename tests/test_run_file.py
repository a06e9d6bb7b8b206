"""Run files: every run directory records its fully resolved settings as run.yaml, `zoo train
--config FILE` trains from one (flags override it), a run started by `zoo train` replays bit for bit
on CPU, and a bad file is one line naming what is wrong."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from safetensors.torch import load_file

from zoo.cli import main
from zoo.training.run_file import MAX_RUN_FILE_BYTES, RUN_FILE, read_run_file

KAN = ["train", "kan", "--task", "toy/exp-sin", "--optimizer", "lbfgs", "--lr", "1", "--batch-size", "500",
       "--epochs", "2", "--set", "grid=3", "--task-option", "n_train=200", "--no-progress"]


def only_line(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.splitlines()) == 1, err
    return err.strip()


def weights_of(run: Path) -> dict:
    return load_file(str(run / "model.safetensors"))


def history_of(run: Path) -> list:
    return json.loads((run / "metrics.json").read_text())["history"]


@pytest.fixture(scope="module")
def first_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("runs") / "first"
    assert main([*KAN, "--seed", "3", "--out", str(out)]) == 0
    return out


def test_a_run_records_its_resolved_settings(first_run):
    settings = read_run_file(first_run / RUN_FILE)
    assert settings["model"] == "kan" and settings["task"] == "toy/exp-sin"
    assert settings["task_options"] == {"n_train": 200}
    assert settings["config"]["grid"] == 3 and settings["config"]["width"] == [2, 5, 1]  # sized from the task
    assert settings["train"]["seed"] == 3 and settings["train"]["epochs"] == 2 and settings["train"]["lr"] == 1.0
    assert settings["train"]["weight_decay"] == 0.0  # defaults too: the file is the whole recipe
    assert settings["methods"] == {} and settings["weights"] is None


def test_training_from_the_run_file_replays_the_run_bit_for_bit(first_run, tmp_path):
    again = tmp_path / "again"
    assert main(["train", "--config", str(first_run / RUN_FILE), "--out", str(again)]) == 0
    first, second = weights_of(first_run), weights_of(again)
    assert first.keys() == second.keys()
    for name in first:
        assert np.array_equal(first[name].numpy(), second[name].numpy()), name
    assert [e["train_loss"] for e in history_of(first_run)] == [e["train_loss"] for e in history_of(again)]
    assert (again / RUN_FILE).read_text() == (first_run / RUN_FILE).read_text()


def test_flags_override_the_run_file(first_run, tmp_path):
    out = tmp_path / "changed"
    assert main(["train", "--config", str(first_run / RUN_FILE), "--out", str(out), "--epochs", "1",
                 "--set", "grid=4", "--task-option", "n_train=100"]) == 0
    settings = read_run_file(out / RUN_FILE)
    assert settings["train"]["epochs"] == 1 and settings["train"]["seed"] == 3  # the rest from the file
    assert settings["config"]["grid"] == 4 and settings["task_options"] == {"n_train": 100}
    assert len(history_of(out)) == 1


def test_a_hand_written_run_file_needs_only_what_differs_from_the_defaults(tmp_path, capsys):
    path = tmp_path / "mine.yaml"
    path.write_text("model: kan\ntask: toy/exp-sin\ntask_options: {n_train: 100}\n"
                    "train: {epochs: 1, optimizer: lbfgs, lr: 1, batch_size: 100, progress: false}\n")
    assert main(["train", "--config", str(path), "--out", str(tmp_path / "run")]) == 0
    assert read_run_file(tmp_path / "run" / RUN_FILE)["config"]["grid"] == 5  # the catalog default


def test_a_method_run_records_its_methods_and_replays_them(tmp_path):
    argv = [*KAN[:4], "--epochs", "1", "--batch-size", "100", "--task-option", "n_train=100", "--no-progress",
            "--method", "gradient-noise", "--method-option", "gradient-noise.eta=0.05"]
    assert main([*argv, "--out", str(tmp_path / "a")]) == 0
    settings = read_run_file(tmp_path / "a" / RUN_FILE)
    assert settings["methods"]["gradient-noise"]["eta"] == 0.05
    assert main(["train", "--config", str(tmp_path / "a" / RUN_FILE), "--out", str(tmp_path / "b")]) == 0
    a, b = weights_of(tmp_path / "a"), weights_of(tmp_path / "b")
    assert all(np.array_equal(a[k].numpy(), b[k].numpy()) for k in a)


def test_a_run_on_arrays_writes_no_run_file_and_leaves_no_stale_one(tmp_path):
    import torch

    import zoo

    out = tmp_path / "arrays"
    assert main([*KAN, "--out", str(out)]) == 0 and (out / RUN_FILE).exists()
    model = zoo.create("kan", width=[2, 3, 1])
    x = torch.rand(64, 2)
    zoo.train(model, (x, x.sum(1, keepdim=True)), epochs=1, out_dir=out, overwrite=True, progress=False)
    assert not (out / RUN_FILE).exists()  # arrays are no setting a file can hold


def test_a_folder_with_only_a_run_file_is_a_run_to_continue(tmp_path):
    """A run stopped before its first checkpoint leaves run.yaml alone; training into it again is allowed."""
    out = tmp_path / "stopped"
    out.mkdir()
    assert main([*KAN, "--out", str(out)]) == 0
    for entry in out.iterdir():
        if entry.name != RUN_FILE:
            __import__("shutil").rmtree(entry) if entry.is_dir() else entry.unlink()
    assert main([*KAN, "--out", str(out)]) == 0


@pytest.mark.parametrize("text, expected", [
    ("model: [unclosed", "is not valid YAML at line 1"),
    ("- just\n- a list\n", "holds a list; expected a mapping of model"),
    ("model: kan\nepochs: 3\n", "unknown key 'epochs'; expected some of model"),
    ("modle: kan\n", "Did you mean 'model'?"),
    ("model: kan\ntrain: 3\n", "train is a int; expected a mapping"),
    ("model: 5\n", "model=5; expected a name"),
    ("model: kan\nmethods: {ewc: 1}\n", "methods.ewc is a int; expected a mapping of options"),
])
def test_a_bad_run_file_is_one_line_naming_the_problem(tmp_path, capsys, text, expected):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    capsys.readouterr()
    assert main(["train", "--config", str(path), "--task", "toy/exp-sin"]) == 2
    line = only_line(capsys)
    assert expected in line and "bad.yaml" in line


def test_bad_run_file_paths_and_values_are_refused_before_any_work(tmp_path, capsys):
    huge = tmp_path / "huge.yaml"
    huge.write_text("model: kan\n" + "#" * MAX_RUN_FILE_BYTES)
    cases = [
        (["--config", str(tmp_path / "missing.yaml")], "does not exist"),
        (["--config", str(tmp_path)], "is a folder; expected a YAML file"),
        (["--config", str(huge)], f"a run file is at most {MAX_RUN_FILE_BYTES} bytes"),
    ]
    wrong_value = tmp_path / "lr.yaml"
    wrong_value.write_text(yaml.safe_dump({"model": "kan", "task": "toy/exp-sin", "train": {"lr": -1}}))
    cases.append((["--config", str(wrong_value), "--out", str(tmp_path / "never")], "lr"))
    other_model = tmp_path / "kan.yaml"
    other_model.write_text("model: kan\ntask: toy/exp-sin\n")
    cases.append((["mlp-mixer", "--config", str(other_model)], "is a run of 'kan'"))
    cases.append(([], "required: name"))
    cases.append((["kan"], "required: --task"))
    for argv, expected in cases:
        capsys.readouterr()
        assert main(["train", *argv]) == 2, argv
        assert expected in only_line(capsys), argv
    assert not (tmp_path / "never").exists()
