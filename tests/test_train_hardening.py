"""zoo.train and zoo.evaluate under bad input: one writer per run directory, only folders the zoo owns,
resume refusing tampered or inconsistent checkpoints (and applying nothing when it refuses), options
checked before the first step, user errors as ZooErrors, and allocation failures as ResourceError."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from torch import nn
from train_helpers import Interrupt

import zoo
from zoo.errors import BusyError, ConfigError, ResourceError, UnknownNameError, ZooError
from zoo.training import CheckpointError, TaskMismatchError, evaluate, train
from zoo.training.checkpoint import latest_checkpoint
from zoo.training.loop import _DEVICE_TYPES, _available

TESTS = Path(__file__).resolve().parent


def data(n=32, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n + 16, 3, generator=g) * 2 - 1
    y = torch.sin(3 * x[:, :1]) + x[:, 1:2] * x[:, 2:]
    return {"train": (x[:n], y[:n]), "val": (x[n:], y[n:])}


def mlp(seed=0, dropout=0.2):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Dropout(dropout), nn.Linear(8, 1))


def weights(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


def same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def seal(folder: Path) -> None:
    """Recompute the checkpoint's sha256 values and digest after an edit, as a deliberate editor would."""
    state = json.loads((folder / "state.json").read_text())
    for name in state["files"]:
        state["files"][name] = hashlib.sha256((folder / name).read_bytes()).hexdigest()
    body = {k: v for k, v in state.items() if k != "digest"}
    state["digest"] = hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
    (folder / "state.json").write_text(json.dumps(state))


def edit_state(folder: Path, change) -> None:
    state = json.loads((folder / "state.json").read_text())
    change(state)
    (folder / "state.json").write_text(json.dumps(state))
    seal(folder)


# --- one writer per run directory --------------------------------------------------------------------

HOLDER = '''
import json, sys, time
from pathlib import Path
import torch
sys.path.insert(0, sys.argv[2])
from test_train_hardening import data, mlp, OPTIONS
from zoo.training import train

out = Path(sys.argv[1])

class HoldAtFirstCheckpoint:
    def zoo_train_checkpoint(self, path):
        if not (out.parent / "READY").exists():
            (out.parent / "READY").write_text(str(path))
            deadline = time.monotonic() + 120
            while not (out.parent / "GO").exists() and time.monotonic() < deadline:
                time.sleep(0.05)

result = train(mlp(), data(), out_dir=out, callbacks=[HoldAtFirstCheckpoint()], **OPTIONS)
(out.parent / "result.json").write_text(json.dumps({"history": result.history, "final": result.final}))
'''

OPTIONS = dict(epochs=3, batch_size=8, lr=0.01, schedule="cosine", warmup_steps=2, seed=3, progress=False)


def test_a_second_run_into_a_busy_run_directory_is_refused_and_the_first_completes(tmp_path, capsys):
    script = tmp_path / "holder.py"
    script.write_text(HOLDER)
    out = tmp_path / "run"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    holder = subprocess.Popen([sys.executable, str(script), str(out), str(TESTS)], stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, env=env)
    try:
        deadline = time.monotonic() + 240
        while not (tmp_path / "READY").exists():
            assert holder.poll() is None, holder.stdout.read()[-3000:]
            assert time.monotonic() < deadline, "the first run never reached its first checkpoint"
            time.sleep(0.1)
        before = sorted(str(p.relative_to(out)) for p in out.rglob("*"))
        from zoo.cli import main

        # `zoo train` in this process, into the folder the other process holds: refused, resumed or not
        for resume in ([], ["--resume"]):
            assert main(["train", "kan", "--task", "toy/exp-sin", "--set", "width=[2,3,1]", "--epochs", "1",
                         "--out", str(out), *resume]) == 2
            printed = " ".join(capsys.readouterr().err.split())  # rich wraps long lines
            assert "run directory" in printed and f"process {holder.pid}" in printed, printed
        with pytest.raises(BusyError, match="being written by"):
            train(mlp(), data(), out_dir=out, resume=True, **OPTIONS)
        assert sorted(str(p.relative_to(out)) for p in out.rglob("*")) == before  # nothing touched
    finally:
        (tmp_path / "GO").write_text("")
        log, _ = holder.communicate(timeout=240)
    assert holder.returncode == 0, log[-3000:]
    # the first run is whole: its report, model and last checkpoint, which resumes to the same result
    got = json.loads((tmp_path / "result.json").read_text())
    assert json.loads((out / "metrics.json").read_text())["history"] == got["history"]
    assert latest_checkpoint(out).name == "epoch-00003-batch-000000" and (out / "model.safetensors").is_file()
    again = train(mlp(seed=5), data(), out_dir=out, resume=True, **OPTIONS)
    assert again.history == got["history"] and again.steps == 12 and again.stopped == "completed"


