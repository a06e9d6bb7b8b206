"""Offline use: a pre-filled Hugging Face cache (laid out as the client writes it) with
HF_HUB_OFFLINE=1 and HF_ENDPOINT on a port where nothing listens. Settings are read at call time,
so they work both when set after `import huggingface_hub` and in a fresh interpreter."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
import torch
from hub_helpers import ROOT, dead_endpoint, kan_registry, populate_hf_cache, repo_files

import zoo
from zoo.errors import HubError, IntegrityError
from zoo.hub import hub_settings, sha256_file

REPO = "zoo-tests/kan-cached"


@pytest.fixture
def cached(tmp_path, monkeypatch):
    """A zoo repo in a pre-filled cache, offline: (model, folder, commit, cache dir)."""
    torch.manual_seed(0)
    model = zoo.create("kan", width=[2, 4, 1], grid=3)
    folder = zoo.save(model, tmp_path / "kan-cached")
    cache = tmp_path / "hf-cache"
    commit = populate_hf_cache(cache, REPO, repo_files(folder))
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_ENDPOINT", dead_endpoint())
    return model, folder, commit, cache


def _same(a, b) -> bool:
    return all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))


def test_settings_are_read_at_call_time(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:1/")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    assert hub_settings() == type(hub_settings())("http://127.0.0.1:1", True, tmp_path)
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.delenv("HF_HUB_CACHE")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "home"))
    assert not hub_settings().offline and hub_settings().cache_dir == tmp_path / "home" / "hub"


def test_offline_load_from_the_cache_by_branch_and_commit(cached):
    model, _, commit, _ = cached
    assert _same(zoo.load(f"hf-hub:{REPO}"), model)
    assert _same(zoo.load(f"hf-hub:{REPO}@{commit}"), model)
    assert _same(zoo.load(f"hf-hub:{REPO}@main"), model)


def test_offline_catalog_weights_from_the_cache(cached, tmp_path):
    model, folder, commit, _ = cached
    registry = kan_registry(tmp_path, {"cached": {
        "repo_id": REPO, "revision": commit, "sha256": sha256_file(folder / "model.safetensors"),
        "config": {"width": [2, 4, 1], "grid": 3}}})
    assert _same(registry.create("kan.cached", pretrained=True), model)


def test_offline_cache_miss_names_what_is_missing_and_where(cached, tmp_path):
    _, _, commit, cache = cached
    other = "0123456789abcdef0123456789abcdef01234567"
    registry = kan_registry(tmp_path, {"gone": {"repo_id": REPO, "revision": other, "sha256": "1" * 64}})
    start = time.monotonic()
    with pytest.raises(HubError) as info:
        registry.create("kan.gone", pretrained=True)
    assert time.monotonic() - start < 5
    message = str(info.value)
    assert all(part in message for part in (REPO, other, "model.safetensors", str(cache), "HF_HUB_OFFLINE"))
    with pytest.raises(HubError, match=r"zoo-tests/not-cached.*not in the cache"):
        zoo.load("hf-hub:zoo-tests/not-cached")


def test_corrupted_cache_file_is_refused_and_removed(cached, tmp_path):
    _, folder, commit, cache = cached
    registry = kan_registry(tmp_path, {"cached": {
        "repo_id": REPO, "revision": commit, "sha256": sha256_file(folder / "model.safetensors"),
        "config": {"width": [2, 4, 1], "grid": 3}}})
    snapshot_file = cache / f"models--{REPO.replace('/', '--')}" / "snapshots" / commit / "model.safetensors"
    blob = snapshot_file.resolve()
    blob.write_bytes(blob.read_bytes()[:-4] + b"\0\0\0\0")  # same size, other bytes
    with pytest.raises(IntegrityError, match="refused and removed from the cache"):
        registry.create("kan.cached", pretrained=True)
    assert not snapshot_file.exists() and not blob.exists()


def test_offline_in_a_fresh_interpreter(cached):
    """Environment set before huggingface_hub is imported, as a user's shell would."""
    _, _, commit, cache = cached
    code = ("import zoo, torch; m = zoo.load('hf-hub:%s@%s'); "
            "print(sum(p.numel() for p in m.parameters()))" % (REPO, commit))
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(cache), "HF_ENDPOINT": dead_endpoint()}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert int(done.stdout.strip()) > 0


def test_offline_push_is_refused(cached):
    _, folder, _, _ = cached
    from zoo.hub import push_folder

    with pytest.raises(HubError, match="HF_HUB_OFFLINE is set, so nothing is uploaded"):
        push_folder(folder, "zoo-tests/anything")


def test_zoo_cache_lists_repos_and_sizes(cached, capsys):
    from zoo import cli

    _, folder, commit, cache = cached
    assert cli.main(["cache", "--json"]) == 0
    import json

    report = json.loads(capsys.readouterr().out)
    assert report["cache_dir"] == str(cache)
    (repo,) = report["repos"]
    assert repo["repo_id"] == REPO and repo["files"] == 3
    assert repo["size"] == sum(p.stat().st_size for p in folder.iterdir())
    assert repo["revisions"] == [{"commit": commit, "refs": ["main"], "catalog": None}]
