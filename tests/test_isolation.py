"""Fault isolation and import cost, with real packages installed by pip: a plugin that fails to
import, one whose hook raises, one returning garbage, one claiming taken names, one with a
malformed catalog. The others keep working; every failure is kept and shown."""

from __future__ import annotations

import json

import pytest

from conftest import run_python, run_zoo

GOOD_MODELS = {"kan", "example-mlp", "thief-ok", "good-entry"}


def test_listing_and_creating_work_beside_broken_plugins(broken_site):
    listed = run_zoo("list", "--names", site=broken_site)
    assert listed.returncode == 0, listed.stderr
    assert GOOD_MODELS <= set(listed.stdout.split())
    assert "bad-entry" not in listed.stdout, "a malformed catalog entry is dropped"
    created = run_python(
        "import zoo\n"
        "for name in ['kan', 'example-mlp', 'thief-ok', 'good-entry']:\n"
        "    print(name, type(zoo.create(name)).__module__)\n",
        site=broken_site,
    )
    assert created.returncode == 0, created.stderr
    assert "kan zoo_plugins.kan.model" in created.stdout, "the taken name 'kan' still builds the first-party KAN"


def test_every_failure_is_kept_with_its_traceback(broken_site):
    done = run_zoo("plugins", "--json", site=broken_site)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    by_name = {}
    for status in report["plugins"]:
        by_name.setdefault(status["name"], []).append(status)
    broken = by_name["broken-import"][0]
    assert broken["state"] == "failed"
    assert broken["failures"][0]["stage"] == "import"
    assert "zoo_fixture_dependency_that_is_not_installed" in broken["failures"][0]["traceback"]
    raising = by_name["raising-hook"][0]
    assert raising["failures"][0]["stage"] == "hook"
    assert "RuntimeError: the raising-hook fixture fails on purpose" in raising["failures"][0]["traceback"]
    assert by_name["bad-return"][0]["failures"][0]["message"].startswith("zoo_models() returned dict")
    thief = by_name["name-thief"][0]
    assert thief["state"] == "ok" and thief["provides"] == ["thief-ok"]
    assert any("'kan'" in f["message"] and "paperzoo" in f["message"] for f in thief["failures"])
    shadow = [s for s in by_name["kan"] if s["distribution"] == "paperzoo-name-thief"][0]
    assert shadow["state"] == "failed" and "already taken by paperzoo" in shadow["failures"][0]["message"]
    assert by_name["example-mlp"][0]["state"] == "ok" and not by_name["example-mlp"][0]["failures"]
    catalog = report["catalog_failures"]
    assert any("models.bad-entry.paper.year: expected int" in f["message"] for f in catalog)


def test_cli_shows_errors_without_tracebacks_unless_asked(broken_site):
    plain = run_zoo("plugins", site=broken_site)
    assert "Traceback" not in plain.stdout + plain.stderr
    assert "broken-import" in plain.stdout and "--verbose" in plain.stdout
    verbose = run_zoo("plugins", "--verbose", site=broken_site)
    assert "Traceback (most recent call last)" in verbose.stdout
    doctor = run_zoo("doctor", site=broken_site)
    assert doctor.returncode == 1, "doctor exits 1 when it finds problems"
    assert "problem(s)" in doctor.stdout


def test_strict_mode_reraises_for_plugin_authors(broken_site):
    done = run_python("import zoo; zoo.create('broken-import-model')", site=broken_site)
    assert done.returncode == 1 and "PluginError" in done.stderr
    strict = run_zoo("--strict", "list", site=broken_site)
    assert strict.returncode == 2
    assert "models.bad-entry.paper.year" in strict.stderr or "already" in strict.stderr
    env_strict = run_python("import zoo; zoo.create('thief-ok')", site=broken_site)
    assert env_strict.returncode == 0, "without strict mode a refused name does not stop the plugin"


def test_clean_install_has_no_problems():
    done = run_zoo("doctor")
    assert done.returncode == 0, done.stdout + done.stderr


IMPORT_PROBE = """
import sys, json
import zoo
before = set(sys.modules)
{action}
loaded = sorted(m for m in sys.modules if m == "torch" or m.startswith("zoo_plugins.") or m.startswith("torch."))
print(json.dumps(loaded))
"""


@pytest.mark.parametrize("action", ["pass", "zoo.list_models('*')", "zoo.info('kan')", "zoo.list_tasks()"])
def test_import_list_and_info_import_neither_torch_nor_plugins(action):
    done = run_python(IMPORT_PROBE.format(action=action))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []


def test_create_imports_only_the_plugin_it_needs():
    done = run_python(IMPORT_PROBE.format(action="zoo.create('kan')"))
    assert done.returncode == 0, done.stderr
    plugins = {m.split(".")[1] for m in json.loads(done.stdout.strip().splitlines()[-1])
               if m.startswith("zoo_plugins.")}
    assert plugins == {"kan"}
