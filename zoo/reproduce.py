"""Reproductions: find the reproduction and speed scripts in a paper's plugin folder, run one into an
output folder laid out like the paper folder (results/ for records and figures, weights/ for the
models it trained), and compare its verdicts with the ones recorded in the package.

A paper's plugin folder holds its scripts as modules named ``repro*.py`` (claims of the paper) and
``perf*.py`` (speed and memory). Each defines ``reproduce(run: Run)``, sizes itself with
``run.pick(full, quick)`` and writes through ``run.record``, ``run.figure`` and ``run.keep``:

    zoo reproduce fan                      # every part, into runs/reproduce/fan/
    zoo reproduce fan --quick              # a smoke run: the same code at a tiny size
    zoo reproduce kan --part repro_toy --out plugins/kan     # refresh the recorded results
"""

from __future__ import annotations

import datetime
import importlib
import importlib.util
import json
import os
import platform
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import UnknownNameError, ZooError, did_you_mean
from .locks import exclusive
from .verdicts import MIN_SEEDS, judge

__all__ = ["VERDICTS", "Part", "Run", "find_parts", "recorded", "rejudge_record", "run_part", "stored_checks",
           "write_record", "machine"]

VERDICTS = ("reproduced", "partially reproduced", "not reproduced", "measured")
PART_MODULE = re.compile(r"^(repro|perf)(_[a-z0-9_]+)?$")
FILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
RESULTS, WEIGHTS = "results", "weights"
DEFAULT_OUT = Path("runs") / "reproduce"


@dataclass(frozen=True)
class Part:
    """One script of a paper: `module` imported only when it runs."""

    model: str  # the catalog model whose plugin folder holds the script
    name: str  # module name in the folder: 'repro', 'repro_toy', 'perf'
    module: str  # 'zoo_plugins.kan.repro_toy'
    folder: Path  # the plugin folder (its results/ holds the recorded records)

    @property
    def command(self) -> str:
        return f"zoo reproduce {self.model} --part {self.name}"


def _plugin_folder(model: str, registry) -> tuple[str, Path]:
    """(package, folder) of the plugin that provides `model` (a model or a training method), found
    without importing its code."""
    if isinstance(model, str) and "." in model:
        raise UnknownNameError(f"{model!r}: name a model, not a checkpoint (e.g. {model.partition('.')[0]!r})")
    if isinstance(model, str) and model in registry.list_methods():
        entry = registry.method_info(model)
    else:
        entry = registry.info(model)
    status = next((s for s in registry.plugins(load=False) if s.name == entry.plugin), None)
    if status is None:
        raise UnknownNameError(f"model {model!r} is provided by plugin {entry.plugin!r}, which is not installed")
    package = status.module.partition(":")[0]
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise UnknownNameError(f"plugin {entry.plugin!r} ({package}) is not a package folder with scripts")
    return package, Path(next(iter(spec.submodule_search_locations)))


def find_parts(model: str, registry=None) -> list[Part]:
    """The reproduction and speed scripts of `model`'s plugin folder, reproductions first."""
    from .registry import default_registry

    package, folder = _plugin_folder(model, registry or default_registry())
    names = sorted((p.stem for p in folder.glob("*.py") if PART_MODULE.match(p.stem)),
                   key=lambda n: (not n.startswith("repro"), n))
    return [Part(model, name, f"{package}.{name}", folder) for name in names]


def recorded(part: Part, name: str) -> dict | None:
    """The record `name` shipped in the part's plugin folder (results/), or None."""
    path = part.folder / RESULTS / f"{name}.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def machine() -> dict:
    """What a record was measured on."""
    import torch

    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "python": platform.python_version(),
    }


def _file_name(name: str, what: str) -> str:
    if not isinstance(name, str) or not FILE_NAME.match(name) or ".." in name:
        raise ZooError(f"{what} {name!r}: expected a plain file name (letters, digits, '_', '-', '.')")
    return name


