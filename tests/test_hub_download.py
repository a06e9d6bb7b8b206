"""Downloads through the real huggingface_hub client, end to end, from olah: a Hub mirror started
on 127.0.0.1 once for this module, serving git repos from its mirrors folder. Nothing in
huggingface_hub is mocked; only HF_ENDPOINT and HF_HUB_CACHE are set, at call time."""

from __future__ import annotations

import time

import pytest
import torch
from hub_helpers import OlahServer, cached_entries, dead_endpoint, kan_registry, olah_command, repo_files

import zoo
from zoo.errors import HubError, IntegrityError, UnsafeCheckpointError
from zoo.hub import sha256_file

pytestmark = pytest.mark.skipif(olah_command() is None, reason="needs olah (pip install 'paperzoo[test]') and git")

REPO = "zoo-tests/kan-tiny"


@pytest.fixture(scope="module")
def olah(tmp_path_factory):
    server = OlahServer(tmp_path_factory.mktemp("olah")).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def published(olah, tmp_path_factory):
    """A zoo repo written by zoo.save, committed to the mirror: (model, folder, commit sha)."""
    torch.manual_seed(0)
    model = zoo.create("kan", width=[2, 3, 1])
    folder = zoo.save(model, tmp_path_factory.mktemp("published") / "kan-tiny")
    return model, folder, olah.commit(REPO, repo_files(folder))


@pytest.fixture
def hub_env(olah, tmp_path, monkeypatch):
    """Point the client at olah with an empty cache; returns the cache directory."""
    cache = tmp_path / "hf-cache"
    monkeypatch.setenv("HF_ENDPOINT", olah.url)
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    return cache


def _same(a, b) -> bool:
    return a.state_dict().keys() == b.state_dict().keys() and all(
        torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))


def test_load_by_branch_and_by_pinned_commit(published, hub_env):
    model, _, commit = published
    by_branch = zoo.load(f"hf-hub:{REPO}")
    by_commit = zoo.load(f"hf-hub:{REPO}@{commit}")
    assert _same(by_branch, model) and _same(by_commit, model)
    snapshot = hub_env / f"models--{REPO.replace('/', '--')}" / "snapshots" / commit
    assert sorted(p.name for p in snapshot.iterdir()) == ["config.json", "model.safetensors"]


def test_pinned_commit_loads_from_the_cache_with_the_endpoint_gone(published, hub_env, monkeypatch):
    model, _, commit = published
    zoo.load(f"hf-hub:{REPO}@{commit}")
    monkeypatch.setenv("HF_ENDPOINT", dead_endpoint())  # no HF_HUB_OFFLINE: a pinned sha needs no network
    assert _same(zoo.load(f"hf-hub:{REPO}@{commit}"), model)


def test_a_branch_falls_back_to_its_cached_commit_when_the_endpoint_is_gone(published, hub_env, monkeypatch):
    model, _, commit = published
    zoo.load(f"hf-hub:{REPO}")
    monkeypatch.setenv("HF_ENDPOINT", dead_endpoint())
    with pytest.warns(UserWarning, match=rf"unreachable.*using the cached copy from commit {commit}"):
        assert _same(zoo.load(f"hf-hub:{REPO}"), model)


def test_a_new_commit_is_seen_on_the_branch_while_the_old_pin_still_loads(olah, hub_env):
    torch.manual_seed(1)
    first = zoo.create("kan", width=[2, 2])
    torch.manual_seed(2)
    second = zoo.create("kan", width=[2, 2])
    repo = "zoo-tests/kan-moving"
    old = olah.commit(repo, repo_files(zoo.save(first, hub_env.parent / "first")))
    assert _same(zoo.load(f"hf-hub:{repo}"), first)
    olah.commit(repo, repo_files(zoo.save(second, hub_env.parent / "second")))
    assert _same(zoo.load(f"hf-hub:{repo}"), second)
    assert _same(zoo.load(f"hf-hub:{repo}@{old}"), first)


