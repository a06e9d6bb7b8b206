"""The reference weights that ship inside the package: listed in the catalog with no Hub location,
loaded by zoo.create(..., pretrained=True) with no network, reaching the metrics the catalog
records; pushed to the local Hub test server and loaded back through the same pretrained path
with only the endpoint changed. (That the wheel holds them is checked by test_packaging.)"""

from __future__ import annotations

import importlib.resources
from pathlib import Path

import pytest
import torch
from hub_helpers import dead_endpoint, kan_registry
from hub_server import HubTestServer

import zoo
from zoo.hub import push_folder, sha256_file
from zoo.repo_files import check_repo_folder

SHIPPED = [(f"{name}.{tag}", weights) for name in zoo.list_models()
           for tag, weights in zoo.info(name).weights.items() if weights.file]


def _folder(weights) -> Path:
    package, _, relative = weights.file.partition(":")
    return Path(str(importlib.resources.files(package).joinpath(relative))).parent


def _same(a, b) -> bool:
    return a.state_dict().keys() == b.state_dict().keys() and all(
        torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))


@pytest.fixture
def no_network(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_ENDPOINT", dead_endpoint())
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-cache"))


def test_kan_ships_reference_weights():
    assert any(name.startswith("kan.") for name, _ in SHIPPED), "kan has no shipped reference weights"


@pytest.mark.parametrize("name, weights", SHIPPED, ids=[n for n, _ in SHIPPED])
def test_shipped_weights_load_offline_and_reach_their_recorded_metrics(name, weights, no_network):
    assert (weights.repo_id is None) == (weights.revision is None)  # a Hub location is always pinned
    assert weights.task and weights.metrics and weights.recipe
    model = zoo.create(name, pretrained=True)
    assert model.zoo_identity.weights == name.split(".", 1)[1]
    for split in sorted({key.split("_", 1)[0] for key in weights.metrics}):
        measured = zoo.evaluate(model, weights.task, split=split)
        for key, recorded in weights.metrics.items():
            if key.startswith(f"{split}_"):
                assert measured[key.split("_", 1)[1]] == pytest.approx(recorded, rel=1e-3, abs=1e-7), key


@pytest.mark.parametrize("name, weights", SHIPPED, ids=[n for n, _ in SHIPPED])
def test_shipped_folder_is_a_complete_repo_matching_the_catalog(name, weights):
    folder = _folder(weights)
    repo = check_repo_folder(folder)
    assert repo.architecture == name.split(".")[0] and repo.weights == name.split(".", 1)[1]
    assert sha256_file(folder / "model.safetensors") == weights.sha256
    # weights retrained by zoo.train carry its run; a reproduction's own protocol may have none
    run_files = set() if "reproduction" in weights.recipe else {"metrics.json", "curves.png"}
    assert {"README.md", *run_files} <= {p.name for p in folder.iterdir()}


@pytest.mark.parametrize("name, weights", [s for s in SHIPPED if s[0].startswith("kan.")][:1])
def test_pushed_then_loaded_back_through_pretrained_with_only_the_endpoint_changed(name, weights, tmp_path,
                                                                                  monkeypatch):
    shipped = zoo.create(name, pretrained=True)
    tag = name.split(".", 1)[1]
    with HubTestServer(tokens=("hf_test_token",)) as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf-cache"))
        monkeypatch.setenv("HF_TOKEN", "hf_test_token")
        monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
        pushed = push_folder(_folder(weights), f"paperzoo/{name.replace('.', '-')}")
        # the catalog entry as it will read once really pushed: the Hub location instead of the file
        entry = {"sha256": weights.sha256, "repo_id": pushed.repo_id, "revision": pushed.commit,
                 "config": weights.config, "task": weights.task}
        from_hub = kan_registry(tmp_path, {tag: entry}).create(name, pretrained=True)
    assert _same(from_hub, shipped)


def test_pretrained_without_a_tag_builds_the_first_checkpoint_as_its_tag_would():
    # mlp-mixer's default variant is ImageNet-sized; its first checkpoint is the digits variant
    bare, tagged = zoo.create("mlp-mixer", pretrained=True), zoo.create("mlp-mixer.digits", pretrained=True)
    assert bare.zoo_identity.variant == tagged.zoo_identity.variant == "digits"
    assert bare.zoo_identity.config == tagged.zoo_identity.config
    assert all(torch.equal(a, b) for a, b in zip(bare.state_dict().values(), tagged.state_dict().values()))
