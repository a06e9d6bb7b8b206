"""Experiment trackers (log_with): what TensorBoard and MLflow receive is read back with their own
readers and compared with metrics.json; bad tracker names and missing packages are refused before
any training starts."""

from __future__ import annotations

import json
import os
import sys

import pytest
import torch
from torch import nn

import zoo
from zoo.errors import ConfigError
from zoo.training import train

pytest.importorskip("tensorboard")
pytest.importorskip("mlflow")

EPOCHS, BATCHES_PER_EPOCH = 2, 4  # 64 training samples in batches of 16


def tiny_run(out, **options):
    torch.manual_seed(0)
    x = torch.rand(80, 3) * 2 - 1
    y = x[:, :1] * 2 - x[:, 1:2]
    model = nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 1))
    result = train(model, {"train": (x[:64], y[:64]), "test": (x[64:], y[64:])}, epochs=EPOCHS, batch_size=16,
                   lr=0.01, out_dir=out, **options)
    report = json.loads((out / "metrics.json").read_text())
    return result, report


def expected_epoch_values(report) -> dict[str, list[tuple[int, float]]]:
    """{metric: [(step, value), ...]} of the run's history, as the trackers should have it."""
    series: dict = {}
    for entry in report["history"]:
        for key, value in entry.items():
            if key != "step":
                series.setdefault(key, []).append((entry["step"], value))
    return series


def check_step_losses(step_losses: list[tuple[int, float]], report) -> None:
    """With log_every=1 and no accumulation, each epoch's step losses average to its train_loss."""
    assert [s for s, _ in step_losses] == list(range(1, EPOCHS * BATCHES_PER_EPOCH + 1))
    for epoch, entry in enumerate(report["history"]):
        losses = [v for s, v in step_losses if epoch * BATCHES_PER_EPOCH < s <= (epoch + 1) * BATCHES_PER_EPOCH]
        assert sum(losses) / len(losses) == pytest.approx(entry["train_loss"], rel=1e-5)