def test_the_lock_is_held_for_the_whole_run_and_released_after(tmp_path):
    import threading

    from zoo.locks import exclusive

    out = tmp_path / "run"
    refused = []

    def attempt():  # another writer: another thread (another process is refused the same way)
        try:
            with exclusive(out, "run directory"):
                pass
        except BusyError as exc:
            refused.append(str(exc))

    class TryToWriteToo:
        def zoo_train_start(self):
            self.zoo_train_epoch_end()

        def zoo_train_epoch_end(self):
            thread = threading.Thread(target=attempt)
            thread.start()
            thread.join()

    train(mlp(), data(), out_dir=out, callbacks=[TryToWriteToo()], **OPTIONS)
    assert len(refused) == 4 and all("is being written by process" in r for r in refused)
    attempt()
    assert len(refused) == 4  # released when the run ended


# --- folders the zoo owns --------------------------------------------------------------------------------


def test_out_dir_must_be_a_folder_the_zoo_owns(tmp_path):
    with pytest.raises(ConfigError, match="filesystem root"):
        train(mlp(), data(), out_dir="/", epochs=1)
    file = tmp_path / "notes.txt"
    file.write_text("mine")
    with pytest.raises(ConfigError, match="existing file"):
        train(mlp(), data(), out_dir=file, epochs=1)
    assert file.read_text() == "mine"
    foreign = tmp_path / "photos"
    foreign.mkdir()
    (foreign / "cat.jpg").write_bytes(b"\xff\xd8")
    with pytest.raises(ConfigError, match=r"cat\.jpg.*neither a run directory.*overwrite=True"):
        train(mlp(), data(), out_dir=foreign, epochs=1)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt", "photos"]  # no lock file, nothing else
    assert [p.name for p in foreign.iterdir()] == ["cat.jpg"]
    train(mlp(), data(), out_dir=foreign, epochs=1, overwrite=True)  # asked for: written into, files kept
    assert (foreign / "cat.jpg").read_bytes() == b"\xff\xd8" and latest_checkpoint(foreign) is not None
    repo = tmp_path / "repo"
    zoo.save(zoo.create("kan", task="toy/exp-sin", width=[2, 3, 1]), repo)
    train(mlp(), data(), out_dir=repo, epochs=1)  # a zoo repo is the zoo's
    (tmp_path / "empty").mkdir()
    train(mlp(), data(), out_dir=tmp_path / "empty", epochs=1)
    for bad in (5, ["runs"]):
        with pytest.raises(ConfigError, match="out_dir must be a folder path") as caught:
            train(mlp(), data(), out_dir=bad, epochs=1)
        assert isinstance(caught.value, TypeError)


# --- resume refuses tampered and inconsistent checkpoints -----------------------------------------------


@pytest.fixture()
def interrupted(tmp_path):
    """A run stopped inside epoch 2 (checkpoints every 2 steps, 4 batches per epoch), and its options."""
    options = dict(OPTIONS, checkpoint_every=2, weight_decay=0.01, patience=5)
    with pytest.raises(KeyboardInterrupt):
        train(mlp(), data(), out_dir=tmp_path, callbacks=[Interrupt(after=4)], **options)
    checkpoint = latest_checkpoint(tmp_path)
    assert checkpoint.name == "epoch-00001-batch-000002"
    return tmp_path, checkpoint, options


