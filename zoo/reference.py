"""Reference weights, reproducibly: rebuild a catalog checkpoint from its `recipe` and write its
repo folder (model.safetensors, config.json, model card, metrics.json, curves.png); publish the
shipped ones to a Hub organisation and pin them in their paper's catalog.yaml.

    python -m zoo.reference kan.toy-exp-sin              # -> runs/reference/kan.toy-exp-sin/
    python -m zoo.reference kan.toy-exp-sin --install    # also into the package path `file` names
    python -m zoo.reference kan.toy-exp-sin --push org/kan-toy-exp-sin
    python -m zoo.reference --publish ORG [NAME ...]     # every shipped checkpoint (or NAMEs) -> ORG

The catalog entry says how to rebuild. A recipe of `zoo.train` options (epochs, lr, optimizer,
batch_size, seed, ...) trains the checkpoint's variant and config (exactly what
`zoo.create("arch.tag", pretrained=True)` builds) on `task`: the model is initialised under
`torch.manual_seed(recipe seed)`, and training seeds itself the same way, so a rerun on the same
software gives the same bytes on CPU. A recipe `{reproduction: <part>, seed: <n>}` names the
paper's reproduction part that trains these weights (with that seed) and keeps them with
`run.keep(model, tag)`: the part runs at full size and its `weights/<tag>/` folder is the build.
The run prints the weights block to paste into the catalog (sha256 and measured metrics); a Hub
location goes in only once really pushed.

`--publish` uploads each shipped repo folder to `ORG/<model>-<tag>`, checks that the hosted
model.safetensors at the pushed commit has the catalog's sha256, writes `repo_id` and `revision`
into that entry of `plugins/<paper>/catalog.yaml` (a targeted edit; the rest of the file keeps its
bytes) and regenerates registry.yaml. A checkpoint that fails is reported and left unpinned.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import yaml

from .catalog_build import PAPER_CATALOG, ROOT
from .errors import CatalogError, HubError, IntegrityError, UnknownNameError, WeightsError, ZooError, did_you_mean

__all__ = ["ReferenceBuild", "build_reference", "install_reference", "catalog_block", "ShippedCheckpoint",
           "shipped_checkpoints", "PublishReport", "publish", "pin_catalog", "main"]

DEFAULT_OUT = Path("runs") / "reference"
REPRODUCTION = "reproduction"  # the recipe key naming the reproduction part that trains the weights


@dataclass(frozen=True)
class ReferenceBuild:
    name: str  # 'arch.tag'
    folder: Path
    sha256: str
    metrics: dict  # final metrics of the run, as zoo.train measured them


def build_reference(name: str, out_dir: str | Path | None = None, *, registry=None) -> ReferenceBuild:
    """Rebuild catalog checkpoint `name` ('arch.tag') from its recipe; write its repo folder in
    `out_dir` (default runs/reference/<name>) and return where it is, its sha256 and metrics."""
    from .registry import default_registry
    from .weights import catalog_weights

    registry = registry or default_registry()
    entry, weights = catalog_weights(name, registry)
    full_name = f"{entry.name}.{weights.tag}"
    folder = Path(out_dir) if out_dir is not None else DEFAULT_OUT / full_name
    if REPRODUCTION in weights.recipe:
        return _build_by_reproduction(entry, weights, folder, registry)
    if not weights.task or not weights.recipe:
        raise WeightsError(f"catalog weights {full_name} ({entry.source}) need 'task' and 'recipe' to be rebuilt")
    return _build_by_training(entry, weights, folder, registry)


def _build_by_training(entry, weights, folder: Path, registry) -> ReferenceBuild:
    import torch

    from .hub import sha256_file
    from .repo_files import WEIGHTS_NAME
    from .training import train
    from .weights import save

    full_name = f"{entry.name}.{weights.tag}"
    recipe = dict(weights.recipe)
    recipe.setdefault("seed", 0)
    torch.manual_seed(recipe["seed"])
    model = registry.create(full_name)  # the checkpoint's variant and config, no weights
    model.zoo_identity = dataclasses.replace(model.zoo_identity, weights=weights.tag)
    with tempfile.TemporaryDirectory(prefix="zoo-reference-") as run_dir:
        result = train(model, weights.task, out_dir=run_dir, progress=False, **recipe)
        save(model, folder, run=run_dir, license=weights.license, registry=registry)
    return ReferenceBuild(full_name, folder.resolve(), sha256_file(folder / WEIGHTS_NAME), dict(result.final))


def _build_by_reproduction(entry, weights, folder: Path, registry) -> ReferenceBuild:
    """Run the reproduction part the recipe names (full size) and take the `weights/<tag>/` folder
    it keeps. The part seeds its own runs; the recipe's `seed` says which run it keeps."""
    from .hub import sha256_file
    from .repo_files import METRICS_NAME, WEIGHTS_NAME, check_repo_folder
    from .reproduce import WEIGHTS as KEPT
    from .reproduce import run_part, select_parts
    from .weights import is_zoo_folder

    full_name = f"{entry.name}.{weights.tag}"
    where = f"catalog weights {full_name} ({entry.source})"
    extra = set(weights.recipe) - {REPRODUCTION, "seed"}
    if extra or not isinstance(weights.recipe[REPRODUCTION], str):
        raise WeightsError(f"{where}: a reproduction recipe is {{{REPRODUCTION}: <part>, seed: <n>}}; "
                           f"got {weights.recipe!r}")
    part, = select_parts(entry.name, weights.recipe[REPRODUCTION], registry)
    folder = folder.expanduser()
    if folder.exists() and not (folder.is_dir() and is_zoo_folder(folder)):
        raise WeightsError(f"{folder} exists and is not a zoo repo folder; choose another --out")
    folder.parent.mkdir(parents=True, exist_ok=True)
    # beside the target, so the kept folder moves into place with a rename
    with tempfile.TemporaryDirectory(prefix=".zoo-reference-", dir=folder.parent) as out:
        run_part(part, out)
        kept = Path(out) / KEPT / weights.tag
        if not (kept / WEIGHTS_NAME).is_file():
            raise WeightsError(f"{where}: {part.command} ran but kept no weights '{weights.tag}' "
                               f"(its reproduce(run) must call run.keep(model, {weights.tag!r}))")
        check_repo_folder(kept)
        if folder.exists():
            folder.rename(Path(out) / "replaced")
        kept.rename(folder)
    metrics_file = folder / METRICS_NAME
    final = json.loads(metrics_file.read_text(encoding="utf-8")).get("final") if metrics_file.is_file() else None
    metrics = {k: v for k, v in (final or {}).items() if isinstance(v, (int, float))}
    return ReferenceBuild(full_name, folder.resolve(), sha256_file(folder / WEIGHTS_NAME), metrics)


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