def test_catalog_weights_are_fetched_at_the_pinned_commit_and_verified(published, hub_env, tmp_path):
    model, folder, commit = published
    registry = kan_registry(tmp_path, {"tiny": {
        "repo_id": REPO, "revision": commit, "sha256": sha256_file(folder / "model.safetensors"),
        "config": {"width": [2, 3, 1]}}})
    loaded = registry.create("kan.tiny", pretrained=True)
    assert _same(loaded, model) and loaded.zoo_identity.weights == "tiny"


def test_hash_mismatch_is_refused_and_nothing_is_left_in_the_cache(published, hub_env, tmp_path):
    _, _, commit = published
    registry = kan_registry(tmp_path, {"tiny": {"repo_id": REPO, "revision": commit, "sha256": "0" * 64,
                                                "config": {"width": [2, 3, 1]}}})
    with pytest.raises(IntegrityError, match=r"sha256 is [0-9a-f]{64}, but 0{64} is pinned.*removed"):
        registry.create("kan.tiny", pretrained=True)
    assert cached_entries(hub_env, REPO, "model.safetensors") == []
    with pytest.raises(IntegrityError):  # and a second try downloads and refuses again, never using it
        registry.create("kan.tiny", pretrained=True)


def test_missing_file_names_repo_revision_file_and_cache(published, hub_env, tmp_path):
    _, _, commit = published
    registry = kan_registry(tmp_path, {"tiny": {"repo_id": REPO, "revision": commit, "sha256": "0" * 64,
                                                "filename": "other.safetensors"}})
    with pytest.raises(HubError) as info:
        registry.create("kan.tiny", pretrained=True)
    message = str(info.value)
    assert all(part in message for part in (REPO, commit, "other.safetensors", str(hub_env)))


def test_missing_repo_is_a_hub_error(hub_env):
    with pytest.raises(HubError, match=r"repo 'zoo-tests/nothing-here'.*config\.json"):
        zoo.load("hf-hub:zoo-tests/nothing-here")


def test_repo_with_only_a_pickle_checkpoint_is_refused(olah, published, hub_env):
    _, folder, _ = published
    files = repo_files(folder)
    del files["model.safetensors"]
    files["pytorch_model.bin"] = b"\x80\x04not even read"
    olah.commit("zoo-tests/pickled", files)
    with pytest.raises(UnsafeCheckpointError, match=r"only pickle checkpoint\(s\) \['pytorch_model\.bin'\]"):
        zoo.load("hf-hub:zoo-tests/pickled")
    assert not list(hub_env.glob("models--zoo-tests--pickled/snapshots/*/pytorch_model.bin"))  # never fetched


def test_unreachable_endpoint_fails_fast(hub_env, monkeypatch):
    monkeypatch.setenv("HF_ENDPOINT", dead_endpoint())
    start = time.monotonic()
    with pytest.raises(HubError, match=r"cannot reach http://127\.0\.0\.1:\d+.*HF_HUB_OFFLINE"):
        zoo.load(f"hf-hub:{REPO}")
    assert time.monotonic() - start < 10  # the client alone retries for ~25 s


def test_zoo_download_fetches_catalog_weights_and_hub_repos(published, hub_env, tmp_path, monkeypatch, capsys):
    from zoo import cli
    from zoo.registry import set_default_registry

    _, folder, commit = published
    registry = kan_registry(tmp_path, {"tiny": {"repo_id": REPO, "revision": commit,
                                                "sha256": sha256_file(folder / "model.safetensors")}})
    set_default_registry(registry)
    try:
        assert cli.main(["download", "kan.tiny", f"hf-hub:{REPO}@{commit}"]) == 0
        out = capsys.readouterr().out
        assert f"{REPO}@{commit}" in out and "verified" in out
        assert cli.main(["cache"]) == 0
        out = capsys.readouterr().out
        assert REPO in out and "kan.tiny" in out
        assert cli.main(["download", "kan.tiny", "hf-hub:zoo-tests/nothing-here"]) == 2
        assert "nothing-here" in capsys.readouterr().err
    finally:
        set_default_registry(None)