@pytest.mark.parametrize("field, change, expected", [
    ("run.epoch", lambda s: s["run"].update(epoch=999), r"run\.epoch is 999; expected a position inside epochs=3"),
    ("run.batch", lambda s: s["run"].update(batch=-5), r"run\.batch=-5: Input should be greater than or equal to 0"),
    ("run.batch", lambda s: s["run"].update(batch=3), r"run\.batch is 3; expected a multiple|run\.epoch_batches"),
    ("lr", lambda s: s["optimizers"]["main"]["param_groups"][0].update(lr=10),
     r"optimizers\.main\.param_groups\.0\.lr is 10; expected 0\.00[0-9]+, what lr=0\.01, schedule='cosine'"),
    ("weight_decay", lambda s: s["optimizers"]["main"]["param_groups"][0].update(weight_decay=0.5),
     r"param_groups\.0\.weight_decay is 0\.5; expected 0\.01"),
    ("accelerator_step", lambda s: s.pop("accelerator_step"), r"accelerator_step is missing"),
    ("global_step", lambda s: s["run"].update(global_step=5), r"run\.global_step is 5; expected 6"),
    ("best_epoch", lambda s: s["run"].update(best_epoch=None), r"run\.best_epoch is None; expected 1"),
    ("history", lambda s: s["run"]["history"].clear(), r"run\.history is 0 entries"),
    ("history lr", lambda s: s["run"]["history"][0].update(lr=0.5), r"run\.history\.0\.lr is 0\.5"),
    ("history metric", lambda s: s["run"]["history"][0].pop("val_rmse"), r"run\.history\.0\.val_rmse is missing"),
    ("epoch_loss", lambda s: s["run"].update(epoch_loss=float("nan")), r"run\.epoch_loss=nan"),
    ("scheduler", lambda s: s["schedulers"]["main"].update(last_epoch=2), r"schedulers\.main\.last_epoch is 2"),
    ("task", lambda s: s.update(task="iris"), r"task is 'iris'; expected 'arrays'"),
    ("training", lambda s: s["training"].update(seed=4), r"training\.seed=4 \(now 3\)"),
    ("digest", lambda s: s.update(digest="0" * 64), r"state\.json was edited or damaged"),
])
def test_tampered_state_is_refused_naming_the_field_and_nothing_is_applied(interrupted, field, change, expected):
    out, checkpoint, options = interrupted
    if field == "digest":  # an unsealed edit: the digest catches it
        state = json.loads((checkpoint / "state.json").read_text())
        change(state)
        (checkpoint / "state.json").write_text(json.dumps(state))
    else:
        edit_state(checkpoint, change)
    model = mlp(seed=42)
    before = weights(model)
    with pytest.raises(CheckpointError, match=expected):
        train(model, data(), out_dir=out, resume=True, **options)
    assert same(weights(model), before)  # refused before anything was loaded into the model
    assert latest_checkpoint(out) == checkpoint  # and nothing was written


def test_tampered_tensors_and_rng_files_are_refused(interrupted):
    from safetensors.torch import load_file, save_file

    out, checkpoint, options = interrupted
    original = {name: (checkpoint / name).read_bytes() for name in ("state.safetensors", "rng-rank0.json")}
    tensors = load_file(checkpoint / "state.safetensors")
    tensors["optimizer.main.state.0.exp_avg"] = tensors["optimizer.main.state.0.exp_avg"].t().contiguous()
    save_file(tensors, str(checkpoint / "state.safetensors"))
    with pytest.raises(CheckpointError, match=r"state\.safetensors was damaged or edited"):
        train(mlp(), data(), out_dir=out, resume=True, **options)
    seal(checkpoint)
    with pytest.raises(CheckpointError, match=r"optimizers\.main\.state\.0\.exp_avg is a \(3, 8\) float32 tensor; "
                                              r"expected a \(8, 3\) float32 tensor"):
        train(mlp(), data(), out_dir=out, resume=True, **options)
    (checkpoint / "state.safetensors").write_bytes(original["state.safetensors"])
    state = json.loads(original["rng-rank0.json"])
    state["python"][1] = state["python"][1][:-1]  # "state vector is the wrong size"
    (checkpoint / "rng-rank0.json").write_text(json.dumps(state))
    seal(checkpoint)
    with pytest.raises(CheckpointError, match=r"rng-rank0\.json: python\.1 is 624 values; expected a list of 625"):
        train(mlp(), data(), out_dir=out, resume=True, **options)


