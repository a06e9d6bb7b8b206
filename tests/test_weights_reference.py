"""Reference weights tooling (zoo.reference) on a tiny recipe: it trains from the catalog entry,
writes a loadable repo folder with card and metrics, gives the same bytes when rerun, installs the
folder where the catalog's `file` points, and the installed weights then load offline through
zoo.create(..., pretrained=True); a wrong pin is refused."""

from __future__ import annotations

import json
import sys

import pytest
import torch
import yaml
from hub_helpers import dead_endpoint, kan_registry

import zoo
from zoo.errors import IntegrityError, WeightsError
from zoo.reference import build_reference, catalog_block, install_reference

PACKAGE = "zoo_reference_test_pkg"


def _weights(sha256: str = "0" * 64, **extra) -> dict:
    return {"tiny": {"sha256": sha256, "file": f"{PACKAGE}:weights/tiny/model.safetensors", "config": {"width": [2, 2, 1]},
                     "task": "toy/exp-sin", "license": "mit",
                     "recipe": {"epochs": 1, "batch_size": 500, "lr": 0.01, "seed": 3}, **extra}}


@pytest.fixture
def package(tmp_path, monkeypatch):
    root = tmp_path / "site"
    (root / PACKAGE).mkdir(parents=True)
    (root / PACKAGE / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(root))
    monkeypatch.delitem(sys.modules, PACKAGE, raising=False)  # imported from another test's folder
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_ENDPOINT", dead_endpoint())
    return root / PACKAGE


def test_build_install_and_load_offline(package, tmp_path):
    registry = kan_registry(tmp_path, _weights())
    build = build_reference("kan.tiny", tmp_path / "out", registry=registry)
    assert sorted(p.name for p in build.folder.iterdir()) == [
        "README.md", "config.json", "curves.png", "metrics.json", "model.safetensors"]
    assert json.loads((build.folder / "config.json").read_text())["weights"] == "tiny"
    card = (build.folder / "README.md").read_text()
    assert "task `toy/exp-sin`, 1 epochs" in card and "![training curve](curves.png)" in card
    assert "`kan.tiny`" in card and "license: mit" in card
    assert build.metrics["test_rmse"] > 0

    again = build_reference("kan.tiny", tmp_path / "again", registry=registry)
    assert again.sha256 == build.sha256  # the recipe reproduces the same bytes

    installed = install_reference(build, registry=registry)
    assert installed == package / "weights" / "tiny"
    assert (installed / "model.safetensors").read_bytes() == (build.folder / "model.safetensors").read_bytes()

    block = yaml.safe_load(catalog_block(build, registry=registry))["tiny"]
    assert block["sha256"] == build.sha256 and set(block["metrics"]) == {"test_loss", "test_rmse", "test_mae"}
    assert "repo_id" not in block and "revision" not in block  # nothing claims a Hub location

    pinned = kan_registry(tmp_path, {"tiny": block})
    model = pinned.create("kan.tiny", pretrained=True)
    expected = zoo.load(build.folder)
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), expected.state_dict().values()))
    assert zoo.evaluate(model, "toy/exp-sin")["rmse"] == pytest.approx(block["metrics"]["test_rmse"], rel=1e-4)

    with pytest.raises(IntegrityError, match="shipped file .* refused"):
        kan_registry(tmp_path, _weights("1" * 64)).create("kan.tiny", pretrained=True)
    assert (installed / "model.safetensors").exists()  # a shipped file is never deleted


def test_shipped_file_missing_falls_back_to_the_hub_location(package, tmp_path):
    registry = kan_registry(tmp_path, _weights(repo_id="zoo-tests/nowhere", revision="a" * 40))
    with pytest.raises(Exception, match=r"zoo-tests/nowhere.*not in the cache"):
        registry.create("kan.tiny", pretrained=True)
    with pytest.raises(WeightsError, match="not installed and the catalog names no Hub repo"):
        kan_registry(tmp_path, _weights()).create("kan.tiny", pretrained=True)


def test_recipe_is_required(tmp_path):
    weights = _weights()
    del weights["tiny"]["recipe"]
    with pytest.raises(WeightsError, match="need 'task' and 'recipe'"):
        build_reference("kan.tiny", tmp_path / "out", registry=kan_registry(tmp_path, weights))
