"""zoo.train / zoo.evaluate: plain data and named tasks, determinism, exact resume, NaN stops,
callbacks, early stopping, schedules, gradient accumulation, the training-step override, reports,
and every kind of bad input. Small models and data, so the whole file runs in well under a minute."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset
from train_helpers import Interrupt

import zoo
from zoo.errors import ConfigError, ZooError
from zoo.training import CallbackWarning, CheckpointError, NonFiniteLossError, TaskMismatchError, evaluate, train
from zoo.training.checkpoint import CHECKPOINTS, latest_checkpoint


def regression_data(n=96, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 3, generator=g) * 2 - 1
    return x, (x[:, :1] * 2 - x[:, 1:2] + 0.5 * x[:, 2:] ** 2)


def mlp(out=1, dropout=0.0, seed=0, inputs=3):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(inputs, 16), nn.Tanh(), nn.Dropout(dropout), nn.Linear(16, out))


def same_weights(a: nn.Module, b: nn.Module) -> bool:
    return all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))


# --- training works --------------------------------------------------------------------------------


def test_arrays_regression_learns_and_evaluate_agrees_with_final():
    x, y = regression_data()
    model = mlp()
    result = train(model, {"train": (x, y), "test": regression_data(48, seed=1)}, epochs=30, batch_size=16, lr=0.02)
    assert [h["epoch"] for h in result.history] == list(range(1, 31))
    assert result.history[-1]["train_loss"] < 0.2 * result.history[0]["train_loss"]
    assert result.stopped == "completed" and result.steps == 30 * 6
    metrics = evaluate(model, {"train": (x, y), "test": regression_data(48, seed=1)})
    assert metrics["rmse"] == pytest.approx(result.final["test_rmse"], rel=1e-6)
    assert metrics["loss"] == pytest.approx(metrics["rmse"] ** 2, rel=1e-4)


def test_named_task_classification_reaches_good_accuracy():
    model = mlp(out=3, inputs=4)
    result = train(model, "iris", epochs=25, batch_size=16, lr=0.03)
    assert set(result.final) >= {"train_loss", "val_accuracy", "test_accuracy"}
    assert "val_accuracy" in result.history[-1]  # iris has a validation split: it is evaluated per epoch
    assert result.final["test_accuracy"] >= 0.85


def test_final_splits_chooses_what_is_evaluated_after_training():
    data = {"train": regression_data(), "test": regression_data(48, seed=1)}
    only_test = train(mlp(), data, epochs=1, batch_size=16, final_splits=["test"])
    assert set(only_test.final) == {"test_loss", "test_rmse", "test_mae"}
    assert train(mlp(), data, epochs=1, batch_size=16, final_splits=[]).final == {}
    with pytest.raises(ConfigError, match="final_splits must name train, val or test.*'tset'"):
        train(mlp(), data, epochs=1, final_splits=["tset"])
    with pytest.raises(ValueError, match="has no 'val' split"):
        train(mlp(), data, epochs=1, final_splits=["val"])


def test_dataset_and_dataloader_inputs():
    x, y = regression_data(64)
    model = mlp()
    result = train(model, TensorDataset(x, y), epochs=2, batch_size=16)
    assert result.steps == 8 and "train_loss" in result.final
    loader = DataLoader(TensorDataset(x, y), batch_size=32, shuffle=False)
    result = train(model, loader, epochs=1)  # the resume-order warning: tests/test_train_dict_batches.py
    assert result.steps == 2
    labels = (x[:, 0] > 0).long()
    result = train(mlp(out=2), (x.numpy(), labels.numpy()), epochs=3, batch_size=16)
    assert 0.0 <= result.final["train_accuracy"] <= 1.0


def test_same_seed_same_result_different_seed_different():
    x, y = regression_data()
    runs = []
    for seed in (3, 3, 4):
        model = mlp(dropout=0.2)
        train(model, (x, y), epochs=2, batch_size=16, seed=seed)
        runs.append(model)
    assert same_weights(runs[0], runs[1])
    assert not same_weights(runs[0], runs[2])


def test_model_by_name_is_created_for_the_task():
    result = train("kan", "toy/xy", task_options={"n_train": 32, "n_test": 32}, epochs=1, batch_size=32)
    assert result.steps == 1 and "test_rmse" in result.final


# --- exact resume ---------------------------------------------------------------------------------


def test_resume_inside_an_epoch_is_bitwise_identical(tmp_path):
    x, y = regression_data(80)
    options = dict(epochs=3, batch_size=16, lr=0.01, schedule="cosine", warmup_steps=3, checkpoint_every=3,
                   seed=1, eval_splits=["train"])
    reference = mlp(dropout=0.3)
    expected = train(reference, (x, y), **options)

    interrupted = mlp(dropout=0.3)
    with pytest.raises(KeyboardInterrupt):
        train(interrupted, (x, y), out_dir=tmp_path, callbacks=[Interrupt(after=3)], **options)
    stopped_at = latest_checkpoint(tmp_path)
    assert stopped_at.name == "epoch-00001-batch-000001"  # steps 3, epoch end, step 6: inside epoch 2
    resumed = mlp(dropout=0.3, seed=99)  # different init: everything must come from the checkpoint
    result = train(resumed, (x, y), out_dir=tmp_path, resume=True, **options)
    assert same_weights(reference, resumed)
    assert result.history == expected.history
    assert result.final == expected.final


def test_resume_refuses_another_run_and_corrupt_checkpoints(tmp_path):
    x, y = regression_data(32)
    train(mlp(), (x, y), epochs=1, batch_size=16, out_dir=tmp_path)
    with pytest.raises(CheckpointError, match=r"lr=0\.001 \(now 0\.5\)"):
        train(mlp(), (x, y), epochs=2, batch_size=16, lr=0.5, out_dir=tmp_path, resume=True)
    latest = latest_checkpoint(tmp_path)
    (latest / "state.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="corrupt"):
        train(mlp(), (x, y), epochs=2, batch_size=16, out_dir=tmp_path, resume=True)
    with pytest.raises(ZooError, match="already holds the checkpoints of a run"):
        train(mlp(), (x, y), epochs=1, batch_size=16, out_dir=tmp_path)
    train(mlp(), (x, y), epochs=1, batch_size=16, out_dir=tmp_path, overwrite=True)  # a good checkpoint again
    latest = latest_checkpoint(tmp_path)
    data = (latest / "state.safetensors").read_bytes()
    (latest / "state.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="state.safetensors"):
        train(mlp(), (x, y), epochs=2, batch_size=16, out_dir=tmp_path, resume=True)
    with pytest.raises(CheckpointError, match="no checkpoint"):
        train(mlp(), (x, y), epochs=2, resume=tmp_path / "missing")


def test_checkpoints_are_safetensors_and_json_only(tmp_path):
    x, y = regression_data(32)
    (tmp_path / CHECKPOINTS).mkdir()
    (tmp_path / CHECKPOINTS / ".epoch-00009-batch-000000.partial").mkdir()  # left by a killed run
    train(mlp(), (x, y), epochs=2, batch_size=16, out_dir=tmp_path, keep_checkpoints=1)
    folders = [p.name for p in (tmp_path / CHECKPOINTS).iterdir()]
    assert folders == ["epoch-00002-batch-000000"]
    files = sorted(p.name for p in (tmp_path / CHECKPOINTS / folders[0]).iterdir())
    assert files == ["model.safetensors", "rng-rank0.json", "rng-rank0.safetensors", "state.json", "state.safetensors"]
    state = json.loads((tmp_path / CHECKPOINTS / folders[0] / "state.json").read_text())
    assert state["run"]["epoch"] == 2 and state["optimizers"]["main"]["state"]


# --- stopping ---------------------------------------------------------------------------------------


class NaNAfter(nn.Module):
    """A linear model whose output becomes NaN from its `after`-th training forward on."""

    def __init__(self, after):
        super().__init__()
        torch.manual_seed(0)
        self.linear, self.after, self.calls = nn.Linear(3, 1), after, 0

    def forward(self, x):
        if self.training:
            self.calls += 1
        out = self.linear(x)
        return out * float("nan") if self.calls >= self.after else out


def test_nan_loss_stops_with_clear_error_and_keeps_last_good_checkpoint(tmp_path):
    x, y = regression_data(32)
    with pytest.raises(NonFiniteLossError, match=r"became nan at epoch 3, batch 1.*Last good checkpoint: .*epoch-00002"):
        train(NaNAfter(after=5), (x, y), epochs=5, batch_size=16, out_dir=tmp_path)
    kept = latest_checkpoint(tmp_path)
    assert kept.name == "epoch-00002-batch-000000"
    from safetensors.torch import load_file

    assert all(torch.isfinite(t).all() for t in load_file(kept / "model.safetensors").values())
    report = json.loads((tmp_path / "metrics.json").read_text())
    assert report["stopped"].startswith("non-finite loss") and len(report["history"]) == 2


def test_early_stopping_restores_the_best_epoch():
    x, y = regression_data(64)
    noise = torch.randn(32, 1, generator=torch.Generator().manual_seed(5)) * 10  # val targets unrelated to x
    snapshots = {}

    class Snapshot:
        def zoo_train_epoch_end(self, run, metrics):
            snapshots[metrics["epoch"]] = {k: v.clone() for k, v in run.model.state_dict().items()}

    model = mlp()
    result = train(model, {"train": (x, y), "val": (x[:32], noise)}, epochs=50, batch_size=16, lr=0.05,
                   patience=2, callbacks=[Snapshot()])
    assert result.stopped == "early_stopping"
    assert result.epochs == result.best_epoch + 2 < 50
    best = snapshots[result.best_epoch]
    assert all(torch.equal(v, best[k]) for k, v in model.state_dict().items())


def test_best_epoch_is_restored_when_all_epochs_ran():
    x, y = regression_data(64)
    noise = torch.randn(32, 1, generator=torch.Generator().manual_seed(5)) * 10
    snapshots = {}

    class Snapshot:
        def zoo_train_epoch_end(self, run, metrics):
            snapshots[metrics["epoch"]] = {k: v.clone() for k, v in run.model.state_dict().items()}

    model = mlp()
    result = train(model, {"train": (x, y), "val": (x[:32], noise)}, epochs=6, batch_size=16, lr=0.05,
                   patience=100, callbacks=[Snapshot()])
    assert result.stopped == "completed" and result.best_epoch < 6
    assert all(torch.equal(v, snapshots[result.best_epoch][k]) for k, v in model.state_dict().items())
    kept = mlp()
    train(kept, {"train": (x, y), "val": (x[:32], noise)}, epochs=6, batch_size=16, lr=0.05, patience=100,
          restore_best=False)
    assert all(torch.equal(v, snapshots[6][k]) for k, v in kept.state_dict().items())


def test_max_steps_and_lr_schedule():
    x, y = regression_data(64)
    result = train(mlp(), (x, y), epochs=10, batch_size=16, lr=0.1, schedule="linear", warmup_steps=4, max_steps=10)
    assert result.stopped == "max_steps" and result.steps == 10 and result.epochs == 3
    # after 4 warmup steps the rate falls linearly to 0 at step 10 (the horizon is max_steps)
    assert [round(h["lr"], 6) for h in result.history] == [round(0.1 * (1 - 0 / 6), 6),
                                                           round(0.1 * (1 - 4 / 6), 6), 0.0]


def test_gradient_accumulation_matches_a_larger_batch():
    x, y = regression_data(64)
    big, small = mlp(), mlp()
    train(big, (x, y), epochs=2, batch_size=32, optimizer="sgd", lr=0.1, seed=2)
    train(small, (x, y), epochs=2, batch_size=8, grad_accumulation=4, optimizer="sgd", lr=0.1, seed=2,
          shuffle=False)
    train(big2 := mlp(), (x, y), epochs=2, batch_size=32, optimizer="sgd", lr=0.1, seed=2, shuffle=False)
    for a, b in zip(small.parameters(), big2.parameters()):
        assert torch.allclose(a, b, atol=1e-6)
    assert not same_weights(big, small)  # shuffled order differs: the comparison above is not vacuous


# --- callbacks ------------------------------------------------------------------------------------------


def test_a_failing_callback_is_reported_and_training_goes_on():
    seen = []

    class Broken:
        def zoo_train_epoch_end(self, metrics):
            raise RuntimeError("boom")

    class Recorder:
        @zoo.hookimpl
        def zoo_train_epoch_end(self, run, metrics):
            seen.append(metrics["epoch"])

        def zoo_train_end(self, result):
            seen.append(result.stopped)

    x, y = regression_data(32)
    with pytest.warns(CallbackWarning, match="Broken#0 failed in zoo_train_epoch_end: RuntimeError: boom"):
        result = train(mlp(), (x, y), epochs=3, batch_size=16, callbacks=[Broken(), Recorder()])
    assert seen == [1, 2, 3, "completed"]
    assert len(result.callback_errors) == 3 and result.epochs == 3


def test_a_callback_can_stop_training_and_see_batches():
    class StopAfterFive:
        def __init__(self):
            self.losses = []

        def zoo_train_batch_end(self, run, logs):
            self.losses.append(logs["loss"])
            run.should_stop = len(self.losses) == 5

    stopper = StopAfterFive()
    x, y = regression_data(64)
    result = train(mlp(), (x, y), epochs=10, batch_size=16, callbacks=[stopper])
    assert result.stopped == "callback" and result.steps == 5 and len(stopper.losses) == 5
    with pytest.raises(TypeError, match="does not fit the training hooks"):
        train(mlp(), (x, y), callbacks=[type("Bad", (), {"zoo_train_end": zoo.hookimpl(lambda self, nope: None)})()])


# --- a model that trains itself ---------------------------------------------------------------------


class TwoPartModel(nn.Module):
    """Trains its two halves with two optimizers in its own step, and scores itself at evaluation."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.first, self.second = nn.Linear(3, 1), nn.Linear(3, 1)
        self.eval_calls = 0

    def forward(self, x):
        return self.first(x) + self.second(x)

    def configure_optimizers(self, lr):
        return {"first": torch.optim.SGD(self.first.parameters(), lr=lr),
                "second": torch.optim.SGD(self.second.parameters(), lr=lr / 10)}

    def training_step(self, batch, step):
        x, y = batch
        loss_first = ((self.first(x) + self.second(x).detach() - y) ** 2).mean()
        step.backward(loss_first)
        step.step("first")
        loss_second = ((self.first(x).detach() + self.second(x) - y) ** 2).mean()
        step.backward(loss_second)
        step.step("second")
        return {"loss": loss_second, "first": loss_first}

    def evaluation_step(self, batch, task):
        self.eval_calls += 1
        return self(batch[0])