# --- publishing the shipped checkpoints -------------------------------------------------------------


@dataclass(frozen=True)
class ShippedCheckpoint:
    """A weights entry of a paper's catalog.yaml whose repo folder ships in the plugin package."""

    name: str  # 'arch.tag'
    catalog: Path  # plugins/<paper>/catalog.yaml
    model: str
    tag: str
    sha256: str | None
    folder: Path | None  # the shipped repo folder; None when `file` is not under this checkout's plugins/
    problem: str = ""  # why it cannot be published as it stands

    def repo_id(self, org: str) -> str:
        return f"{org}/{self.model}-{self.tag}"


def _shipped_folder(root: Path, file: str) -> tuple[Path | None, str]:
    """The checkout folder a `file` ('zoo_plugins.<paper>:weights/<tag>/model.safetensors') names."""
    from .repo_files import WEIGHTS_NAME

    package, _, relative = file.partition(":")
    head, *parts = package.split(".")
    if head != "zoo_plugins" or not parts:
        return None, f"its file {file!r} is not in a zoo_plugins package, so this checkout does not ship it"
    plugin = (root / "plugins").joinpath(*parts).resolve()
    path = (plugin / relative).resolve()
    if not path.is_relative_to(plugin) or path.name != WEIGHTS_NAME:
        return None, f"its file {file!r} must name {WEIGHTS_NAME} inside its plugin package"
    return path.parent, ""


def shipped_checkpoints(root: str | Path = ROOT) -> dict[str, ShippedCheckpoint]:
    """Every weights entry with a shipped `file` in the checkout's plugins/*/catalog.yaml, by name."""
    from .catalog_build import read_paper_catalog

    root = Path(root)
    if not (root / "plugins").is_dir():
        raise CatalogError(f"{root} is not a source checkout: it has no plugins/ folder")
    found = {}
    for path in sorted((root / "plugins").glob(f"*/{PAPER_CATALOG}")):
        for model, entry in (read_paper_catalog(path).get("models") or {}).items():
            listed = entry.get("weights") if isinstance(entry, dict) else None
            for tag, weights in (listed if isinstance(listed, dict) else {}).items():
                if not isinstance(weights, dict) or not weights.get("file"):
                    continue
                folder, problem = _shipped_folder(root, str(weights["file"]))
                if weights.get("filename", "model.safetensors") != "model.safetensors":
                    problem = f"its filename {weights['filename']!r} is not the shipped model.safetensors"
                found[f"{model}.{tag}"] = ShippedCheckpoint(f"{model}.{tag}", path, model, tag, weights.get("sha256"),
                                                            folder, problem)
    return found