def test_resume_of_a_finished_run_and_past_its_end(tmp_path):
    finished = train(mlp(), data(), out_dir=tmp_path, **OPTIONS)
    again = train(mlp(seed=1), data(), out_dir=tmp_path, resume=True, **OPTIONS)
    assert again.history == finished.history and again.steps == finished.steps  # nothing left to train
    with pytest.raises(CheckpointError, match=r"run\.epoch is 3; expected a position inside epochs=2 \(to train "
                                              r"longer, raise epochs\)"):
        train(mlp(), data(), out_dir=tmp_path, resume=True, **dict(OPTIONS, epochs=2))
    longer = train(mlp(), data(), out_dir=tmp_path, resume=True, **dict(OPTIONS, epochs=4))
    assert len(longer.history) == 4 and longer.history[:3] == finished.history


def test_resume_at_max_steps_takes_no_further_step(tmp_path):
    first = train(mlp(), data(), out_dir=tmp_path, **dict(OPTIONS, max_steps=6))
    assert first.steps == 6 and first.stopped == "max_steps"
    again = train(mlp(), data(), out_dir=tmp_path, resume=True, **dict(OPTIONS, max_steps=6))
    assert again.steps == 6 and again.stopped == "max_steps"


class Tied(nn.Module):
    """Input and output layers share one weight (safetensors writes it once)."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.inp, self.out = nn.Linear(3, 3), nn.Linear(3, 3)
        self.out.weight = self.inp.weight
        self.head = nn.Linear(3, 1)

    def forward(self, x):
        return self.head(torch.tanh(self.out(torch.tanh(self.inp(x)))))


class TwoOptimizers(nn.Module):
    """Trains its halves with two optimizers in its own step (the generic optimizer-state checks)."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.first, self.second = nn.Linear(3, 1), nn.Linear(3, 1)

    def forward(self, x):
        return self.first(x) + self.second(x)

    def configure_optimizers(self, lr):
        return {"first": torch.optim.Adam(self.first.parameters(), lr=lr),
                "second": torch.optim.SGD(self.second.parameters(), lr=lr / 10, momentum=0.5)}

    def training_step(self, batch, step):
        loss = step.loss(self(batch[0]), batch)
        step.backward(loss)
        step.step("first")
        step.step("second")
        return {"loss": loss}


@pytest.mark.parametrize("case", ["sgd", "lbfgs", "grad_accumulation", "last_batch", "tied", "two_optimizers"])
def test_valid_checkpoints_of_every_kind_resume_exactly(tmp_path, case):
    options = dict(OPTIONS, checkpoint_every=1)
    build, after = mlp, 3
    if case == "sgd":
        options.update(optimizer="sgd", lr=0.05)
    elif case == "lbfgs":
        options.update(optimizer="lbfgs", lr=0.5, schedule="constant", warmup_steps=0)
    elif case == "grad_accumulation":  # 2 steps per epoch; the 4th checkpoint is inside epoch 2
        options.update(grad_accumulation=2)
        after = 4
    elif case == "last_batch":  # after the last batch of epoch 1, before its evaluation
        options.update(checkpoint_every=4)
        after = 1
    elif case == "tied":
        build = Tied
    else:
        build = TwoOptimizers
    reference = build()
    expected = train(reference, data(), **options)
    with pytest.raises(KeyboardInterrupt):
        train(build(), data(), out_dir=tmp_path, callbacks=[Interrupt(after)], **options)
    if case == "last_batch":
        assert latest_checkpoint(tmp_path).name == "epoch-00000-batch-000004"
    resumed = build()
    torch.nn.init.zeros_(next(resumed.parameters()))  # everything must come from the checkpoint
    result = train(resumed, data(), out_dir=tmp_path, resume=True, **options)
    assert result.history == expected.history and result.final == expected.final
    assert same(weights(resumed), weights(reference))