def test_training_step_override_with_two_optimizers():
    x, y = regression_data(64)
    model = TwoPartModel()
    before = [p.detach().clone() for p in model.parameters()]
    seen = []

    class Logs:
        def zoo_train_batch_end(self, logs):
            seen.append(logs)

    result = train(model, (x, y), epochs=8, batch_size=16, lr=0.1, callbacks=[Logs()])
    assert all(not torch.equal(a, b) for a, b in zip(before, model.parameters()))
    assert set(seen[0]) == {"loss", "first"}
    assert result.history[-1]["train_loss"] < result.history[0]["train_loss"]
    assert model.eval_calls > 0  # evaluation went through evaluation_step
    assert "train_loss" not in result.final and "train_rmse" in result.final
    # the model builds its optimizers: options that would build another are refused, not ignored
    with pytest.raises(ConfigError, match="optimizer='sgd', weight_decay=0.1 would be ignored"):
        train(TwoPartModel(), (x, y), epochs=1, optimizer="sgd", weight_decay=0.1)


# --- reports, CLI and saved models --------------------------------------------------------------------


def test_report_and_saved_zoo_model(tmp_path):
    out = tmp_path / "run"
    model = zoo.create("kan", task="toy/xy", width=[2, 2, 1], grid=3)
    result = train(model, "toy/xy", task_options={"n_train": 64, "n_test": 64}, epochs=2, batch_size=32,
                   out_dir=out)
    report = json.loads((out / "metrics.json").read_text())
    assert report["task"] == "toy/xy" and report["architecture"] == "kan"
    assert report["config"]["width"] == [2, 2, 1] and report["epochs"] == 2
    assert [set(h) >= {"epoch", "train_loss", "test_rmse"} for h in report["history"]] == [True, True]
    assert all(isinstance(v, (int, float)) for h in report["history"] for v in h.values())
    assert report["final"] == pytest.approx(result.final)
    assert (out / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    loaded = zoo.load(out)
    assert same_weights(loaded, model)
    assert evaluate(loaded, "toy/xy", task_options={"n_train": 64, "n_test": 64})["rmse"] == \
        pytest.approx(result.final["test_rmse"], rel=1e-6)


def test_cli_train_then_eval(tmp_path, capsys):
    from zoo.cli import main

    out = tmp_path / "cli-run"
    code = main(["train", "kan", "--task", "toy/xy", "--task-option", "n_train=64", "--task-option", "n_test=64",
                 "--set", "width=[2,2,1]", "--epochs", "2", "--batch-size", "32", "--lr", "0.01",
                 "--out", str(out), "--json"])
    assert code == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["epochs"] == 2 and printed["out_dir"] == str(out)
    code = main(["eval", str(out), "--json"])  # the task and its options as the run recorded them
    assert code == 0
    assert json.loads(capsys.readouterr().out)["rmse"] == pytest.approx(printed["final"]["test_rmse"], rel=1e-6)
    assert json.loads((out / "metrics.json").read_text())["task_options"] == {"n_train": 64, "n_test": 64}
    assert main(["eval", str(tmp_path / "nothing-here"), "--task", "toy/xy"]) == 2  # bad input, not a crash
    assert "not a directory either" in capsys.readouterr().err


# --- devices and options ---------------------------------------------------------------------------------


def test_bf16_and_compile_options_run_on_cpu():
    x, y = regression_data(32)
    result = train(mlp(), (x, y), epochs=1, batch_size=16, precision="bf16")
    assert math.isfinite(result.final["train_loss"])
    result = train(mlp(), (x, y), epochs=1, batch_size=16, compile="eager")
    assert math.isfinite(result.final["train_loss"])


# --- bad input --------------------------------------------------------------------------------------------


def test_task_model_mismatch_is_caught_before_training():
    model = mlp(out=5, inputs=4)  # iris has 3 classes
    before = [p.detach().clone() for p in model.parameters()]
    with pytest.raises(TaskMismatchError, match=r"'Sequential' does not fit task 'iris'.*5 values.*3 classes"):
        train(model, "iris", epochs=1)
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))
    with pytest.raises(TaskMismatchError, match=r"task 'toy/xy'.*inputs \(\(2, 2\) float32\)"):
        train(mlp(), "toy/xy", task_options={"n_train": 8, "n_test": 8})
    with pytest.raises(TaskMismatchError, match="does not match targets"):
        train(mlp(out=2), regression_data(16))