def write_record(folder: str | Path, model: str, name: str, *, claim: str, summary: str, setup: str,
                 command: str, verdict: str | None = None, seeds: list[int] | None = None,
                 checks: list | None = None, table: dict | None = None, paper: dict | None = None,
                 figures: list[str] = (), data: dict | None = None, quick: bool = False) -> Path:
    """Write the record `folder/<name>.json` atomically and return its path.

    claim: the claim tested (the paper's wording, or the benchmark's target).
    seeds, checks: the seeds run and the claim's comparisons (zoo.verdicts.Check, one number per
      seed); the verdict is then computed by zoo.verdicts.judge, never passed. A full run needs
      at least MIN_SEEDS seeds.
    verdict: only without checks: "measured" for numbers without a pass/fail claim (older records
      typed the verdict by hand).
    summary: one paragraph with the key numbers, honest about misses.
    table: {"columns": [...], "rows": [[...], ...]}, rendered in the docs.
    paper: the paper's own numbers for comparison, with where they come from.
    figures: PNG file names saved beside the record.
    data: raw numbers worth keeping. quick: written by a smoke run, not comparable to the paper.
    """
    judged = None
    if checks is not None:
        if verdict is not None:
            raise ZooError(f"record {name!r}: verdict={verdict!r} given with checks; the verdict is "
                           f"computed from the checks, so leave it out")
        verdict, judged = judge_seeds(name, seeds, checks, quick)
    elif seeds is not None:
        raise ZooError(f"record {name!r}: seeds given without checks; pass checks=[zoo.verdicts.Check(...)] "
                       f"so the verdict is computed from the per-seed numbers")
    if verdict not in VERDICTS:
        raise ZooError(f"verdict {verdict!r}: expected one of {', '.join(VERDICTS)}")
    if table is not None and (set(table) != {"columns", "rows"}
                              or any(len(r) != len(table["columns"]) for r in table["rows"])):
        raise ZooError("table: expected {'columns': [...], 'rows': [[...], ...]} with rows as wide as columns")
    folder = Path(folder)
    out = folder / f"{_file_name(name, 'record name')}.json"
    record = {
        "model": model, "name": name, "claim": claim, "verdict": verdict, "summary": summary,
        "setup": setup, "command": command, "seeds": seeds, "checks": judged, "table": table, "paper": paper,
        "figures": [_file_name(f, "figure") for f in figures], "data": data,
        "date": datetime.date.today().isoformat(), "machine": machine(),
    }
    if quick:
        record["quick"] = True
    folder.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.partial")
    tmp.write_text(json.dumps(record, indent=2, default=float) + "\n", encoding="utf-8")
    tmp.replace(out)
    return out


def rejudge_record(path: str | Path, *, by: str, why: str, summary: str | None = None) -> dict:
    """Judge an older record, whose verdict its script typed from the same run, by the verdict rule,
    without re-running it: `by` ("module:function") is the script's own check function, which takes
    the record's stored ``data`` and returns ``(seeds, checks)``; a re-run of the script judges its
    fresh numbers through the same function. The record keeps its run's date and machine and says
    when, by what and why it was judged, and what it said before. Only for a record without checks
    whose run covered at least MIN_SEEDS seeds."""
    path = Path(path)
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise ZooError(f"record {path}: cannot be read as JSON ({err})") from None
    if record.get("checks"):
        raise ZooError(f"record {path} is already judged by the verdict rule; re-run its script instead")
    if not isinstance(why, str) or not why.strip():
        raise ZooError(f"record {path}: why={why!r}, expected a sentence on why the stored run is judged")
    seeds, checks = stored_checks(by, record.get("data"))
    verdict, judged = judge_seeds(record.get("name", path.stem), seeds, checks, quick=False)
    record.update(seeds=list(seeds), checks=judged, verdict=verdict,
                  judged={"date": datetime.date.today().isoformat(), "run_date": record.get("date"),
                          "by": by, "why": why, "verdict_before": record.get("verdict")})
    if summary is not None:
        record["summary"] = summary
    tmp = path.with_name(f".{path.name}.partial")
    tmp.write_text(json.dumps(record, indent=2, default=float) + "\n", encoding="utf-8")
    tmp.replace(path)
    return record


def stored_checks(by: str, data) -> tuple[list[int], list]:
    """Call the check function `by` ("zoo_plugins.<paper>.<script>:<function>") on stored data."""
    module_name, _, function_name = by.partition(":") if isinstance(by, str) else ("", "", "")
    if not module_name.startswith("zoo_plugins.") or not function_name.isidentifier():
        raise ZooError(f"check function {by!r}: expected 'zoo_plugins.<paper>.<script>:<function>'")
    function = getattr(importlib.import_module(module_name), function_name, None)
    if not callable(function):
        raise ZooError(f"check function {by!r}: {module_name} has no function {function_name!r}")
    return function(data)