def test_tensorboard_receives_what_metrics_json_holds(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    out = tmp_path / "tb-run"
    result, report = tiny_run(out, log_with="tensorboard", log_every=1)
    events = EventAccumulator(str(out / "logs" / "tb-run"))
    events.Reload()

    def logged(tag):
        return [(e.step, e.value) for e in events.Scalars(tag)]

    expected = expected_epoch_values(report)
    assert set(expected) >= {"epoch", "lr", "train_loss", "test_loss", "test_rmse", "test_mae"}
    for key, points in expected.items():
        got = logged(key)
        assert [s for s, _ in got] == [s for s, _ in points], key
        assert [v for _, v in got] == pytest.approx([v for _, v in points], rel=1e-6), key
    assert report["final"] and report["final"] == result.final
    for key, value in report["final"].items():
        assert logged(f"final_{key}") == [(result.steps, pytest.approx(value, rel=1e-6))]
    check_step_losses(logged("train_step_loss"), report)


def test_mlflow_file_store_receives_what_metrics_json_holds(tmp_path, monkeypatch):
    import mlflow
    from mlflow.tracking import MlflowClient

    monkeypatch.delenv("MLFLOW_ALLOW_FILE_STORE", raising=False)
    uri_before = mlflow.get_tracking_uri()
    out = tmp_path / "mlflow-run"
    result, report = tiny_run(out, log_with=["mlflow"], log_every=1)
    # the run's file store was used only during the run: MLflow's settings are as they were
    assert mlflow.get_tracking_uri() == uri_before
    assert "MLFLOW_ALLOW_FILE_STORE" not in os.environ

    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # MLflow 3 reads file stores only with it
    client = MlflowClient(tracking_uri=(out / "mlruns").as_uri())
    experiment = client.get_experiment_by_name("mlflow-run")
    (run,) = client.search_runs([experiment.experiment_id])
    assert run.info.status == "FINISHED"
    assert run.data.params["batch_size"] == "16" and run.data.params["log_with"] == "['mlflow']"

    def logged(key):
        return sorted((m.step, m.value) for m in client.get_metric_history(run.info.run_id, key))

    for key, points in expected_epoch_values(report).items():
        assert logged(key) == [(s, pytest.approx(v, rel=1e-9)) for s, v in points], key
    for key, value in report["final"].items():
        assert logged(f"final_{key}") == [(result.steps, pytest.approx(value, rel=1e-9))]
    check_step_losses(logged("train_step_loss"), report)


def test_both_trackers_at_once_and_log_every(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    out = tmp_path / "both"
    tiny_run(out, log_with="tensorboard, MLflow", log_every=3)
    events = EventAccumulator(str(out / "logs" / "both"))
    events.Reload()
    assert [e.step for e in events.Scalars("train_step_loss")] == [3, 6]  # 8 steps: sent after steps 3 and 6
    assert (out / "mlruns").is_dir()


def test_a_zoo_model_run_keeps_its_tracker_logs_when_the_model_is_saved(tmp_path):
    out = tmp_path / "kan-run"
    model = zoo.create("kan", task="toy/xy", width=[2, 2, 1], grid=3)
    train(model, "toy/xy", task_options={"n_train": 32, "n_test": 32}, epochs=1, batch_size=32, out_dir=out,
          log_with="tensorboard")
    assert (out / "config.json").is_file()  # saved as a zoo repo (the folder is swapped in as a whole)
    assert list((out / "logs" / "kan-run").glob("events.out.tfevents.*"))


def test_resumed_run_logs_on_from_its_step_and_may_add_trackers(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    out = tmp_path / "resumed"
    x, y = torch.rand(64, 3), torch.rand(64, 1)
    options = dict(batch_size=16, out_dir=out, log_every=2)
    train(nn.Linear(3, 1), (x, y), epochs=1, **options)  # no trackers at first
    train(nn.Linear(3, 1), (x, y), epochs=3, resume=True, log_with="tensorboard", **options)
    events = EventAccumulator(str(out / "logs" / "resumed"))
    events.Reload()
    assert [e.step for e in events.Scalars("epoch")] == [8, 12]  # epochs 2 and 3, after the 4 steps of epoch 1
    assert [e.value for e in events.Scalars("epoch")] == [2, 3]
    assert [e.step for e in events.Scalars("train_step_loss")] == [6, 8, 10, 12]


def test_a_run_refused_while_set_up_leaves_no_tracker_run(tmp_path):
    out = tmp_path / "refused"
    with pytest.raises(zoo.training.TaskMismatchError):
        train(nn.Linear(5, 1), (torch.rand(16, 3), torch.rand(16, 1)), epochs=1, out_dir=out,
              log_with="tensorboard,mlflow")
    assert not (out / "logs").exists() and not (out / "mlruns").exists()


@pytest.mark.parametrize("log_with, message", [
    ("tensorbord", r"unknown tracker 'tensorbord'; known trackers: tensorboard, mlflow.*tensorboard"),
    (["mlflow", "wandb"], r"unknown tracker 'wandb'"),
])
def test_unknown_tracker_is_refused_before_training(tmp_path, log_with, message):
    with pytest.raises(ConfigError, match=message):
        tiny_run(tmp_path / "run", log_with=log_with)
    assert not (tmp_path / "run").exists()  # refused before anything was written


def test_tracker_without_its_package_names_the_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "mlflow", None)  # as if mlflow were not installed
    with pytest.raises(ConfigError, match=r"tracker 'mlflow' needs the 'mlflow' package.*paperzoo\[trackers\]"):
        tiny_run(tmp_path / "run", log_with="mlflow")
    assert not (tmp_path / "run").exists()


def test_trackers_need_a_run_directory():
    with pytest.raises(ConfigError, match="pass out_dir"):
        train(nn.Linear(3, 1), (torch.rand(8, 3), torch.rand(8, 1)), epochs=1, log_with="tensorboard")


def test_log_with_of_the_wrong_type_is_a_config_error():
    with pytest.raises(ConfigError, match="log_with must be a tracker name"):
        train(nn.Linear(3, 1), (torch.rand(8, 3), torch.rand(8, 1)), epochs=1, log_with=3)


def test_cli_log_with_repeatable_and_comma_separated(tmp_path, capsys):
    from zoo.cli import main

    tiny = ["train", "kan", "--task", "toy/xy", "--set", "width=[2,2,1]", "--epochs", "1", "--task-option",
            "n_train=32", "--task-option", "n_test=32", "--no-progress"]
    out = tmp_path / "cli-run"
    assert main([*tiny, "--out", str(out), "--log-with", "tensorboard", "--log-with", "mlflow,tensorboard",
                 "--json"]) == 0
    assert list((out / "logs" / "cli-run").glob("events.out.tfevents.*")) and (out / "mlruns").is_dir()
    assert json.loads((out / "metrics.json").read_text())["training"]["log_with"] == ["tensorboard", "mlflow"]
    capsys.readouterr()
    assert main([*tiny, "--out", str(tmp_path / "bad"), "--log-with", "tensorboard,comet"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "unknown tracker 'comet'" in err
    assert not (tmp_path / "bad").exists()