def test_bad_hyperparameters_and_paths(tmp_path):
    x, y = regression_data(16)
    with pytest.raises(ConfigError, match=r"lr=-1.*greater than 0"):
        train(mlp(), (x, y), lr=-1)
    with pytest.raises(ConfigError, match=r"unknown field 'epoch'.*did you mean 'epochs'"):
        train(mlp(), (x, y), epoch=3)
    with pytest.raises(ConfigError, match="grad_accumulation"):
        train(mlp(), (x, y), optimizer="lbfgs", grad_accumulation=2)
    with pytest.raises(ValueError, match="got 'tpu9'"):
        train(mlp(), (x, y), device="tpu9")
    with pytest.raises(ValueError, match="fp16"):
        train(mlp(), (x, y), precision="fp16", device="cpu")
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(ZooError, match="cannot write the run's output directory"):
        train(mlp(), (x, y), out_dir=blocker / "run")
    with pytest.raises(ZooError, match="cannot train on str|unknown task"):
        train(mlp(), "no-such-task")
    with pytest.raises(ValueError, match="has no 'val' split"):
        train(mlp(), (x, y), eval_splits=["val"])
    with pytest.raises(ValueError, match="resume=True"):
        train(mlp(), (x, y), resume=True)
    with pytest.raises(TypeError, match="nn.Module"):
        train(np.zeros(3), (x, y))


