"""The catalog cache: an unchanged catalog is read from JSON, anything that changes it misses,
and a cache that is broken, unwritable or turned off only costs time, never correctness."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from zoo import catalog, catalog_cache
from zoo.catalog import load_catalog
from zoo.errors import CatalogError

CATALOG = """\
schema: 1
models:
  tiny:
    plugin: tiny
    paper: {title: A tiny paper, arxiv: '2401.00001', year: 2024}
    tasks: [digits]
    config:
      - {name: width, type: int, default: 8, doc: hidden width}
    weights:
      digits: {sha256: %s, file: "tiny_pkg:w/model.safetensors", metrics: {acc: 0.5}}
  broken:
    plugin: tiny
    paper: {titel: misspelt}
tasks:
  digits: {plugin: tiny, kind: classification}
""" % ("a" * 64)


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv(catalog_cache.CACHE_ENV, str(folder))
    return folder


def cached_files(folder: Path) -> list[Path]:
    return sorted((folder / "catalogs").glob("*.json")) if (folder / "catalogs").is_dir() else []


def test_second_load_comes_from_the_cache_and_equals_the_first(tmp_path, cache, monkeypatch):
    path = tmp_path / "registry.yaml"
    path.write_text(CATALOG)
    first = load_catalog(path, "tiny-dist")
    first.models  # the full entries are read (and cached) on first use
    assert len(cached_files(cache)) == 2  # the entries, and the listing index
    monkeypatch.setattr(catalog, "read_yaml", lambda text: pytest.fail("parsed YAML again"))
    second = load_catalog(path, "tiny-dist")
    assert (second.models, second.tasks, second.methods) == (first.models, first.tasks, first.methods)
    assert [m.name for m in second.models] == ["tiny"]
    assert second.models[0].weights["digits"].metrics == {"acc": 0.5}
    assert [str(e) for e in second.errors] == [str(e) for e in first.errors]
    assert "unknown field(s) 'titel'" in str(second.errors[0])


def test_changed_file_path_distribution_or_code_misses(tmp_path, cache, monkeypatch):
    path = tmp_path / "registry.yaml"
    path.write_text(CATALOG)
    load_catalog(path, "tiny-dist")
    path.write_text(CATALOG.replace("A tiny paper", "A changed paper"))
    assert load_catalog(path, "tiny-dist").models[0].paper.title == "A changed paper"
    assert load_catalog(path, "other-dist").models[0].source.startswith("other-dist")
    other = tmp_path / "other.yaml"
    other.write_text(CATALOG)
    assert str(other) in load_catalog(other, "tiny-dist").models[0].source
    before = len(cached_files(cache))
    monkeypatch.setattr(catalog, "_code_version", lambda: b"other validating code")
    load_catalog(path, "tiny-dist").models
    assert len(cached_files(cache)) == before + 2


def test_corrupt_cache_entry_is_recomputed(tmp_path, cache):
    path = tmp_path / "registry.yaml"
    path.write_text(CATALOG)
    expected = load_catalog(path).models
    for entry in cached_files(cache):
        entry.write_text("{not json")
    again = load_catalog(path)
    assert [s.name for s in again.summaries] == ["tiny"] and again.models == expected
    assert all(json.loads(entry.read_text()) for entry in cached_files(cache))


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes through read-only permissions")
def test_unwritable_cache_still_loads(tmp_path, cache):
    cache.mkdir()
    cache.chmod(0o500)
    try:
        path = tmp_path / "registry.yaml"
        path.write_text(CATALOG)
        assert [m.name for m in load_catalog(path).models] == ["tiny"]
    finally:
        cache.chmod(0o700)


def test_cache_in_a_file_not_a_folder_still_loads(tmp_path, monkeypatch):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    monkeypatch.setenv(catalog_cache.CACHE_ENV, str(blocker))
    path = tmp_path / "registry.yaml"
    path.write_text(CATALOG)
    assert [m.name for m in load_catalog(path).models] == ["tiny"]


def test_empty_setting_turns_the_cache_off(tmp_path, monkeypatch):
    monkeypatch.setenv(catalog_cache.CACHE_ENV, "")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    path = tmp_path / "registry.yaml"
    path.write_text(CATALOG)
    load_catalog(path)
    assert not (tmp_path / "home").exists()


def test_errors_are_not_cached(tmp_path, cache):
    path = tmp_path / "registry.yaml"
    path.write_text("schema: 1\nmodels: {a: 1, a: 2}\n")
    for _ in range(2):
        with pytest.raises(CatalogError, match="duplicate key 'a'"):
            load_catalog(path)
    assert cached_files(cache) == []


def test_values_json_cannot_keep_are_not_cached(tmp_path, cache):
    path = tmp_path / "registry.yaml"
    path.write_text(CATALOG.replace("metrics: {acc: 0.5}", "metrics: {acc: .nan}"))
    first = load_catalog(path)
    assert first.models[0].weights["digits"].metrics["acc"] != first.models[0].weights["digits"].metrics["acc"]
    again = load_catalog(path).models[0].weights["digits"].metrics["acc"]
    assert again != again  # NaN read back as NaN: the entries were parsed again, not taken from JSON
    # only the listing index (names, tasks, tags: no NaN in it) is kept
    assert [json.loads(p.read_text())["models"][0][0] for p in cached_files(cache)] == ["tiny"]


def test_oversized_catalog_is_refused_before_parsing(tmp_path, cache, monkeypatch):
    monkeypatch.setattr(catalog, "MAX_CATALOG_BYTES", 100)
    path = tmp_path / "registry.yaml"
    path.write_text(CATALOG)
    with pytest.raises(CatalogError, match="over 0 MiB|a catalog lists entries"):
        load_catalog(path)


def test_non_utf8_catalog_is_a_catalog_error(tmp_path, cache):
    path = tmp_path / "registry.yaml"
    path.write_bytes(b"schema: 1\nmodels:\n  x: \xff\xfe\xfa\n")
    with pytest.raises(CatalogError, match="not valid YAML"):
        load_catalog(path)
