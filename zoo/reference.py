"""Reference weights, reproducibly: train a catalog checkpoint from its `recipe` and write its repo
folder (model.safetensors, config.json, model card, metrics.json, curves.png).

    python -m zoo.reference kan.toy-exp-sin              # -> runs/reference/kan.toy-exp-sin/
    python -m zoo.reference kan.toy-exp-sin --install    # also into the package path `file` names
    python -m zoo.reference kan.toy-exp-sin --push org/kan-toy-exp-sin

The catalog entry says what to train: the checkpoint's variant and config build the model (exactly
as `zoo.create("arch.tag", pretrained=True)` will), `task` is what it trains and is measured on,
and `recipe` holds the `zoo.train` options (epochs, lr, optimizer, batch_size, seed, ...). The model
is initialised under `torch.manual_seed(recipe seed)`, and training seeds itself the same way, so a
rerun on the same software gives the same bytes on CPU. The run prints the weights block to paste
into the catalog (sha256 and measured metrics); a Hub location goes in only once really pushed.
"""

from __future__ import annotations

import dataclasses
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import yaml

from .errors import WeightsError

__all__ = ["ReferenceBuild", "build_reference", "install_reference", "catalog_block", "main"]

DEFAULT_OUT = Path("runs") / "reference"


@dataclass(frozen=True)
class ReferenceBuild:
    name: str  # 'arch.tag'
    folder: Path
    sha256: str
    metrics: dict  # final metrics of the run, as zoo.train measured them


def build_reference(name: str, out_dir: str | Path | None = None, *, registry=None) -> ReferenceBuild:
    """Train catalog checkpoint `name` ('arch.tag') from its recipe; write its repo folder in
    `out_dir` (default runs/reference/<name>) and return where it is, its sha256 and metrics."""
    import torch

    from .hub import sha256_file
    from .registry import default_registry
    from .training import train
    from .weights import WEIGHTS_NAME, catalog_weights, save

    registry = registry or default_registry()
    entry, weights = catalog_weights(name, registry)
    full_name = f"{entry.name}.{weights.tag}"
    if not weights.task or not weights.recipe:
        raise WeightsError(f"catalog weights {full_name} ({entry.source}) need 'task' and 'recipe' to be rebuilt")
    recipe = dict(weights.recipe)
    recipe.setdefault("seed", 0)
    folder = Path(out_dir) if out_dir is not None else DEFAULT_OUT / full_name
    torch.manual_seed(recipe["seed"])
    model = registry.create(full_name)  # the checkpoint's variant and config, no weights
    model.zoo_identity = dataclasses.replace(model.zoo_identity, weights=weights.tag)
    with tempfile.TemporaryDirectory(prefix="zoo-reference-") as run_dir:
        result = train(model, weights.task, out_dir=run_dir, progress=False, **recipe)
        save(model, folder, run=run_dir, license=weights.license, registry=registry)
    return ReferenceBuild(full_name, folder.resolve(), sha256_file(folder / WEIGHTS_NAME), dict(result.final))


def install_reference(build: ReferenceBuild, *, registry=None) -> Path:
    """Copy a built repo folder to where the catalog's `file` says the package ships it."""
    import importlib.resources

    from .registry import default_registry
    from .weights import catalog_weights

    entry, weights = catalog_weights(build.name, registry or default_registry())
    if not weights.file:
        raise WeightsError(f"catalog weights {build.name} have no 'file': nothing says where the package ships them")
    package, _, relative = weights.file.partition(":")
    target = Path(str(importlib.resources.files(package).joinpath(relative)))
    if target.name != "model.safetensors":
        raise WeightsError(f"{weights.file!r}: a shipped repo folder holds 'model.safetensors'; name that file")
    target.parent.mkdir(parents=True, exist_ok=True)
    for source in sorted(build.folder.iterdir()):
        staging = target.parent / f".{source.name}.partial"
        shutil.copyfile(source, staging)
        staging.replace(target.parent / source.name)
    return target.parent


def catalog_block(build: ReferenceBuild, *, registry=None, repo_id: str | None = None,
                  revision: str | None = None) -> str:
    """The catalog weights entry for this build: the current one with sha256, metrics (test split
    first) and, after a real push, repo_id and revision."""
    from .registry import default_registry
    from .weights import catalog_weights

    _, weights = catalog_weights(build.name, registry or default_registry())
    fields = {f.name: getattr(weights, f.name) for f in dataclasses.fields(weights) if f.name != "tag"}
    fields["sha256"] = build.sha256
    fields["metrics"] = {k: float(f"{v:.6g}") for k, v in build.metrics.items() if k.startswith("test_")} \
        or {k: float(f"{v:.6g}") for k, v in build.metrics.items()}
    if repo_id:
        fields.update(repo_id=repo_id, revision=revision)
    defaults = {f.name: f.default for f in dataclasses.fields(weights) if f.default is not dataclasses.MISSING}
    kept = {k: v for k, v in fields.items() if v not in (None, "", {}, []) and v != defaults.get(k, object())}
    return yaml.safe_dump({build.name.split(".", 1)[1]: kept}, sort_keys=False, width=100)


def _run(args) -> int:
    from .training.cli import check_output_path

    check_output_path(args.out, "--out", directory=True)
    build = build_reference(args.name, args.out)
    print(f"built {build.name} in {build.folder}\n  sha256 {build.sha256}\n  metrics {build.metrics}")
    if args.install:
        print(f"installed into {install_reference(build)}")
    pushed = None
    if args.push:
        from .hub import push_folder

        pushed = push_folder(build.folder, args.push, commit_message=f"Reference weights {build.name}")
        print(f"pushed to {pushed.url}")
    print("\ncatalog entry (paste under the model's weights:):\n")
    print(catalog_block(build, repo_id=pushed.repo_id if pushed else None,
                        revision=pushed.commit if pushed else None))
    return 0


def main(argv: list[str] | None = None) -> int:
    """`python -m zoo.reference`; errors are reported as by the `zoo` command (one line, exit 2)."""
    from .cli import ArgumentParser, run

    parser = ArgumentParser(prog="python -m zoo.reference", description=__doc__.split("\n\n")[0])
    parser.add_argument("name", help="catalog weights to rebuild, 'arch.tag'")
    parser.add_argument("--out", help=f"repo folder to write (default {DEFAULT_OUT}/<name>)")
    parser.add_argument("--install", action="store_true", help="copy the folder to the package path `file` names")
    parser.add_argument("--push", metavar="REPO", help="upload the folder to this Hub repo (HF_TOKEN)")
    parser.set_defaults(func=_run)
    return run(parser, argv)


if __name__ == "__main__":
    sys.exit(main())
