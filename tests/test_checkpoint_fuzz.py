"""Resuming from a tampered checkpoint: each edit of state.json, state.safetensors, model.safetensors or
the RNG files is either refused with a ZooError (a CheckpointError) whose message names what was
edited, or changes nothing (the run ends exactly as an untouched resume). Never a bare exception,
never a silently different run.

Edits come in two kinds. Unsealed: a file changed after it was written (corruption, a careless
edit); the digests in state.json catch these. Sealed: the edit is followed by recomputing those
digests, as someone editing on purpose would; then the schema and consistency checks must catch it.
Sealed edits are out-of-domain values (wrong types, out of range, non-finite, inconsistent with the
run, deleted keys, wrong shapes): an in-domain value of a field that nothing else pins down (a
running loss sum, a metric in the history, an optimizer moment) is a valid checkpoint, so those
fields get only out-of-domain junk here.
"""

from __future__ import annotations

import hashlib
import json
import math
import shutil
import tempfile
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from safetensors.torch import load_file, save_file
from train_helpers import Interrupt

from zoo.errors import ZooError
from zoo.training import train
from zoo.training.checkpoint import latest_checkpoint

# 4 batches per epoch, checkpoints every 2 steps: the fourth is in the middle of epoch 2, with one
# epoch of history, an early-stopping record, AdamW moments and a cosine schedule past its warmup
OPTIONS = dict(epochs=3, batch_size=8, lr=0.01, schedule="cosine", warmup_steps=2, checkpoint_every=2, seed=3,
               weight_decay=0.01, patience=5, progress=False)

def fuzz(examples: int):
    return settings(max_examples=examples, deadline=None, database=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def data():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(48, 3, generator=g) * 2 - 1
    y = torch.sin(3 * x[:, :1]) + x[:, 1:2] * x[:, 2:]
    return {"train": (x[:32], y[:32]), "val": (x[32:], y[32:])}


def model(seed=0):
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.Tanh(), torch.nn.Dropout(0.2), torch.nn.Linear(8, 1))


def resume(path: Path) -> dict:
    resumed = model(seed=99)  # everything must come from the checkpoint
    result = train(resumed, data(), resume=path, **OPTIONS)
    return {"history": result.history, "final": result.final, "weights": resumed.state_dict()}


def same_result(a: dict, b: dict) -> bool:
    return (json.dumps(a["history"]) == json.dumps(b["history"]) and json.dumps(a["final"]) == json.dumps(b["final"])
            and all(torch.equal(a["weights"][k], b["weights"][k]) for k in a["weights"]))


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    with pytest.raises(KeyboardInterrupt):
        train(model(), data(), out_dir=out, callbacks=[Interrupt(after=4)], **OPTIONS)
    checkpoint = latest_checkpoint(out)
    assert checkpoint.name == "epoch-00001-batch-000002"
    reference = resume(checkpoint)
    uninterrupted = train(model(), data(), **OPTIONS)
    assert reference["history"] == uninterrupted.history  # the reference is a real, exact resume
    return checkpoint, reference


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def seal(folder: Path) -> None:
    """Recompute the sha256 of every file and state.json's digest, as a deliberate editor would."""
    state = json.loads((folder / "state.json").read_text())
    if isinstance(state.get("files"), dict):
        for name in state["files"]:
            if isinstance(name, str) and (folder / name).is_file():
                state["files"][name] = sha256(folder / name)
    body = {k: v for k, v in state.items() if k != "digest"}
    state["digest"] = hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
    (folder / "state.json").write_text(json.dumps(state))


def outcome(folder: Path, reference: dict, field: str) -> None:
    """The resume from `folder` is refused naming `field`, or ends as the reference."""
    try:
        got = resume(folder)
    except ZooError as exc:
        assert field in str(exc), f"the refusal does not name {field!r}: {exc}"
        return
    assert same_result(got, reference), f"an edit of {field!r} was accepted and changed the run"


def copy_of(checkpoint: Path, scratch: str) -> Path:
    folder = Path(scratch) / checkpoint.name  # same name: the name is checked against the position
    shutil.copytree(checkpoint, folder)
    return folder


# --- state.json --------------------------------------------------------------------------------------

NAN, INF = float("nan"), float("inf")
NOT_NUMBERS = ["junk", "", None, True, [], {}, [1.0], {"a": 1}, {"__tensor__": "x"}, {"__tuple__": [1]}]
NON_FINITE = [NAN, INF, -INF]
NUMBERS = [0, 1, 2, 5, -1, 7, 2**31, 2**53 + 1, 2**64, -2**63, 0.5, -0.5, 1e308, -1e308]
JUNK = NOT_NUMBERS + NON_FINITE + NUMBERS
# fields whose in-domain values nothing else pins down: only out-of-domain junk for them
HISTORY_METRICS = ("val_loss", "val_rmse", "val_mae")


