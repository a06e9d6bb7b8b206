"""The worked third-party example (tests/example_plugin, documented in docs/plugin-guide.md),
installed by pip like any outside package, behaves exactly like a first-party plugin."""

from __future__ import annotations

import pytest

import zoo
from zoo.testing import ConformanceError, assert_conforms, conformance_report


@pytest.fixture
def registry(example_site, monkeypatch):
    monkeypatch.syspath_prepend(str(example_site))
    return zoo.Registry()  # discovers installed entry points, now including the example's


def test_example_is_discovered_through_entry_points(registry):
    assert "example-mlp" in registry.list_models()
    assert registry.info("example-mlp").source.startswith("paperzoo-example")
    assert "example/parabola" in registry.list_tasks()
    status = {s.name: s for s in registry.plugins()}["example-mlp"]
    assert status.state == "ok" and status.distribution == "paperzoo-example" and status.version == "1.0.0"
    assert sorted(status.provides) == ["example-mlp", "example/parabola"]


def test_example_passes_conformance(registry):
    assert_conforms("example-mlp", registry)
    assert_conforms("example-mlp", registry, hidden=[8])


def test_example_variants_and_task_sizing(registry):
    wide = registry.create("example-mlp", variant="wide")
    assert wide[0].out_features == 256
    model = registry.create("example-mlp", task="example/parabola")
    assert model[0].in_features == 1


def test_conformance_catches_a_catalog_that_drifted_from_the_config(registry, monkeypatch):
    entry = registry.info("example-mlp")
    drifted = entry.config[:-1]  # the catalog forgets a field
    monkeypatch.setitem(registry._entries, "example-mlp", type(entry)(**{**entry.__dict__, "config": drifted}))
    report = conformance_report("example-mlp", registry)
    assert "replace it with" in report["catalog documents the config"]
    assert "name: hidden" in report["catalog documents the config"]
    with pytest.raises(ConformanceError, match="fails 1 conformance check"):
        assert_conforms("example-mlp", registry)
