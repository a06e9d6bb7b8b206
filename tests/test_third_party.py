"""The worked third-party example (tests/example_plugin, documented in docs/plugin-guide.md),
installed by pip like any outside package, behaves exactly like a first-party plugin."""

from __future__ import annotations

import pytest
import yaml

import zoo
from zoo.testing import (ConformanceError, assert_conforms, assert_method_conforms, conformance_report,
                         method_conformance_report)

from conftest import run_zoo


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
    assert sorted(status.provides) == ["example-l2-sp", "example-mlp", "example/parabola"]


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
    problem = report["catalog documents the config"]
    assert "differs from ExampleMLPConfig; under example-mlp: put" in problem
    with pytest.raises(ConformanceError, match="fails 1 conformance check"):
        assert_conforms("example-mlp", registry)
    # the printed block pastes as is under the entry: indented to its place, it parses to every field
    pasted = yaml.safe_load("models:\n  example-mlp:\n" + problem.split("put\n", 1)[1])
    fields = pasted["models"]["example-mlp"]["config"]
    assert [f["name"] for f in fields] == ["in_features", "out_features", "hidden"]
    assert fields[2] == {"name": "hidden", "type": "list[int]", "default": [32, 32], "doc": "hidden layer widths"}


def test_doctor_reports_a_catalog_without_the_config_block(registry, monkeypatch):
    entry = registry.info("example-mlp")
    monkeypatch.setitem(registry._entries, "example-mlp", type(entry)(**{**entry.__dict__, "config": ()}))
    found = [(owner, f) for owner, f in registry.doctor() if f.stage == "config"]
    assert len(found) == 1 and found[0][0] == "example-mlp"
    assert "config block of model 'example-mlp'" in found[0][1].message and "has no config block" in found[0][1].message
    assert "    - name: in_features" in found[0][1].message or "    - {name: in_features" in found[0][1].message


def test_a_third_party_method_is_found_checked_and_trained_like_a_first_party_one(registry):
    assert "example-l2-sp" in registry.list_methods()
    entry = registry.method_info("example-l2-sp")
    assert entry.source.startswith("paperzoo-example") and [f.name for f in entry.config] == ["alpha"]

    def make_model():
        import torch

        torch.manual_seed(0)
        return registry.create("example-mlp", task="example/parabola", hidden=[8])

    assert_method_conforms("example-l2-sp", make_model, "example/parabola", registry, alpha=0.5)
    with pytest.raises(zoo.ConfigError, match="unknown field 'alhpa'.*did you mean 'alpha'"):
        registry.method("example-l2-sp", alhpa=1.0)


def test_method_conformance_catches_options_the_catalog_does_not_document(registry, monkeypatch):
    entry = registry.method_info("example-l2-sp")
    monkeypatch.setitem(registry._methods, "example-l2-sp", type(entry)(**{**entry.__dict__, "config": ()}))
    report = method_conformance_report("example-l2-sp", lambda: registry.create("example-mlp", hidden=[4]),
                                       "example/parabola", registry)
    assert "name: alpha" in report["catalog documents the options"]


def test_zoo_train_runs_a_third_party_method_from_the_shell(example_site, tmp_path):
    out = tmp_path / "run"
    done = run_zoo("train", "example-mlp", "--task", "example/parabola", "--method", "example-l2-sp",
                   "--method-option", "example-l2-sp.alpha=0.5", "--epochs", "1", "--out", str(out), "--json",
                   site=example_site)
    assert done.returncode == 0, done.stderr
    import json

    assert json.loads((out / "metrics.json").read_text())["methods"] == [{"name": "example-l2-sp",
                                                                         "config": {"alpha": 0.5}}]
    wrong = run_zoo("train", "example-mlp", "--task", "example/parabola", "--method", "example-l2-sp",
                    "--method-option", "example-l2-sp.alpha=-1", "--out", str(tmp_path / "bad"), site=example_site)
    assert wrong.returncode == 2 and len(wrong.stderr.strip().splitlines()) == 1 and "alpha" in wrong.stderr
    listed = run_zoo("list", "--methods", "--names", site=example_site)
    assert "example-l2-sp" in listed.stdout.split()
    info = run_zoo("info", "example-l2-sp", site=example_site)
    assert info.returncode == 0 and "alpha" in info.stdout and "training method" in info.stdout


def test_the_example_task_takes_options_and_names_a_bad_one(registry):
    from zoo.errors import ConfigError

    task = registry.get_task("example/parabola", n_train=64)
    assert len(task.splits()["train"]) == 64 and task.build_options == {"n_train": 64}
    with pytest.raises(ConfigError, match=r"n_train=0, expected 1 to 100000 points"):
        registry.get_task("example/parabola", n_train=0)
    with pytest.raises(ConfigError, match=r"has no option 'n_trian'.*Did you mean 'n_train'"):
        registry.get_task("example/parabola", n_trian=64)
