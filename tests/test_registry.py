"""Registry behaviour on isolated registries: listing, info, suggestions, variants, configs,
create, identity, strict mode. Each test builds its own catalog and plugin module."""

from __future__ import annotations

import textwrap

import pytest

from zoo import Registry
from zoo.errors import ConfigError, PluginError, UnknownNameError, ZooError

PLUGIN = '''
import zoo
from zoo.config import Config, Field


class NetConfig(Config):
    width: int = Field(4, ge=1, description="hidden width")
    depth: int = Field(2, ge=1, description="layers")
    act: str = Field("relu", description="activation")


def build(config):
    import torch
    layers = [torch.nn.Linear(3, config.width)]
    for _ in range(config.depth - 1):
        layers.append(torch.nn.Linear(config.width, config.width))
    return torch.nn.Sequential(*layers)


def from_task(values, info):
    return {"width": info.output_dim * 2}


@zoo.hookimpl
def zoo_models():
    return [zoo.ModelSpec(name, NetConfig, build, from_task=from_task)
            for name in ("net-a", "net-b", "net-10", "net-2", "mixer-b16", "mixer-s16")]
'''

CATALOG = """
schema: 1
models:
{models}
"""

MODEL = """  {name}:
    plugin: testnets
    paper: {{title: "{title}", arxiv: "1234.5678", year: 2021}}
    family: {family}
    tasks: [{tasks}]
    variants:
      default: {{}}
      deep: {{depth: 4}}
{weights}"""

WEIGHTS = """    weights:
      tiny-run:
        sha256: {sha}
        file: "testnets_plugin:weights/tiny.safetensors"
        config: {{width: 8}}
        dataset: toy
"""


@pytest.fixture
def registry(tmp_path, monkeypatch):
    (tmp_path / "testnets_plugin.py").write_text(PLUGIN)
    monkeypatch.syspath_prepend(str(tmp_path))
    models = "".join(
        MODEL.format(name=name, title=f"Paper {name}", family="vision" if "mixer" in name else "mlp",
                     tasks="toy/a" if name == "net-a" else "",
                     weights=WEIGHTS.format(sha="\"" + "0" * 64 + "\"") if name == "net-b" else "")
        for name in ("net-a", "net-b", "net-10", "net-2", "mixer-b16", "mixer-s16")
    )
    path = tmp_path / "catalog.yaml"
    path.write_text(CATALOG.format(models=models))
    return Registry(catalogs=[path], plugins={"testnets": "testnets_plugin"})


def test_list_is_natural_sorted_and_filtered(registry):
    assert registry.list_models() == ["mixer-b16", "mixer-s16", "net-2", "net-10", "net-a", "net-b"]
    assert registry.list_models("net-*") == ["net-2", "net-10", "net-a", "net-b"]
    assert registry.list_models(["*b16", "net-a"]) == ["mixer-b16", "net-a"]
    assert registry.list_models("NET-A") == ["net-a"], "patterns are case-insensitive"
    assert registry.list_models(task="toy/a") == ["net-a"]
    assert registry.list_models(family="vision") == ["mixer-b16", "mixer-s16"]
    assert registry.list_models(pretrained=True) == ["net-b.tiny-run"]
    assert registry.list_models("nothing*") == []


def test_listing_runs_no_plugin_code(registry):
    import sys

    registry.list_models()
    registry.info("net-a")
    assert "testnets_plugin" not in sys.modules


def test_unknown_names_suggest_close_matches(registry):
    with pytest.raises(UnknownNameError, match=r"unknown model 'net-aa'\. Did you mean 'net-a'"):
        registry.info("net-aa")
    with pytest.raises(UnknownNameError, match=r"no weights tagged 'tiny-rn'\. Did you mean 'tiny-run'"):
        registry.info("net-b.tiny-rn")
    with pytest.raises(UnknownNameError, match=r"no variant 'dep'\. Did you mean 'deep'"):
        registry.create("net-a", variant="dep")
    with pytest.raises(UnknownNameError, match="has no pretrained weights"):
        registry.create("net-a", pretrained=True)


def test_create_applies_variant_then_weights_then_overrides(registry):
    model = registry.create("net-a")
    assert model.zoo_identity.config.depth == 2 and model.zoo_identity.variant == "default"
    model = registry.create("net-a", variant="deep", width=5)
    assert len(model) == 4 and model[0].out_features == 5
    cfg = registry.create("net-b.tiny-run").zoo_identity.config
    assert cfg.width == 8, "a weights tag selects its checkpoint's config"
    assert registry.create("net-b.tiny-run", width=3).zoo_identity.config.width == 3
    identity = registry.create("net-a").zoo_identity
    assert (identity.architecture, identity.plugin, identity.weights) == ("net-a", "testnets", None)