def junk_for(path: tuple) -> list:
    if path == ("run", "epoch_loss") or (path[:2] == ("run", "history") and path[-1] == "train_loss"):
        return NOT_NUMBERS + NON_FINITE  # a running loss sum: any finite number is valid
    if path[:2] == ("run", "history") and path[-1] in HISTORY_METRICS:
        return NOT_NUMBERS  # metrics may be NaN or infinite
    return JUNK


def nodes(value, path=()):
    if path and path[0] != "digest":
        yield path, value
    if isinstance(value, dict):
        for key, item in value.items():
            yield from nodes(item, (*path, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from nodes(item, (*path, i))


def field_name(path: tuple) -> str:
    """The last real key of a path: not a list index, a parameter index or a tensor/tuple marker."""
    for part in reversed(path):
        if isinstance(part, str) and part not in ("__tensor__", "__tuple__") and not part.startswith("__int__:") \
                and not part.isdigit():
            return part
    raise AssertionError(path)


def locate(state: dict, path: tuple):
    parent = state
    for part in path[:-1]:
        parent = parent[part]
    return parent, path[-1]


@fuzz(120)
@given(pick=st.data(), sealed=st.sampled_from([True, True, True, False]))
def test_edited_state_json_is_refused_naming_the_field_or_changes_nothing(written, pick, sealed):
    checkpoint, reference = written
    state = json.loads((checkpoint / "state.json").read_text())
    paths = [p for p, _ in nodes(state)]
    path = pick.draw(st.sampled_from(paths), label="path")
    parent, key = locate(state, path)
    actions = ["replace"]
    if isinstance(parent, dict) and not (path[:3] == ("optimizers", "main", "state") and len(path) == 4):
        actions.append("delete")
    if isinstance(parent[key], list) and parent[key]:
        actions += ["shorten", "lengthen"]
    # (a parameter without gradients has no optimizer state: removing a whole entry is in-domain)
    action = pick.draw(st.sampled_from(actions), label="action")
    if action == "replace":
        parent[key] = pick.draw(st.sampled_from(junk_for(path)), label="junk")
    elif action == "delete":
        del parent[key]
    elif action == "shorten":
        parent[key] = parent[key][:-1]
    else:
        parent[key] = parent[key] + parent[key][-1:]
    with tempfile.TemporaryDirectory() as scratch:
        folder = copy_of(checkpoint, scratch)
        (folder / "state.json").write_text(json.dumps(state))
        if sealed:
            seal(folder)
        outcome(folder, reference, field_name(path) if sealed else "state.json")


# --- the tensor files -----------------------------------------------------------------------------------


def edit_tensor(tensors: dict, key: str, how: str) -> None:
    value = tensors[key]
    if how == "delete":
        del tensors[key]
    elif how == "reshape":
        tensors[key] = value.reshape(-1, 1) if value.dim() != 2 else value.t().contiguous()
        if tensors[key].shape == value.shape:
            tensors[key] = torch.cat([value.reshape(-1), value.reshape(-1)[:1]])
    elif how == "dtype":
        tensors[key] = value.to(torch.float64 if value.dtype != torch.float64 else torch.float32)
    elif how == "nan":
        tensors[key] = value.clone().reshape(-1).index_fill_(0, torch.tensor([0]), NAN).reshape(value.shape)
    elif how == "negative":
        tensors[key] = -(value.abs() + 1)
    elif how == "huge":
        tensors[key] = torch.full_like(value, 1e9)
    else:  # "extra"
        tensors["extra.tensor"] = torch.zeros(3)


def in_domain(key: str, how: str) -> bool:
    """Edits that give a valid value: a negated first moment, a large Adam step count is refused but
    huge moments are not."""
    moment = key.endswith((".exp_avg", ".weight", ".bias"))
    return (how == "negative" and moment) or (how == "huge" and moment) or (how == "huge" and "exp_avg_sq" in key)


@fuzz(60)
@given(pick=st.data(), sealed=st.sampled_from([True, True, True, False]))
def test_edited_tensors_are_refused_naming_the_tensor_or_change_nothing(written, pick, sealed):
    checkpoint, reference = written
    file = pick.draw(st.sampled_from(["state.safetensors", "model.safetensors"]), label="file")
    tensors = load_file(checkpoint / file)
    key = pick.draw(st.sampled_from(sorted(tensors)), label="tensor")
    hows = [h for h in ("delete", "reshape", "dtype", "nan", "negative", "huge", "extra") if not in_domain(key, h)]
    how = pick.draw(st.sampled_from(hows), label="edit")
    edit_tensor(tensors, key, how)
    with tempfile.TemporaryDirectory() as scratch:
        folder = copy_of(checkpoint, scratch)
        save_file(tensors, str(folder / file))
        if sealed:
            seal(folder)
        # state.json names optimizer tensors "optimizers.<name>.state.<i>.<key>"; best weights and
        # model tensors by their state-dict key
        named = "extra.tensor" if how == "extra" else key.split(".", 2)[2] if key.startswith("optimizer.") \
            else key.removeprefix("best.")
        outcome(folder, reference, named if sealed else file)


# --- the RNG files ----------------------------------------------------------------------------------------


RNG_EDITS = {
    "python version": lambda s: s["python"].__setitem__(0, 2),
    "python short": lambda s: s["python"].__setitem__(1, s["python"][1][:-1]),
    "python negative": lambda s: s["python"][1].__setitem__(5, -1),
    "python too big": lambda s: s["python"][1].__setitem__(5, 2**32),
    "python float": lambda s: s["python"][1].__setitem__(5, 1.5),
    "python position": lambda s: s["python"][1].__setitem__(624, 625),
    "python gauss": lambda s: s["python"].__setitem__(2, "x"),
    "numpy name": lambda s: s["numpy"].__setitem__(0, "PCG64"),
    "numpy keys": lambda s: s["numpy"].__setitem__(1, s["numpy"][1] + [1]),
    "numpy key": lambda s: s["numpy"][1].__setitem__(0, None),
    "numpy position": lambda s: s["numpy"].__setitem__(2, 700),
    "numpy gauss flag": lambda s: s["numpy"].__setitem__(3, 2),
    "numpy cached": lambda s: s["numpy"].__setitem__(4, NAN),
    "not a dict": lambda s: s.clear() or s.update({"python": None}),
}
TORCH_EDITS = {
    "short": lambda t: t[:-1].clone(),
    "int64": lambda t: t.to(torch.int64),
    "2-d": lambda t: t.reshape(2, -1).clone(),
    "position out of range": lambda t: torch.cat([t[:8], torch.full((4,), 255, dtype=torch.uint8), t[12:]]),
}


@fuzz(36)
@given(edit=st.sampled_from(sorted(RNG_EDITS) + sorted(f"torch {k}" for k in TORCH_EDITS)),
       sealed=st.sampled_from([True, True, False]))
def test_edited_rng_states_are_refused_naming_the_file(written, edit, sealed):
    checkpoint, reference = written
    with tempfile.TemporaryDirectory() as scratch:
        folder = copy_of(checkpoint, scratch)
        if edit.startswith("torch "):
            file = "rng-rank0.safetensors"
            tensors = load_file(folder / file)
            tensors["rng.torch"] = TORCH_EDITS[edit[len("torch "):]](tensors["rng.torch"])
            save_file(tensors, str(folder / file))
        else:
            file = "rng-rank0.json"
            state = json.loads((folder / file).read_text())
            RNG_EDITS[edit](state)
            (folder / file).write_text(json.dumps(state))
        if sealed:
            seal(folder)
        with pytest.raises(ZooError, match=file.replace(".", r"\.")):
            resume(folder)


# --- damaged files ----------------------------------------------------------------------------------------

FILES = ["state.json", "state.safetensors", "model.safetensors", "rng-rank0.json", "rng-rank0.safetensors"]


@fuzz(50)
@given(file=st.sampled_from(FILES), damage=st.sampled_from(["flip", "truncate", "append", "empty", "delete"]),
       where=st.floats(0, 1))
def test_damaged_files_are_refused_naming_the_file(written, file, damage, where):
    checkpoint, reference = written
    with tempfile.TemporaryDirectory() as scratch:
        folder = copy_of(checkpoint, scratch)
        data = bytearray((folder / file).read_bytes())
        at = min(int(where * len(data)), len(data) - 1)
        if damage == "delete":
            (folder / file).unlink()
        else:
            if damage == "flip":
                data[at] ^= 0x5A
            elif damage == "truncate":
                data = data[:at]
            elif damage == "append":
                data += b"\x00junk"
            else:
                data = bytearray()
            (folder / file).write_bytes(bytes(data))
        with pytest.raises(ZooError, match=file.replace(".", r"\.")):
            resume(folder)


def test_an_untouched_copy_resumes_to_the_reference(written):
    checkpoint, reference = written
    with tempfile.TemporaryDirectory() as scratch:
        folder = copy_of(checkpoint, scratch)
        seal(folder)  # resealing an unchanged checkpoint changes nothing: the test's sealing is faithful
        assert same_result(resume(folder), reference)
    assert not math.isnan(reference["history"][-1]["train_loss"])
