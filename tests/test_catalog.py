"""The catalog schema: registry.yaml is valid, malformed catalogs are refused with errors that name
the entry and field, and docs/pages/catalog-schema.md documents every field the parser accepts."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
import yaml

from zoo import catalog
from zoo.catalog import load_catalog, parse_catalog
from zoo.errors import CatalogError

ROOT = Path(__file__).resolve().parents[1]

MINIMAL_MODEL = {"plugin": "p", "paper": {"title": "T", "year": 2020}}


def parse(models=None, tasks=None, **top):
    return parse_catalog({"schema": 1, "models": models or {}, "tasks": tasks or {}, **top}, "test.yaml", "dist")


def test_registry_yaml_is_valid_and_complete():
    cat = load_catalog(ROOT / "registry.yaml", "paperzoo")
    assert cat.errors == ()
    assert "kan" in {m.name for m in cat.models}
    entry_points = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["entry-points"]
    plugins = entry_points["paperzoo.plugins"]
    for entry in (*cat.models, *cat.tasks, *cat.methods):
        assert entry.plugin in plugins, f"{entry.name} names plugin {entry.plugin!r}, which has no entry point"


def test_packaged_catalog_is_the_top_level_registry():
    # plugins/registry.yaml is how the file ships inside zoo_plugins; it must be the same file
    assert (ROOT / "plugins" / "registry.yaml").read_bytes() == (ROOT / "registry.yaml").read_bytes()


def test_every_plugin_package_is_registered():
    # packaging needs no list (the wheel takes all of plugins/, see test_packaging); entry points do
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    targets = set(project["project"]["entry-points"]["paperzoo.plugins"].values())
    for folder in (ROOT / "plugins").iterdir():
        if folder.is_dir() and (folder / "__init__.py").exists():
            assert f"zoo_plugins.{folder.name}" in targets, f"plugins/{folder.name} has no entry point"


@pytest.mark.parametrize(
    "models, expected",
    [
        ({"kan": {**MINIMAL_MODEL, "paper": {"title": "T", "year": "2020"}}}, r"models\.kan\.paper\.year: expected int"),
        ({"kan": {"paper": {"title": "T"}}}, r"models\.kan: missing required field 'plugin'"),
        ({"kan": {**MINIMAL_MODEL, "papr": {}}}, r"models\.kan: unknown field\(s\) 'papr'"),
        ({"Bad_Name": MINIMAL_MODEL}, r"model name 'Bad_Name' must match"),
        ({"kan": {**MINIMAL_MODEL, "paper": {"title": "T", "arxiv": 2410.0269}}}, r"paper\.arxiv: expected str"),
        ({"kan": {**MINIMAL_MODEL, "default_variant": "big"}}, r"default_variant: 'big' is not one of"),
        ({"kan": {**MINIMAL_MODEL, "variants": {"small": [1, 2]}}}, r"variants\.small: expected a mapping"),
        ({"kan": {**MINIMAL_MODEL, "config": [{"name": "w", "type": "int"}]}}, r"config\[0\] \(w\): missing required field 'default'"),
        ({"kan": {**MINIMAL_MODEL, "weights": {"t": {"sha256": "abc", "file": "w.safetensors"}}}}, r"weights\.t\.sha256: 'abc' does not match"),
        ({"kan": {**MINIMAL_MODEL, "weights": {"t": {"sha256": "a" * 64}}}}, r"weights\.t: needs 'file'"),
        ({"kan": {**MINIMAL_MODEL, "weights": {"t": {"sha256": "a" * 64, "repo_id": "o/r"}}}}, r"weights\.t\.revision: Hub weights must pin"),
        ({"kan": {**MINIMAL_MODEL, "tasks": ["ok", 3]}}, r"models\.kan\.tasks\[1\]: expected a name"),
        ({"kan": {**MINIMAL_MODEL, "priority": True}}, r"priority: expected str, got bool"),
    ],
)
def test_malformed_entry_is_dropped_with_an_error_naming_entry_and_field(models, expected):
    cat = parse({**models, "good": MINIMAL_MODEL})
    assert [m.name for m in cat.models] == ["good"], "the malformed entry must be dropped, the good one kept"
    assert len(cat.errors) == 1
    assert re.search(expected, str(cat.errors[0])), str(cat.errors[0])
    assert "test.yaml" in str(cat.errors[0])


@pytest.mark.parametrize(
    "top, expected",
    [
        ({"schema": 2}, r"schema 2 is not supported"),
        ({"schema": 1, "modles": {}}, r"unknown field\(s\) 'modles'"),
        ({"models": {}}, r"missing required field 'schema'"),
    ],
)
def test_malformed_top_level_is_refused(top, expected):
    with pytest.raises(CatalogError, match=expected):
        parse_catalog(top, "test.yaml")


def test_duplicate_keys_are_refused(tmp_path):
    path = tmp_path / "catalog.yaml"
    path.write_text("schema: 1\nmodels:\n  a: {plugin: p, paper: {title: T}}\n  a: {plugin: q, paper: {title: U}}\n")
    with pytest.raises(CatalogError, match=r"duplicate key 'a' at line 4 \(first at line 3\)"):
        load_catalog(path)


def test_unreadable_and_invalid_yaml_files(tmp_path):
    with pytest.raises(CatalogError, match="cannot read catalog"):
        load_catalog(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("schema: 1\nmodels: [unclosed\n")
    with pytest.raises(CatalogError, match="not valid YAML"):
        load_catalog(bad)


def test_schema_doc_documents_every_field():
    doc = (ROOT / "docs" / "pages" / "catalog-schema.md").read_text()
    fields = (catalog.TOP_FIELDS | catalog.PAPER_FIELDS | catalog.CONFIG_FIELD_FIELDS | catalog.WEIGHTS_FIELDS
              | catalog.MODEL_FIELDS | catalog.TASK_FIELDS | catalog.METHOD_FIELDS)
    undocumented = sorted(f for f in fields if f"`{f}`" not in doc)
    assert not undocumented, f"docs/pages/catalog-schema.md does not document {undocumented}"


def test_schema_doc_example_parses():
    doc = (ROOT / "docs" / "pages" / "catalog-schema.md").read_text()
    block = re.search(r"```yaml\n(.*?)```", doc, re.S)
    assert block, "the schema doc needs a complete yaml example"
    cat = parse_catalog(yaml.safe_load(block.group(1)), "example")
    assert cat.errors == () and cat.models


def test_registry_yaml_is_assembled_from_the_paper_folders():
    """registry.yaml is generated: every model comes from a paper folder's catalog.yaml and its
    config fields from the code; a stale file fails with the command that fixes it."""
    from zoo.catalog_build import check_registry

    problem = check_registry()
    assert problem is None, problem


def test_a_stale_registry_names_the_fix(tmp_path):
    import shutil

    from zoo.catalog_build import build_registry, check_registry

    shutil.copytree(ROOT / "plugins" / "fan", tmp_path / "plugins" / "fan",
                    ignore=shutil.ignore_patterns("results", "__pycache__"))
    (tmp_path / "registry.yaml").write_text(build_registry(tmp_path))
    assert check_registry(tmp_path) is None
    paper = tmp_path / "plugins" / "fan" / "catalog.yaml"
    paper.write_text(paper.read_text().replace("family: function fitting/regression", "family: periodic"))
    problem = check_registry(tmp_path)
    assert "run `python -m zoo.catalog_build`" in problem and "+    family: periodic" in problem


def test_paper_catalogs_do_not_repeat_config_fields(tmp_path):
    import shutil

    from zoo.catalog_build import build_registry

    shutil.copytree(ROOT / "plugins" / "fan", tmp_path / "plugins" / "fan",
                    ignore=shutil.ignore_patterns("results", "__pycache__"))
    paper = tmp_path / "plugins" / "fan" / "catalog.yaml"
    paper.write_text(paper.read_text().replace("    variants:", "    config: []\n    variants:"))
    with pytest.raises(CatalogError, match="models.fan.config is derived from the config class"):
        build_registry(tmp_path)
