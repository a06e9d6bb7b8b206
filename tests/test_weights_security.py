"""Safetensors only: pickle checkpoints are refused unread. A planted malicious pickle (one whose
unpickling creates a marker file) is shown to be live, then shown never to run through the zoo;
and no project source calls torch.load or unpickles anything."""

from __future__ import annotations

import json
import pickle
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import zoo
from zoo.catalog import parse_catalog
from zoo.errors import UnsafeCheckpointError
from zoo.repo_files import load_weights

ROOT = Path(__file__).resolve().parents[1]


class _Payload:
    """Unpickling this calls open(marker, "w"): the file appearing proves the pickle ran."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _plant(path: Path, marker: Path, fmt: str) -> Path:
    if fmt == "torch.save":  # a zip archive holding data.pkl, as torch.save writes
        torch.save({"weight": _Payload(marker)}, path)
    else:
        path.write_bytes(pickle.dumps({"weight": _Payload(marker)}, protocol=4))
    return path


@pytest.fixture
def no_unpickling(monkeypatch):
    """Fail loudly if anything in the zoo reaches an unpickler while the test runs."""
    def refuse(*args, **kwargs):
        raise AssertionError("the zoo tried to unpickle")

    for target in ("pickle.load", "pickle.loads", "pickle.Unpickler", "torch.load"):
        monkeypatch.setattr(target, refuse)


@pytest.mark.parametrize("fmt", ["torch.save", "pickle"])
def test_planted_pickle_is_live(tmp_path, fmt):
    """Control: the payload really runs when unpickled (in a child process), so its absence below
    means the zoo never unpickled it. torch.save's archive holds the pickle as */data.pkl."""
    marker = tmp_path / "pwned"
    checkpoint = _plant(tmp_path / "pytorch_model.bin", marker, fmt)
    reader = ("import pickle, sys, zipfile\n"
              "path = sys.argv[1]\n"
              "if zipfile.is_zipfile(path):\n"
              "    archive = zipfile.ZipFile(path)\n"
              "    pickle.loads(archive.read(next(n for n in archive.namelist() if n.endswith('data.pkl'))))\n"
              "else:\n"
              "    pickle.load(open(path, 'rb'))\n")
    subprocess.run([sys.executable, "-c", reader, str(checkpoint)], check=True, timeout=60)
    assert marker.exists()


@pytest.mark.parametrize("fmt", ["torch.save", "pickle"])
def test_pickle_only_directory_is_refused_unread(tmp_path, fmt, no_unpickling):
    marker = tmp_path / "pwned"
    repo = tmp_path / "repo"
    repo.mkdir()
    _plant(repo / "pytorch_model.bin", marker, fmt)
    with pytest.raises(UnsafeCheckpointError, match=r"pytorch_model\.bin.*arbitrary code"):
        zoo.load(repo)
    with pytest.raises(UnsafeCheckpointError, match="pickle"):
        zoo.load(repo / "pytorch_model.bin")
    assert not marker.exists()


@pytest.mark.parametrize("fmt", ["torch.save", "pickle"])
def test_pickle_disguised_as_safetensors_is_refused_unread(tmp_path, fmt, no_unpickling):
    marker = tmp_path / "pwned"
    repo = zoo.save(zoo.create("kan", width=[2, 2]), tmp_path / "repo")
    _plant(repo / "model.safetensors", marker, fmt)
    with pytest.raises(UnsafeCheckpointError, match=r"is a pickle \(torch\.save\) file, not safetensors"):
        zoo.load(repo)
    with pytest.raises(UnsafeCheckpointError):
        load_weights(zoo.create("kan", width=[2, 2]), repo / "model.safetensors")
    assert not marker.exists()


@pytest.mark.parametrize("suffix", [".bin", ".pth", ".pt", ".ckpt", ".pkl"])
def test_pickle_suffixes_are_refused_before_reading(tmp_path, suffix, no_unpickling):
    marker = tmp_path / "pwned"
    checkpoint = _plant(tmp_path / f"weights{suffix}", marker, "pickle")
    with pytest.raises(UnsafeCheckpointError, match="can run arbitrary code"):
        load_weights(zoo.create("kan", width=[2, 2]), checkpoint)
    assert not marker.exists()


def test_config_naming_a_pickle_weights_file_is_refused(tmp_path, no_unpickling):
    marker = tmp_path / "pwned"
    repo = zoo.save(zoo.create("kan", width=[2, 2]), tmp_path / "repo")
    _plant(repo / "pytorch_model.bin", marker, "torch.save")
    data = json.loads((repo / "config.json").read_text())
    (repo / "config.json").write_text(json.dumps({**data, "weights_file": "pytorch_model.bin"}))
    with pytest.raises(UnsafeCheckpointError, match="pytorch_model.bin"):
        zoo.load(repo)
    assert not marker.exists()


@pytest.mark.parametrize("field, value", [("filename", "pytorch_model.bin"),
                                          ("file", "zoo_plugins.kan:weights/model.pth")])
def test_catalog_weights_must_be_safetensors(field, value):
    weights = {"sha256": "0" * 64, "file": "zoo_plugins.kan:weights/x.safetensors", field: value}
    catalog = parse_catalog({"schema": 1, "models": {"m": {"plugin": "p", "paper": {"title": "T"},
                                                           "weights": {"w": weights}}}}, "test.yaml")
    assert not catalog.models
    assert re.search(rf"weights\.w\.{field}: '{re.escape(value)}' is not a \.safetensors file.*pickle",
                     str(catalog.errors[0]))


_UNPICKLING = re.compile(r"\btorch\.load\(|\bpickle\.(load|loads|Unpickler)\b|^\s*import (c?pickle|dill|joblib)\b|"
                         r"^\s*from (c?pickle|dill|joblib) import|\bjoblib\.load\(|\bnp\.load\([^)]*allow_pickle=True",
                         re.M)


def test_no_project_source_unpickles():
    """The rule holds for every engineer's code: zoo/, plugins/, benchmarks/ and docs hooks."""
    offenders = []
    for folder in ("zoo", "plugins", "benchmarks", "docs"):
        for path in (ROOT / folder).rglob("*.py"):
            if ".envs" in path.parts:
                continue
            for match in _UNPICKLING.finditer(path.read_text(encoding="utf-8")):
                offenders.append(f"{path.relative_to(ROOT)}: {match.group(0).strip()}")
    assert not offenders, "safetensors only; these unpickle:\n" + "\n".join(offenders)
