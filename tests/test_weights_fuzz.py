"""Fuzzing zoo.load over corrupted repo folders: the bytes of model.safetensors and config.json
mutated, truncated or replaced, the safetensors header's entries and config.json's fields set to
junk. Every outcome is a loaded model (NaN/inf values come with a RuntimeWarning) or a ZooError
whose message names the folder; no other exception type, no hang, no huge allocation (sizes in
config are kept small so that a junk config cannot ask for gigabytes)."""

from __future__ import annotations

import json
import tempfile
import warnings
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import zoo
from zoo.errors import ZooError

FUZZ = settings(max_examples=60, deadline=None, derandomize=True, database=None)


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> dict:
    torch.manual_seed(0)
    folder = zoo.save(zoo.create("kan", width=[2, 3, 1], grid=4), tmp_path_factory.mktemp("fuzz") / "repo")
    weights = (folder / "model.safetensors").read_bytes()
    size = int.from_bytes(weights[:8], "little")
    return {"config": json.loads((folder / "config.json").read_text()), "weights": weights,
            "header": json.loads(weights[8:8 + size]), "data": weights[8 + size:]}


def _outcome(config: bytes, weights: bytes, verify: bool) -> None:
    """Load a folder holding these files; fail the test on anything but success or a ZooError
    that names the folder."""
    with tempfile.TemporaryDirectory(prefix="zoo-fuzz-") as tmp:
        folder = Path(tmp) / "repo"
        folder.mkdir()
        (folder / "config.json").write_bytes(config)
        (folder / "model.safetensors").write_bytes(weights)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                zoo.load(folder, verify=verify)
            except ZooError as exc:
                assert str(folder) in str(exc), f"{type(exc).__name__} does not name the folder: {exc}"
                assert len(str(exc)) < 5000
                return
        for warning in caught:
            assert issubclass(warning.category, RuntimeWarning) and str(folder) in str(warning.message), warning


def _safetensors(header: dict, data: bytes) -> bytes:
    text = json.dumps(header).encode()
    return len(text).to_bytes(8, "little") + text + data


def _config_bytes(config: dict) -> bytes:
    return json.dumps(config).encode()


junk = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=8,
)
# inside `config` a number can become a layer width: keep them small
small_junk = st.recursive(
    st.none() | st.booleans() | st.integers(-8, 64) | st.floats(-1e3, 1e3) | st.sampled_from(["", "x", "1e9"]),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
byte_edits = st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), min_size=1, max_size=6)


def _edit(data: bytes, edits) -> bytes:
    out = bytearray(data)
    for position, value in edits:
        out[position % len(out)] = value
    return bytes(out)


@FUZZ
@given(kind=st.sampled_from(["truncate", "edit", "size", "append", "replace"]), cut=st.integers(0, 10**6),
       edits=byte_edits, size=st.integers(0, 2**64 - 1), extra=st.binary(max_size=64), verify=st.booleans())
def test_load_survives_mutated_weight_bytes(base, kind, cut, edits, size, extra, verify):
    weights = base["weights"]
    if kind == "truncate":
        weights = weights[:cut % len(weights)]
    elif kind == "edit":
        weights = _edit(weights, edits)
    elif kind == "size":
        weights = size.to_bytes(8, "little") + weights[8:]
    elif kind == "append":
        weights = weights + extra
    else:
        weights = extra
    _outcome(_config_bytes(base["config"]), weights, verify)


@FUZZ
@given(tensor=st.integers(0, 100), field=st.sampled_from(["dtype", "shape", "data_offsets", "extra", None]),
       value=junk | st.sampled_from(["F8_E4M3", "F8_E5M2", "U64", "C64", "BOOL", "I8", "F64"]),
       rename=st.text(max_size=10), metadata=st.none() | junk)
def test_load_survives_junk_safetensors_headers(base, tensor, field, value, rename, metadata):
    header = json.loads(json.dumps(base["header"]))
    names = [n for n in header if n != "__metadata__"]
    name = names[tensor % len(names)]
    if field is None:  # rename a tensor (or drop it when the new name is empty)
        entry = header.pop(name)
        if rename:
            header[rename] = entry
    else:
        header[name][field] = value
    if metadata is not None:
        header["__metadata__"] = metadata
    _outcome(_config_bytes(base["config"]), _safetensors(header, base["data"]), verify=False)


@FUZZ
@given(field=st.sampled_from(["format", "format_version", "architecture", "config", "plugin", "distribution",
                              "distribution_version", "zoo_version", "variant", "weights", "weights_file",
                              "weights_sha256", "unknown"]),
       value=junk, delete=st.booleans(), verify=st.booleans())
def test_load_survives_junk_config_fields(base, field, value, delete, verify):
    config = json.loads(json.dumps(base["config"]))
    if delete:
        config.pop(field, None)
    else:
        config[field] = value
    _outcome(_config_bytes(config), base["weights"], verify)


@FUZZ
@given(field=st.sampled_from(["width", "grid", "k", "grid_range", "noise_scale", "grid_eps", "unknown"]),
       value=small_junk, delete=st.booleans())
def test_load_survives_junk_model_configs(base, field, value, delete):
    config = json.loads(json.dumps(base["config"]))
    if delete:
        config["config"].pop(field, None)
    else:
        config["config"][field] = value
    _outcome(_config_bytes(config), base["weights"], verify=False)


@FUZZ
@given(kind=st.sampled_from(["truncate", "edit", "replace", "deep", "bigint"]), cut=st.integers(0, 10**4),
       edits=byte_edits, extra=st.binary(max_size=64), depth=st.integers(1, 5000))
def test_load_survives_mutated_config_bytes(base, kind, cut, edits, extra, depth):
    text = _config_bytes(base["config"])
    if kind == "truncate":
        text = text[:cut % len(text)]
    elif kind == "edit":
        text = _edit(text, edits)
    elif kind == "replace":
        text = extra
    elif kind == "deep":
        text = text.replace(b'"config": {', b'"config": ' + b"[" * depth + b"]" * depth + b', "x": {', 1)
    else:  # an integer too long for Python to convert
        text = text.replace(b'"grid": 4', b'"grid": ' + b"9" * (depth + 4300), 1)
    _outcome(text, base["weights"], verify=False)