def judge_seeds(name: str, seeds, checks, quick: bool) -> tuple[str, list[dict]]:
    """Validate a record's seeds against its checks and return the computed verdict and checks."""
    if (not isinstance(seeds, (list, tuple)) or not seeds
            or not all(isinstance(s, int) and not isinstance(s, bool) for s in seeds)
            or len(set(seeds)) != len(seeds)):
        raise ZooError(f"record {name!r}: seeds={seeds!r}, expected a list of distinct integers")
    if not quick and len(seeds) < MIN_SEEDS:
        raise ZooError(f"record {name!r}: {len(seeds)} seed(s); a full run's verdict needs at least "
                       f"{MIN_SEEDS}")
    verdict, judged = judge(checks)
    for check in judged:
        if len(check["ours"]) != len(seeds):
            raise ZooError(f"record {name!r}: check {check['name']!r} has {len(check['ours'])} numbers "
                           f"for {len(seeds)} seeds; expected one per seed")
    return verdict, judged


class Run:
    """What a script's ``reproduce(run)`` gets: its size, where to write, and how."""

    def __init__(self, part: Part, out: Path, quick: bool = False):
        self.part, self.out, self.quick = part, Path(out), quick
        self.records: list[dict] = []
        self.kept: list[tuple[str, Path, str]] = []  # (tag, folder, sha256)
        self.seconds = 0.0  # how long reproduce(run) took, once it has run

    def pick(self, full: Any, quick: Any) -> Any:
        """`full` for a real run, `quick` in a smoke run (``--quick``)."""
        return quick if self.quick else full

    @property
    def results(self) -> Path:
        return self.out / RESULTS

    def figure(self, filename: str) -> Path:
        """Where to save a figure named `filename` (beside the records)."""
        self.results.mkdir(parents=True, exist_ok=True)
        return self.results / _file_name(filename, "figure")

    def record(self, name: str, **fields) -> Path:
        """Write record `name` (see `write_record` for the fields). A quick run never replaces a
        full record: it would overwrite measured numbers with smoke-test ones."""
        path = self.results / f"{_file_name(name, 'record name')}.json"
        if self.quick and path.exists():
            try:
                previous = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                previous = {}
            if not previous.get("quick"):
                raise ZooError(f"{path} holds a full run's record; a --quick run does not replace it. "
                               f"Choose another --out")
        command = self.part.command + (" --quick" if self.quick else "")
        path = write_record(self.results, self.part.model, name, command=command, quick=self.quick, **fields)
        self.records.append(json.loads(path.read_text(encoding="utf-8")))
        return path

    def keep(self, model, tag: str, *, run=None) -> Path:
        """Save a model this reproduction trained as `weights/<tag>/` (a zoo repo folder), the
        checkpoint the catalog lists as ``<model>.<tag>``; `run` is its training run directory or
        metrics, for the card."""
        import dataclasses

        from .hub import sha256_file
        from .repo_files import CURVES_NAME, METRICS_NAME, WEIGHTS_NAME
        from .weights import save

        target = self.out / WEIGHTS / _file_name(tag, "weights tag")
        if run is None:  # a save keeps the folder's other files: an earlier model's run would pass for this one's
            for stale in (METRICS_NAME, CURVES_NAME):
                (target / stale).unlink(missing_ok=True)
        identity = model.zoo_identity
        model.zoo_identity = dataclasses.replace(identity, weights=tag)
        try:  # saved as the catalog checkpoint it is (its tag, and the catalog's license once listed)
            folder = save(model, target, run=run)
        finally:
            model.zoo_identity = identity
        self.kept.append((tag, folder, sha256_file(folder / WEIGHTS_NAME)))
        return folder


def _load_part(part: Part):
    module = importlib.import_module(part.module)
    if not callable(getattr(module, "reproduce", None)):
        raise ZooError(f"{part.module} has no reproduce(run) function")
    return module


def run_part(part: Part, out: str | Path, *, quick: bool = False) -> Run:
    """Run one script into `out` (results/ and weights/ inside), holding a lock on `out`."""
    run = Run(part, Path(out), quick)
    module = _load_part(part)
    run.out.mkdir(parents=True, exist_ok=True)
    import torch

    threads = torch.get_num_threads()
    with exclusive(run.out, f"zoo reproduce {part.model}"):
        start = time.perf_counter()
        try:
            module.reproduce(run)
        finally:  # a part that sets one thread for its timings must not leave the next part on one
            torch.set_num_threads(threads)
        run.seconds = time.perf_counter() - start
    return run


def select_parts(model: str, part: str | None, registry=None) -> list[Part]:
    parts = find_parts(model, registry)
    if not parts:
        raise UnknownNameError(f"model {model!r} has no reproduction scripts (repro*.py / perf*.py) in its plugin")
    if part is None:
        return parts
    chosen = [p for p in parts if p.name == part]
    if not chosen:
        names = [p.name for p in parts]
        raise UnknownNameError(f"model {model!r} has no part {part!r}.{did_you_mean(part, names)} "
                               f"Parts: {', '.join(names)}")
    return chosen