def _scalar(value: str) -> str:
    """`value` as YAML text: plain when it reads back as itself, else double-quoted."""
    return value if yaml.safe_load(value) == value else json.dumps(value)


def _child(node, key: str, where: str):
    if not isinstance(node, yaml.MappingNode):
        raise CatalogError(f"{where}: expected a mapping")
    for k, v in node.value:
        if isinstance(k, yaml.ScalarNode) and k.value == key:
            return k, v
    raise CatalogError(f"{where}: has no {key!r}")


def _write_atomically(path: Path, text: str) -> None:
    staging = path.with_name(f".{path.name}.partial")
    staging.write_text(text, encoding="utf-8")
    if path.exists():
        shutil.copymode(path, staging)
    staging.replace(path)


def pin_catalog(path: str | Path, model: str, tag: str, repo_id: str, revision: str) -> None:
    """Set `repo_id` and `revision` of weights `model.tag` in a catalog.yaml by editing only those
    values (or inserting them after `file`); every other byte, comments included, stays. The edit
    is checked by reading the file back, and written with one rename."""
    from .catalog import read_yaml

    path = Path(path)
    text = path.read_text(encoding="utf-8")
    where = f"{path}: models.{model}.weights.{tag}"
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)  # the pure-Python parser: marks count characters
    except yaml.YAMLError as exc:
        raise CatalogError(f"{path}: not valid YAML: {exc}") from None
    for key in ("models", model, "weights", tag):
        node = _child(node, key, where)[1]
    if not isinstance(node, yaml.MappingNode):
        raise CatalogError(f"{where}: expected a mapping")
    pins = {"repo_id": repo_id, "revision": revision}
    present = {k.value: v for k, v in node.value if isinstance(k, yaml.ScalarNode)}
    # (start, end, new text), applied from the end of the file backwards
    edits = [(present[k].start_mark.index, present[k].end_mark.index, _scalar(v)) for k, v in pins.items()
             if k in present]
    missing = {k: v for k, v in pins.items() if k not in present}
    if missing:
        file_key, file_value = _child(node, "file", where)
        if node.flow_style:
            at = file_value.end_mark.index
            edits.append((at, at, "".join(f", {k}: {_scalar(v)}" for k, v in missing.items())))
        else:
            at = file_value.end_mark.index
            if file_value.end_mark.column != 0:  # not a block scalar, which ends at the next line already
                newline = text.find("\n", at)
                at = len(text) if newline < 0 else newline + 1
            lead = "" if text[:at].endswith("\n") else "\n"
            indent = " " * file_key.start_mark.column
            edits.append((at, at, lead + "".join(f"{indent}{k}: {_scalar(v)}\n" for k, v in missing.items())))
    edited = text
    for start, end, new in sorted(edits, reverse=True):
        edited = edited[:start] + new + edited[end:]
    expected = read_yaml(text)
    expected["models"][model]["weights"][tag].update(pins)
    if read_yaml(edited) != expected:
        raise CatalogError(f"{where}: pinning repo_id and revision by a text edit would change more than them "
                           f"(an anchor or unusual layout); add them by hand")
    _write_atomically(path, edited)


@dataclass
class PublishReport:
    published: dict[str, str]  # name -> 'hf-hub:repo_id@revision' pinned in its catalog.yaml
    failed: dict[str, str]  # name -> why, one line
    registry: Path | None  # the regenerated registry.yaml (None when nothing was pinned)


def _publish_one(checkpoint: ShippedCheckpoint, repo_id: str) -> str:
    """Upload, verify the hosted bytes, pin: the pinned commit sha."""
    from .hub import fetch_file, is_commit_sha, push_folder, sha256_file
    from .repo_files import WEIGHTS_NAME

    if checkpoint.problem:
        raise WeightsError(checkpoint.problem)
    if not checkpoint.sha256:
        raise CatalogError(f"{checkpoint.catalog} gives it no sha256")
    local = checkpoint.folder / WEIGHTS_NAME
    try:
        actual = sha256_file(local)
    except OSError as exc:
        raise WeightsError(f"its shipped file {local} cannot be read: {exc.strerror or exc}") from None
    if actual != checkpoint.sha256:  # publishing would pin bytes the catalog does not describe
        raise IntegrityError(f"its shipped file {local} has sha256 {actual}, but the catalog pins {checkpoint.sha256}")
    pushed = push_folder(checkpoint.folder, repo_id, commit_message=f"Reference weights {checkpoint.name}")
    if not is_commit_sha(pushed.commit):
        raise HubError(f"the push to {repo_id!r} returned {pushed.commit!r}, not a commit sha")
    fetch_file(repo_id, WEIGHTS_NAME, pushed.commit, sha256=checkpoint.sha256)  # what the Hub now serves
    pin_catalog(checkpoint.catalog, checkpoint.model, checkpoint.tag, repo_id, pushed.commit)
    return pushed.commit


