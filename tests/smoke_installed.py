"""Smoke test of an installed wheel, run by .ci/run from a folder outside the source tree with the
wheel's own environment (not collected by pytest): the packages come from site-packages, every
plugin loads, every catalog model builds at its default config, the shipped reference weights load
offline, and a saved model loads back."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import zoo
import zoo_plugins

source_tree = Path(sys.argv[1]).resolve()
for module in (zoo, zoo_plugins):
    where = Path(module.__file__).resolve()
    assert source_tree not in where.parents, f"{module.__name__} was imported from the source tree: {where}"
    assert "site-packages" in where.parts, where

problems = zoo.doctor()
assert not problems, problems
names = zoo.list_models()
assert len(names) >= 24, names
for name in names:
    model = zoo.create(name)
    assert sum(p.numel() for p in model.parameters()) > 0, name

os.environ["HF_HUB_OFFLINE"] = "1"
pretrained = zoo.list_models(pretrained=True)
assert pretrained, "no shipped reference weights"
for name in pretrained:
    zoo.create(name, pretrained=True)

# every paper's scripts and recorded results come with the package
from zoo.reproduce import find_parts, recorded  # noqa: E402

with_scripts = [name for name in names if find_parts(name)]
assert len(with_scripts) >= 24, with_scripts
for name in with_scripts:
    for part in find_parts(name):
        assert part.folder.is_relative_to(Path(zoo_plugins.__file__).parent), part
    records = sorted((find_parts(name)[0].folder / "results").glob("*.json"))
    assert records and all(recorded(find_parts(name)[0], r.stem) for r in records), name

with tempfile.TemporaryDirectory() as tmp:
    kan = zoo.create("kan", width=[2, 3, 1])
    zoo.save(kan, Path(tmp) / "kan")
    again = zoo.load(Path(tmp) / "kan")
    assert all((a == b).all() for a, b in zip(kan.state_dict().values(), again.state_dict().values()))

# every training method builds from the package, with its scripts and records; a structural one
# trains a model that saves and loads with it
methods = zoo.list_methods()
assert len(methods) >= 7, methods
for name in methods:
    zoo.method(name)
    assert find_parts(name) and (find_parts(name)[0].folder / "results").is_dir(), name
with tempfile.TemporaryDirectory() as tmp:
    mixer = zoo.create("mlp-mixer", variant="digits", task="digits", hidden_dim=16, num_blocks=2)
    zoo.train(mixer, "digits", methods=["dorefa"], epochs=1, progress=False, out_dir=Path(tmp) / "run")
    again = zoo.load(Path(tmp) / "run")
    assert [m["name"] for m in again.zoo_methods] == ["dorefa"]
print(f"installed wheel OK: {len(names)} models built, {len(pretrained)} reference weights loaded offline, "
      f"{len(with_scripts)} models with reproductions and records, {len(methods)} training methods, "
      f"from {Path(zoo.__file__).parent.parent}")