def test_evaluate_inside_a_callback_shares_the_run():
    x, y = regression_data(64)
    scores = []

    class Evaluate:
        def zoo_train_epoch_end(self, run):
            scores.append(evaluate(run.model, (x, y))["rmse"])

    plain, watched = mlp(), mlp()
    options = dict(epochs=2, batch_size=8, grad_accumulation=2, lr=0.05)
    train(plain, (x, y), **options)
    result = train(watched, (x, y), callbacks=[Evaluate()], **options)
    assert not result.callback_errors and len(scores) == 2
    assert same_weights(plain, watched)  # the nested evaluation changed nothing in the run
    assert scores[-1] == pytest.approx(result.final["train_rmse"], rel=1e-6)

    class Nest:
        def zoo_train_start(self):
            train(mlp(), (x, y), epochs=1)

    with pytest.warns(CallbackWarning, match="cannot nest"):
        result = train(mlp(), (x, y), epochs=1, callbacks=[Nest()])
    assert "cannot nest" in result.callback_errors[0]


def test_repeated_evaluations_of_one_task_do_not_carry_metric_state_over():
    from zoo.tasks import ArrayTask

    def task():
        return ArrayTask("t", "regression", {"train": regression_data(), "test": regression_data(48, seed=1)})

    model, reused = mlp(), task()
    evaluate(model, reused, split="test")  # fills the metrics this task's next evaluation reuses
    assert evaluate(model, reused, split="train") == evaluate(model, task(), split="train")


def test_evaluate_moves_a_model_only_when_it_is_elsewhere(monkeypatch):
    moves = []
    original = nn.Module.to

    def counting_to(self, *args, **kwargs):
        moves.append(args)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(nn.Module, "to", counting_to)
    data = regression_data()
    evaluate(mlp(), data, device="cpu")
    assert moves == []  # already on the CPU: no walk over its parameters
    with pytest.raises(NotImplementedError):  # meta tensors cannot be copied: the move was attempted
        evaluate(mlp().to("meta"), data, device="cpu")
    assert moves[-1] == (torch.device("cpu"),)