def publish(org: str, names: list[str] | None = None, *, root: str | Path = ROOT) -> PublishReport:
    """Publish every shipped checkpoint of the checkout at `root` (or the named ones) to
    `org/<model>-<tag>`, pin each in its catalog.yaml and regenerate registry.yaml. Bad input (an
    unknown name, an org the Hub refuses, a catalog that does not build) is raised before any
    upload; a checkpoint that fails later is reported in `failed` and the others go on."""
    from .catalog_build import build_registry, write_registry
    from .cli import one_line
    from .hub import check_repo_id, hub_settings

    root = Path(root)
    shipped = shipped_checkpoints(root)
    if not shipped:
        raise CatalogError(f"no catalog.yaml under {root / 'plugins'} lists weights shipped in the package")
    chosen = list(dict.fromkeys(names)) if names else list(shipped)
    for name in chosen:
        if name not in shipped:
            raise UnknownNameError(f"{name!r} is not a shipped checkpoint of {root}.{did_you_mean(name, shipped)} "
                                   f"Shipped: {', '.join(shipped)}")
    if not isinstance(org, str) or "/" in org:
        raise HubError(f"--publish {org!r}: give an organisation (or user) name, without '/'")
    repo_ids = {name: check_repo_id(shipped[name].repo_id(org), f"organisation {org!r}") for name in chosen}
    if hub_settings().offline:
        raise HubError("HF_HUB_OFFLINE is set, so nothing can be published")
    build_registry(root)  # a catalog that cannot be assembled now would leave registry.yaml stale later
    report = PublishReport({}, {}, None)
    try:
        for name in chosen:
            try:
                commit = _publish_one(shipped[name], repo_ids[name])
            except (ZooError, OSError) as exc:
                report.failed[name] = one_line(str(exc))
            else:
                report.published[name] = f"hf-hub:{repo_ids[name]}@{commit}"
    finally:
        if report.published:
            report.registry = write_registry(root)
    return report


def _build(args) -> int:
    from .training.cli import check_output_path

    check_output_path(args.out, "--out", directory=True)
    build = build_reference(args.names[0], args.out)
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


def _publish(args) -> int:
    from .cli import EXIT_OK, EXIT_PROBLEMS, say

    report = publish(args.publish, args.names, root=args.root or ROOT)
    for name, uri in report.published.items():
        print(f"published {name}: {uri}")
    for name, why in report.failed.items():
        say(f"failed {name}: {why}")
    if report.registry is not None:
        print(f"pinned in the papers' catalog.yaml; wrote {report.registry}")
    return EXIT_PROBLEMS if report.failed else EXIT_OK


def _run(args) -> int:
    from .cli import UsageError

    prog = "python -m zoo.reference"
    if args.publish is not None:
        given = [flag for flag, value in (("--out", args.out), ("--install", args.install), ("--push", args.push))
                 if value]
        if given:
            raise UsageError(f"{prog}: --publish does not take {', '.join(given)}")
        return _publish(args)
    if len(args.names) != 1:
        raise UsageError(f"{prog}: name one checkpoint to rebuild (or publish with --publish ORG [NAME ...]); "
                         f"run '{prog} --help' for usage")
    if args.root is not None:
        raise UsageError(f"{prog}: --root goes with --publish")
    return _build(args)


def main(argv: list[str] | None = None) -> int:
    """`python -m zoo.reference`; errors are reported as by the `zoo` command (one line, exit 2;
    --publish exits 1 when some checkpoint failed)."""
    from .cli import ArgumentParser, run

    parser = ArgumentParser(prog="python -m zoo.reference", description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", metavar="NAME",
                        help="catalog weights 'arch.tag': the one to rebuild, or those to publish "
                             "(default: every shipped one)")
    parser.add_argument("--out", help=f"repo folder to write (default {DEFAULT_OUT}/<name>)")
    parser.add_argument("--install", action="store_true", help="copy the folder to the package path `file` names")
    parser.add_argument("--push", metavar="REPO", help="upload the folder to this Hub repo (HF_TOKEN)")
    parser.add_argument("--publish", metavar="ORG",
                        help="upload every shipped checkpoint (or NAMEs) to ORG/<model>-<tag> and pin it in its "
                             "catalog.yaml (HF_TOKEN)")
    parser.add_argument("--root", help=f"with --publish: the source checkout to pin (default {ROOT})")
    parser.set_defaults(func=_run)
    return run(parser, argv)


if __name__ == "__main__":
    sys.exit(main())