# --- options checked before the first step ---------------------------------------------------------------


def test_a_monitor_that_the_run_does_not_record_is_refused_before_training(tmp_path):
    batches = []

    class Count:
        def zoo_train_batch_end(self):
            batches.append(1)

    with pytest.raises(ConfigError, match=r"monitor='val_bogus' is not a metric this run records.*val_loss"):
        train(mlp(), data(), out_dir=tmp_path / "run", patience=2, monitor="val_bogus", callbacks=[Count()],
              **OPTIONS)
    assert batches == [] and not (tmp_path / "run").exists()
    with pytest.raises(ConfigError, match=r"monitor='test_loss'.*eval_splits=\['val'\]"):
        train(mlp(), data(), monitor="test_loss", **OPTIONS)
    assert train(mlp(), data(), monitor="val_rmse", patience=2, **OPTIONS).stopped in ("completed", "early_stopping")

    import torchmetrics

    class Parts(torchmetrics.Metric):  # a metric whose value is a dict: <split>_<metric>_<key>
        def __init__(self):
            super().__init__()
            self.add_state("n", default=torch.tensor(0.0), dist_reduce_fx="sum")

        def update(self, preds, target):
            self.n += preds.shape[0]

        def compute(self):
            return {"seen": self.n, "twice": 2 * self.n}

    result = train(mlp(), data(), metrics=lambda: {"parts": Parts()}, monitor="val_parts_seen", patience=2,
                   **OPTIONS)
    assert result.history[0]["val_parts_seen"] == 16.0


def test_bad_options_and_inputs_are_zoo_errors_before_anything_runs(tmp_path):
    missing = next((t for t in _DEVICE_TYPES if not _available(t)), None)
    if missing is not None:
        with pytest.raises(ConfigError, match=f"device '{missing}' is not available"):
            train(mlp(), data(), device=missing, out_dir=tmp_path / "a")
    with pytest.raises(ConfigError, match="precision='fp16' needs a GPU"):
        train(mlp(), data(), device="cpu", precision="fp16", out_dir=tmp_path / "b")
    with pytest.raises(ConfigError, match="precision='fp16' needs a GPU"):
        evaluate(mlp(), data(), device="cpu", precision="fp16")
    with pytest.raises(ConfigError, match="compile='nope' is not a torch.compile backend"):
        train(mlp(), data(), compile="nope")
    with pytest.raises(ConfigError, match=r"seed=4294967296.*less than or equal to 4294967295"):
        train(mlp(), data(), seed=2**32)
    with pytest.raises(ConfigError, match=r"has no 'test' split.*eval_splits=\['test'\]"):
        train(mlp(), data(), eval_splits=["test"])
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
    for kwargs, message in (({"callbacks": 5}, "callbacks must be a list"), ({"task_options": "x"}, "task_options"),
                            ({"resume": 5}, "resume must be"), ({"overwrite": "yes"}, "overwrite must be"),
                            ({"loss": 3}, "loss must be a function")):
        with pytest.raises(ConfigError, match=message) as caught:
            train(mlp(), data(), **kwargs)
        assert isinstance(caught.value, TypeError)  # what callers caught before
    with pytest.raises(ConfigError, match="cannot use this data.*same number of rows"):
        train(mlp(), (torch.zeros(4, 3), torch.zeros(5, 1)))
    with pytest.raises(ConfigError, match="model must be a torch.nn.Module"):
        evaluate("kan", data())

    class NoLoss(nn.Linear):
        def training_step(self, batch, step):
            return None

    with pytest.raises(ConfigError, match="training_step must return a dict"):
        train(NoLoss(3, 1), data(), epochs=1)

    class WrongName(nn.Linear):
        def training_step(self, batch, step):
            step.step("nope")

    with pytest.raises(UnknownNameError, match="no optimizer named 'nope'"):
        train(WrongName(3, 1), data(), epochs=1)