def test_create_sizes_the_model_for_a_task(registry):
    from zoo.tasks import Task, TaskInfo

    class FiveOutputs(Task):
        name, kind = "five", "regression"
        info = TaskInfo("regression", (3,), 5)

    assert registry.create("net-a", task=FiveOutputs()).zoo_identity.config.width == 10
    assert registry.create("net-a", task=FiveOutputs(), width=7).zoo_identity.config.width == 7


def test_bad_config_values_are_errors_listing_valid_fields(registry):
    with pytest.raises(ConfigError) as err:
        registry.create("net-a", widht=3)
    message = str(err.value)
    assert "unknown field 'widht' (did you mean 'width'?)" in message
    assert "width (int, default 4)" in message and "depth (int, default 2)" in message
    with pytest.raises(ConfigError, match=r"width='4': Input should be a valid integer"):
        registry.create("net-a", width="4")
    with pytest.raises(ConfigError, match=r"depth=0: Input should be greater than or equal to 1"):
        registry.create("net-a", depth=0)
    with pytest.raises(ConfigError, match=r"width=True"):
        registry.create("net-a", width=True)


def test_plugin_missing_for_a_catalog_entry(tmp_path):
    path = tmp_path / "catalog.yaml"
    path.write_text("schema: 1\nmodels:\n  orphan:\n    plugin: nowhere\n    paper: {title: T}\n")
    registry = Registry(catalogs=[path], plugins={})
    assert registry.list_models() == ["orphan"]
    with pytest.raises(PluginError, match=r"no installed package has an entry point 'nowhere'"):
        registry.create("orphan")
    assert any("not installed" in failure.message for _, failure in registry.doctor())


def test_strict_mode_raises_instead_of_recording(tmp_path, monkeypatch):
    (tmp_path / "explodes.py").write_text(textwrap.dedent("""
        import zoo
        @zoo.hookimpl
        def zoo_models():
            raise RuntimeError("boom")
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    path = tmp_path / "catalog.yaml"
    path.write_text("schema: 1\nmodels:\n  bomb:\n    plugin: explodes\n    paper: {title: T}\n")
    lenient = Registry(catalogs=[path], plugins={"explodes": "explodes"}, strict=False)
    with pytest.raises(PluginError, match=r"\[hook\] zoo_models\(\) raised RuntimeError: boom"):
        lenient.create("bomb")
    status = lenient.plugins()[0]
    assert status.state == "failed" and "RuntimeError: boom" in status.failures[0].traceback
    strict = Registry(catalogs=[path], plugins={"explodes": "explodes"}, strict=True)
    with pytest.raises(PluginError) as err:
        strict.create("bomb")
    assert isinstance(err.value.__cause__, RuntimeError), "strict mode chains the plugin's own exception"


def test_bad_catalog_in_strict_mode_raises(tmp_path):
    path = tmp_path / "catalog.yaml"
    path.write_text("schema: 1\nmodels:\n  x:\n    plugin: p\n    paper: {title: T, year: soon}\n")
    assert Registry(catalogs=[path], plugins={}).list_models() == []
    with pytest.raises(ZooError, match=r"models\.x\.paper\.year: expected int"):
        Registry(catalogs=[path], plugins={}, strict=True).list_models()


def test_name_collisions_keep_the_first_and_name_both_sides(tmp_path, monkeypatch):
    (tmp_path / "first.py").write_text(PLUGIN)
    monkeypatch.syspath_prepend(str(tmp_path))
    one, two = tmp_path / "one.yaml", tmp_path / "two.yaml"
    one.write_text("schema: 1\nmodels:\n  net-a:\n    plugin: first\n    paper: {title: One}\n")
    two.write_text("schema: 1\nmodels:\n  net-a:\n    plugin: second\n    paper: {title: Two}\n")
    registry = Registry(catalogs=[one, two], plugins={"first": "first", "second": "first"})
    assert registry.info("net-a").paper.title == "One"
    problems = [f.message for _, f in registry.doctor() if f.stage == "collision"]
    assert any("'second'" in m and "'first'" in m and "keeping the first" in m for m in problems), problems


def test_empty_registry_says_no_catalog(tmp_path):
    registry = Registry(catalogs=[], plugins={})
    assert registry.list_models() == []
    with pytest.raises(UnknownNameError, match="No catalog is installed"):
        registry.info("kan")
