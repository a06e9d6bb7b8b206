"""Uploads through the real huggingface_hub client (create_repo, upload_folder) to the in-memory
Hub-compatible server in tests/hub_server.py, started on 127.0.0.1 and stopped by the fixture,
then read back through zoo.load and zoo.create(pretrained=True) with only the endpoint changed."""

from __future__ import annotations

import json
import time

import pytest
import torch
from hub_helpers import cached_entries, dead_endpoint, kan_registry

import zoo
from zoo.errors import HubError, UnsafeCheckpointError, WeightsError
from zoo.hub import push_folder, sha256_file



@pytest.fixture
def model():
    torch.manual_seed(0)
    return zoo.create("kan", width=[3, 2, 1])


def _same(a, b) -> bool:
    return a.state_dict().keys() == b.state_dict().keys() and all(
        torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))


def test_push_to_hub_then_load_back(hub, model):
    result = zoo.push_to_hub(model, "someone/kan-small", metrics={"test_rmse": 0.5}, license="mit")
    assert result.uri == f"hf-hub:someone/kan-small@{result.commit}"
    files = hub.repos["someone/kan-small"].commits[result.commit]
    assert sorted(files) == ["README.md", "config.json", "metrics.json", "model.safetensors"]
    assert json.loads(files["config.json"])["architecture"] == "kan"
    card = files["README.md"].decode()
    assert "library_name: paperzoo" in card and 'zoo.load("hf-hub:someone/kan-small")' in card
    assert ("POST", "/api/validate-yaml") in hub.requests  # the client checked the card's front matter
    assert _same(zoo.load(result.uri), model)
    assert _same(zoo.load("hf-hub:someone/kan-small"), model)


def test_second_push_is_a_new_commit_and_the_first_stays_pinned(hub, model):
    first = zoo.push_to_hub(model, "someone/kan-small")
    torch.manual_seed(1)
    other = zoo.create("kan", width=[3, 2, 1])
    second = zoo.push_to_hub(other, "someone/kan-small")
    assert second.commit != first.commit
    assert _same(zoo.load(first.uri), model) and _same(zoo.load("hf-hub:someone/kan-small"), other)


def test_pushed_weights_load_offline_with_no_request(hub, model, monkeypatch):
    result = zoo.push_to_hub(model, "someone/kan-small")
    zoo.load(result.uri)
    seen = len(hub.requests)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert _same(zoo.load(result.uri), model)
    assert len(hub.requests) == seen
    with pytest.raises(HubError, match="not in the cache"):  # which commit 'main' is was never resolved
        zoo.load("hf-hub:someone/kan-small")
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    zoo.load("hf-hub:someone/kan-small")
    seen = len(hub.requests)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert _same(zoo.load("hf-hub:someone/kan-small"), model)
    assert len(hub.requests) == seen


def test_catalog_weights_from_a_pushed_repo(hub, model, tmp_path):
    result = zoo.push_to_hub(model, "someone/kan-small")
    weights = hub.repos["someone/kan-small"].commits[result.commit]["model.safetensors"]
    (tmp_path / "w.safetensors").write_bytes(weights)
    registry = kan_registry(tmp_path, {"small": {"repo_id": "someone/kan-small", "revision": result.commit,
                                                 "sha256": sha256_file(tmp_path / "w.safetensors"),
                                                 "config": {"width": [3, 2, 1]}}})
    assert _same(registry.create("kan.small", pretrained=True), model)


def test_zoo_push_command(hub, model, tmp_path, capsys):
    from zoo import cli

    folder = zoo.save(model, tmp_path / "kan-small")
    assert cli.main(["push", str(folder), "someone/kan-cli", "--message", "first weights", "--json"]) == 0
    pushed = json.loads(capsys.readouterr().out)
    assert pushed["uri"] == f"hf-hub:someone/kan-cli@{pushed['commit']}"
    assert _same(zoo.load(pushed["uri"]), model)
    assert cli.main(["push", str(tmp_path), "someone/kan-cli"]) == 2
    assert "no config.json" in capsys.readouterr().err


def test_push_with_a_wrong_token_is_refused(hub, model, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", "hf_wrong")
    with pytest.raises(HubError, match=r"HTTP 401.*check the token"):
        zoo.push_to_hub(model, "someone/kan-small")
    assert "someone/kan-small" not in hub.repos


def test_push_refuses_folders_with_pickles_or_broken_weights(hub, model, tmp_path):
    folder = zoo.save(model, tmp_path / "kan-small")
    (folder / "optimizer.pt").write_bytes(b"\x80\x04pickle")
    with pytest.raises(UnsafeCheckpointError, match=r"optimizer\.pt"):
        push_folder(folder, "someone/kan-small")
    (folder / "optimizer.pt").unlink()
    (folder / "model.safetensors").write_bytes((folder / "model.safetensors").read_bytes()[:-8])
    with pytest.raises(WeightsError, match="truncated or corrupt"):
        push_folder(folder, "someone/kan-small")
    assert hub.requests == []  # refused before any request


def test_push_to_an_unreachable_endpoint_fails_fast(hub, model, monkeypatch):
    monkeypatch.setenv("HF_ENDPOINT", dead_endpoint())
    start = time.monotonic()
    with pytest.raises(HubError, match=r"cannot reach http://127\.0\.0\.1:\d+"):
        zoo.push_to_hub(model, "someone/kan-small")
    assert time.monotonic() - start < 10


def test_a_download_cut_off_midway_leaves_nothing_in_the_cache(hub, model, tmp_path):
    result = zoo.push_to_hub(model, "someone/kan-small")
    hub.cut_downloads_at = 100
    with pytest.raises(HubError, match=r"broke off.*config\.json|config\.json.*broke off"):
        zoo.load(result.uri)
    assert cached_entries(tmp_path / "hf-cache", "someone/kan-small", "config.json") == []
    assert not list((tmp_path / "hf-cache").rglob("*.incomplete"))
    hub.cut_downloads_at = None
    assert _same(zoo.load(result.uri), model)
