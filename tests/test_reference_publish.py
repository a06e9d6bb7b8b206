"""`python -m zoo.reference --publish ORG`, end to end against the in-memory Hub-compatible server
(tests/hub_server.py on 127.0.0.1, no network): a copy of the kan paper folder (its catalog.yaml
and shipped weights, plus a second, flow-style checkpoint) is the source checkout; each shipped
folder is uploaded, its hosted bytes checked, its catalog.yaml entry pinned by a targeted edit and
registry.yaml regenerated; the pinned entry then loads from the server at that commit. A
checkpoint that fails is reported and left unpinned while the others go on; bad input is
refused before any upload."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import shutil

import pytest
import torch
import yaml
from hub_helpers import KAN_PLUGIN, ROOT
from hub_server import _HubError

import zoo
from zoo.catalog_build import build_registry
from zoo.errors import CatalogError, IntegrityError
from zoo.hub import sha256_file
from zoo.reference import main, pin_catalog
from zoo.registry import Registry

ORG = "zoo-tests"
BIG, TINY = "kan.toy-exp-sin", "kan.tiny"
STALE_REGISTRY = "# stale: publish regenerates this\n"


@pytest.fixture
def tiny_model():
    torch.manual_seed(0)
    model = zoo.create("kan", width=[2, 2, 1])
    model.zoo_identity = dataclasses.replace(model.zoo_identity, weights="tiny")
    return model


@pytest.fixture
def checkout(tmp_path, tiny_model):
    """plugins/kan/ with kan.toy-exp-sin as the repository lists it and kan.tiny written in flow
    style, each with its shipped folder; registry.yaml is stale."""
    root = tmp_path / "checkout"
    kan = root / "plugins" / "kan"
    shutil.copytree(ROOT / "plugins" / "kan" / "weights" / "toy-exp-sin", kan / "weights" / "toy-exp-sin")
    zoo.save(tiny_model, kan / "weights" / "tiny", license="mit")
    entry = yaml.safe_load((ROOT / "plugins" / "kan" / "catalog.yaml").read_text())["models"]["kan"]
    big = yaml.safe_dump({"toy-exp-sin": entry["weights"]["toy-exp-sin"]}, sort_keys=False, width=100)
    tiny = (f"tiny: {{sha256: {sha256_file(kan / 'weights/tiny/model.safetensors')}, "
            f"file: 'zoo_plugins.kan:weights/tiny/model.safetensors', config: {{width: [2, 2, 1]}}}}")
    entry["weights"] = {}
    text = yaml.safe_dump({"schema": 1, "models": {"kan": entry}}, sort_keys=False, width=100)
    text = text.replace("    weights: {}\n", "    weights:   # two checkpoints, kept as written\n"
                        f"      # the smallest, in flow style\n      {tiny}\n"
                        + "".join(f"      {line}\n" for line in big.splitlines()))
    (kan / "catalog.yaml").write_text("# kan's paper folder, copied for the publish tests\n" + text)
    (root / "registry.yaml").write_text(STALE_REGISTRY)
    return root


def _publish(root, *args: str) -> int:
    return main(["--publish", ORG, "--root", str(root), *args])


def _pinned(root, name: str) -> dict:
    model, tag = name.split(".")
    return yaml.safe_load((root / "plugins" / model / "catalog.yaml").read_text())["models"][model]["weights"][tag]


def _same(a, b) -> bool:
    return all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))


def test_publish_pins_each_checkpoint_and_it_loads_from_the_hub_at_that_commit(hub, checkout, tiny_model,
                                                                             tmp_path, monkeypatch, capsys):
    catalog = checkout / "plugins" / "kan" / "catalog.yaml"
    before = catalog.read_text()
    assert _publish(checkout) == 0
    out = capsys.readouterr().out
    pins = {}
    for name in (BIG, TINY):
        repo_id = f"{ORG}/{name.replace('.', '-')}"
        revision = hub.repos[repo_id].branches["main"]
        assert _pinned(checkout, name)["repo_id"] == repo_id and _pinned(checkout, name)["revision"] == revision
        assert f"published {name}: hf-hub:{repo_id}@{revision}" in out
        hosted = hub.repos[repo_id].commits[revision]
        assert {"model.safetensors", "config.json", "README.md"} <= set(hosted)
        assert hashlib.sha256(hosted["model.safetensors"]).hexdigest() == _pinned(checkout, name)["sha256"]
        pins[name] = (repo_id, revision)
    # only the pins were added: block-style lines after `file`, flow-style pairs after `file`'s value
    (big_repo, big_rev), (tiny_repo, tiny_rev) = pins[BIG], pins[TINY]
    big_file = "        file: zoo_plugins.kan:weights/toy-exp-sin/model.safetensors\n"
    tiny_file = "file: 'zoo_plugins.kan:weights/tiny/model.safetensors'"
    assert catalog.read_text() == before.replace(
        big_file, f"{big_file}        repo_id: {big_repo}\n        revision: {big_rev}\n").replace(
        tiny_file, f"{tiny_file}, repo_id: {tiny_repo}, revision: {tiny_rev}")
    assert (checkout / "registry.yaml").read_text() == build_registry(checkout)

    # the generated registry, with the shipped files unavailable: weights come from the server at the pin
    # (kan.tiny's folder is only in the copy; kan.toy-exp-sin's `file` is pointed where nothing is installed)
    expected_big = zoo.create(BIG, pretrained=True)
    generated = (checkout / "registry.yaml").read_text()
    assert "zoo_plugins.kan:weights/toy-exp-sin/" in generated
    unshipped = tmp_path / "unshipped-registry.yaml"
    unshipped.write_text(generated.replace("zoo_plugins.kan:weights/toy-exp-sin/", "zoo_plugins.kan:weights/absent/"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "fresh-cache"))
    registry = Registry(catalogs=[unshipped], plugins=KAN_PLUGIN, strict=True)
    assert _same(registry.create(TINY, pretrained=True), tiny_model)
    assert _same(registry.create(BIG, pretrained=True), expected_big)
    for repo_id, revision in pins.values():
        assert ("GET", f"/{repo_id}/resolve/{revision}/model.safetensors") in hub.requests

    # the Hub serving other bytes at the pinned commit is refused
    hub.repos[tiny_repo].commits[tiny_rev]["model.safetensors"] = hub.repos[big_repo].commits[big_rev][
        "model.safetensors"]
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "another-cache"))
    with pytest.raises(IntegrityError, match="is pinned"):
        registry.create(TINY, pretrained=True)


def test_publishing_again_pins_the_new_commit(hub, checkout, capsys):
    assert _publish(checkout) == 0
    first = {name: _pinned(checkout, name)["revision"] for name in (BIG, TINY)}
    card = checkout / "plugins" / "kan" / "weights" / "tiny" / "README.md"
    card.write_text(card.read_text() + "\nA corrected card.\n")
    assert _publish(checkout, TINY) == 0
    assert _pinned(checkout, TINY)["revision"] == hub.repos[f"{ORG}/kan-tiny"].branches["main"] != first[TINY]
    assert _pinned(checkout, BIG)["revision"] == first[BIG]
    assert (checkout / "plugins" / "kan" / "catalog.yaml").read_text().count("repo_id:") == 2  # replaced, not added
    assert (checkout / "registry.yaml").read_text() == build_registry(checkout)
    assert _publish(checkout) == 0  # nothing changed: the current commit is pinned again
    assert _pinned(checkout, TINY)["revision"] == hub.repos[f"{ORG}/kan-tiny"].branches["main"]


def test_a_refused_upload_leaves_the_others_published_and_its_entry_untouched(hub, checkout, capsys):
    accept = hub.commit

    def refuse_tiny(repo_id, revision, lines):
        if repo_id == f"{ORG}/kan-tiny":
            raise _HubError(403, "uploads to this repo are closed")
        return accept(repo_id, revision, lines)

    hub.commit = refuse_tiny
    catalog = checkout / "plugins" / "kan" / "catalog.yaml"
    tiny_line = next(line for line in catalog.read_text().splitlines() if line.lstrip().startswith("tiny:"))
    assert _publish(checkout) == 1
    captured = capsys.readouterr()
    assert captured.err.splitlines() == [captured.err.strip()]  # one line, naming which and why
    assert captured.err.startswith(f"failed {TINY}: ") and "HTTP 403" in captured.err
    assert "repo_id" not in _pinned(checkout, TINY) and tiny_line in catalog.read_text().splitlines()
    assert _pinned(checkout, BIG)["revision"] == hub.repos[f"{ORG}/kan-toy-exp-sin"].branches["main"]
    assert (checkout / "registry.yaml").read_text() == build_registry(checkout)


def test_bytes_that_do_not_match_the_catalog_are_never_pinned(hub, checkout, capsys):
    accept = hub.commit

    def corrupt_tiny(repo_id, revision, lines):  # the Hub stores other bytes than were sent
        for line in lines:
            if repo_id == f"{ORG}/kan-tiny" and line["value"].get("path") == "model.safetensors":
                data = bytearray(base64.b64decode(line["value"]["content"]))
                data[-1] ^= 1
                line["value"]["content"] = base64.b64encode(bytes(data)).decode()
        return accept(repo_id, revision, lines)

    hub.commit = corrupt_tiny
    shipped = checkout / "plugins" / "kan" / "weights" / "toy-exp-sin" / "model.safetensors"
    shipped.write_bytes(shipped.read_bytes()[:-1] + b" ")  # stale: no longer the catalog's bytes
    catalog = checkout / "plugins" / "kan" / "catalog.yaml"
    before = catalog.read_text()
    assert _publish(checkout) == 1
    failures = dict(line.split(": ", 1) for line in capsys.readouterr().err.splitlines())
    assert set(failures) == {f"failed {BIG}", f"failed {TINY}"}
    assert "has sha256" in failures[f"failed {BIG}"] and "the catalog pins" in failures[f"failed {BIG}"]
    assert "is pinned" in failures[f"failed {TINY}"]
    assert f"{ORG}/kan-toy-exp-sin" not in hub.repos  # a stale shipped file is not uploaded
    assert catalog.read_text() == before and (checkout / "registry.yaml").read_text() == STALE_REGISTRY


@pytest.mark.parametrize("args, message", [
    (["--publish", "has space"], "invalid repo id"),
    (["--publish", "a/b"], "without '/'"),
    (["--publish", "double--dash"], "invalid repo id"),
    (["--publish", ""], "invalid repo id"),
    (["--publish", ORG, "kan.toy-exp-sinn"], "Did you mean 'kan.toy-exp-sin'"),
    (["--publish", ORG, "--push", "a/b"], "does not take --push"),
])
def test_bad_input_is_refused_before_any_upload(hub, checkout, capsys, args, message):
    before = (checkout / "plugins" / "kan" / "catalog.yaml").read_text()
    assert main([*args, "--root", str(checkout)]) == 2
    assert message in capsys.readouterr().err
    assert hub.requests == []
    assert (checkout / "plugins" / "kan" / "catalog.yaml").read_text() == before


def test_pin_catalog_edits_only_the_pinned_values(tmp_path):
    path = tmp_path / "catalog.yaml"
    text = ("schema: 1  # kept\nmodels:\n  m:\n    weights:\n      a:\n        sha256: x\n        file: p:w.safetensors"
            "  # why\n        # note\n        license: mit\n      b:\n        file: p:b.safetensors\n"
            "        repo_id: old/b\n        revision: " + "a" * 40 + "\n      c:\n        file: p:c.safetensors")
    path.write_text(text)
    digits = "1" * 40  # plain, it would read back as a number
    pin_catalog(path, "m", "a", "org/m-a", digits)
    pin_catalog(path, "m", "b", "org/m-b", "b" * 40)
    pin_catalog(path, "m", "c", "org/m-c", "c" * 40)
    expected = text.replace("  # why\n", f'  # why\n        repo_id: org/m-a\n        revision: "{digits}"\n')
    expected = expected.replace("old/b", "org/m-b").replace("a" * 40, "b" * 40)
    assert path.read_text() == expected + "\n        repo_id: org/m-c\n        revision: " + "c" * 40 + "\n"
    assert yaml.safe_load(path.read_text())["models"]["m"]["weights"]["a"]["revision"] == digits
    with pytest.raises(CatalogError, match="has no 'missing'"):
        pin_catalog(path, "m", "missing", "org/x", "d" * 40)
    assert not list(tmp_path.glob(".*partial"))
