"""Reference weights tooling (zoo.reference) on a tiny recipe: it trains from the catalog entry,
writes a loadable repo folder with card and metrics, gives the same bytes when rerun, installs the
folder where the catalog's `file` points, and the installed weights then load offline through
zoo.create(..., pretrained=True); a wrong pin is refused. A `{reproduction: part}` recipe runs
that reproduction part of the plugin's folder and takes the weights it keeps."""

from __future__ import annotations

import json
import sys
import textwrap

import pytest
import torch
import yaml
from hub_helpers import ROOT, dead_endpoint, kan_registry

import zoo
from zoo.errors import IntegrityError, UnknownNameError, WeightsError
from zoo.hub import sha256_file
from zoo.reference import build_reference, catalog_block, install_reference
from zoo.registry import Registry

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


# --- weights a reproduction part keeps -------------------------------------------------------------------

REPRO_PACKAGE = "zoo_reference_repro_pkg"
KEEP_PART = """
    \"\"\"Trains a tiny KAN on toy/exp-sin (seed 3) and keeps it as weights 'tiny'.\"\"\"
    import torch

    import zoo


    def reproduce(run):
        torch.manual_seed(3)
        model = zoo.create("kan", width=[2, 2, 1])
        zoo.train(model, "toy/exp-sin", epochs=1, batch_size=500, lr=0.01, seed=3, out_dir=run.out / "train",
                  progress=False)
        run.keep(model, "tiny", run=run.out / "train")
        run.record("kept", claim="none", verdict="measured", summary="a test part", setup="tiny")
"""


@pytest.fixture
def repro_package(tmp_path, monkeypatch):
    """A plugin package serving the kan models whose folder holds reproduction parts."""
    root = tmp_path / "site"
    package = root / REPRO_PACKAGE
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("from zoo_plugins.kan import zoo_models  # noqa: F401\n")
    (package / "repro_keep.py").write_text(textwrap.dedent(KEEP_PART))
    (package / "repro_nothing.py").write_text("def reproduce(run):\n    pass\n")
    monkeypatch.syspath_prepend(str(root))
    for module in [m for m in sys.modules if m == REPRO_PACKAGE or m.startswith(f"{REPRO_PACKAGE}.")]:
        monkeypatch.delitem(sys.modules, module)
    return package


def _repro_registry(tmp_path, recipe: dict) -> Registry:
    entry = dict(yaml.safe_load((ROOT / "registry.yaml").read_text())["models"]["kan"])
    entry["weights"] = {"tiny": {"sha256": "0" * 64, "file": f"{REPRO_PACKAGE}:weights/tiny/model.safetensors",
                                 "config": {"width": [2, 2, 1]}, "license": "mit", "recipe": recipe}}
    path = tmp_path / f"repro-catalog-{len(list(tmp_path.glob('repro-catalog-*')))}.yaml"
    path.write_text(yaml.safe_dump({"schema": 1, "models": {"kan": entry}}, sort_keys=False))
    return Registry(catalogs=[path], plugins={"kan": REPRO_PACKAGE}, strict=True)


def test_a_reproduction_recipe_takes_the_weights_its_part_keeps(repro_package, tmp_path):
    registry = _repro_registry(tmp_path, {"reproduction": "repro_keep", "seed": 3})
    out = tmp_path / "out"
    build = build_reference("kan.tiny", out, registry=registry)
    assert build.folder == out.resolve() and build.sha256 == sha256_file(out / "model.safetensors")
    assert {"model.safetensors", "config.json", "README.md", "metrics.json"} <= {p.name for p in out.iterdir()}
    final = json.loads((out / "metrics.json").read_text())["final"]
    assert build.metrics == final and build.metrics["test_rmse"] > 0
    assert not list(tmp_path.glob(".zoo-reference-*"))  # the part's temporary out dir (its records) is gone
    block = yaml.safe_load(catalog_block(build, registry=registry))["tiny"]
    assert block["recipe"] == {"reproduction": "repro_keep", "seed": 3} and block["sha256"] == build.sha256

    again = build_reference("kan.tiny", out, registry=registry)  # replaces its own earlier build
    assert again.sha256 == build.sha256
    assert all(torch.equal(a, b) for a, b in zip(zoo.load(out).state_dict().values(),
                                                 zoo.load(again.folder).state_dict().values()))


@pytest.mark.parametrize("recipe, error, message", [
    ({"reproduction": "repro_nothing", "seed": 0}, WeightsError, r"kept no weights 'tiny'.*run\.keep"),
    ({"reproduction": "repro_keep", "epochs": 3}, WeightsError, "a reproduction recipe is"),
    ({"reproduction": "repro_missing"}, UnknownNameError, "has no part 'repro_missing'"),
])
def test_a_reproduction_recipe_that_yields_no_weights_is_refused(repro_package, tmp_path, recipe, error, message):
    with pytest.raises(error, match=message):
        build_reference("kan.tiny", tmp_path / "out", registry=_repro_registry(tmp_path, recipe))
    assert not (tmp_path / "out").exists()


def test_a_reproduction_build_never_replaces_a_folder_the_zoo_did_not_write(repro_package, tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "notes.txt").write_text("mine")
    registry = _repro_registry(tmp_path, {"reproduction": "repro_keep", "seed": 3})
    with pytest.raises(WeightsError, match="not a zoo repo folder"):
        build_reference("kan.tiny", tmp_path / "out", registry=registry)
    assert (tmp_path / "out" / "notes.txt").read_text() == "mine"