def test_evaluating_a_model_on_a_task_it_does_not_fit(capsys):
    from zoo.cli import main

    kan = zoo.create("kan", task="toy/exp-sin", width=[2, 3, 1])
    with pytest.raises(TaskMismatchError, match=r"model 'kan' does not fit task 'iris'.*\(batch, 2\).*inputs "
                                                r"\(\(\d+, 4\) float32\)"):
        evaluate(kan, "iris")
    assert main(["eval", "kan.toy-exp-sin", "--task", "iris"]) == 2  # the review's command: an error, not a crash
    assert "does not fit task 'iris'" in capsys.readouterr().err
    with pytest.raises(TaskMismatchError, match=r"5 values per position, the task has 3 classes"):
        evaluate(nn.Linear(4, 5), "iris")


# --- allocation failures -----------------------------------------------------------------------------------


class Exhausting(nn.Module):
    """Fails to allocate on its `after`-th training forward."""

    def __init__(self, error):
        super().__init__()
        self.linear, self.error, self.calls = nn.Linear(3, 1), error, 0

    def forward(self, x):
        self.calls += 1
        if self.calls >= 3:
            raise self.error
        return self.linear(x)


@pytest.mark.parametrize("error", [
    torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB"),
    RuntimeError("[enforce fail at alloc_cpu.cpp:117] DefaultCPUAllocator: can't allocate memory: you tried to "
                 "allocate 80000000000 bytes"),
    MemoryError(),
])
def test_allocation_failures_are_resource_errors_naming_the_model_and_batch(error):
    with pytest.raises(ResourceError, match=r"training model 'Exhausting' \(4 parameters\) with batch_size=8 on "
                                            r"cpu ran out of memory"):
        train(Exhausting(error), data(), **OPTIONS)
    with pytest.raises(ResourceError, match=r"evaluating model 'Exhausting' \(4 parameters\) with batch_size=256"):
        model = Exhausting(error)
        model.calls = 2
        evaluate(model, data(), split="val")
    with pytest.raises(ZeroDivisionError):  # anything else is not dressed up as a memory problem
        train(Exhausting(ZeroDivisionError()), data(), **OPTIONS)


def test_errors_are_zoo_errors_with_the_old_bases():
    assert issubclass(CheckpointError, ZooError) and issubclass(TaskMismatchError, ValueError)


def test_loss_scaler_states_are_checked():
    """fp16 runs need a GPU; the scaler's part of the check runs here on a CPU GradScaler."""
    from zoo.training.checkpoint import _check_scaler, _Tensors

    scaler = torch.amp.GradScaler("cpu", enabled=True)
    where, good = Path("ckpt"), scaler.state_dict()
    assert _check_scaler(where, dict(good), _Tensors(where, {}), scaler) == good
    for key, value, message in (("scale", float("nan"), r"scaler\.scale is nan"), ("scale", -1.0, r"scaler\.scale is -1"),
                                ("_growth_tracker", 2000, r"scaler\._growth_tracker is 2000; expected a count in 0\.\.1999"),
                                ("growth_factor", 3.0, r"scaler\.growth_factor is 3\.0; expected 2\.0")):
        with pytest.raises(CheckpointError, match=message):
            _check_scaler(where, {**good, key: value}, _Tensors(where, {}), scaler)
    with pytest.raises(CheckpointError, match=r"scaler is None; expected the fp16 loss scaler's state"):
        _check_scaler(where, None, _Tensors(where, {}), scaler)
    with pytest.raises(CheckpointError, match=r"scaler is \{.*expected None: this run has no loss scaler"):
        _check_scaler(where, good, _Tensors(where, {}), None)


def test_home_and_mount_points_are_not_run_directories(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(ConfigError, match="is your home directory"):
        train(mlp(), data(), out_dir="~", epochs=1, overwrite=True)
    monkeypatch.setattr(os.path, "ismount", lambda path: Path(path) == tmp_path / "disk")
    kan = zoo.create("kan", task="toy/exp-sin", width=[2, 3, 1])
    with pytest.raises(ConfigError, match="is a mount point.*zoo.save"):
        train(kan, "toy/exp-sin", out_dir=tmp_path / "disk", epochs=1)
    assert not (tmp_path / "disk").exists()
