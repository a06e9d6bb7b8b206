"""Model cards: the README.md of a zoo repo, generated from the catalog entry, the saved config
and (when given) a training run. Hub front matter comes from `huggingface_hub.ModelCardData`
(library_name, license, tags with the paper's `arxiv:` id, which the Hub links to the paper,
datasets, pipeline tag, and the run's final metrics as `model-index` eval results)."""

from __future__ import annotations

import json
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import ResourceError, WeightsError

__all__ = ["TrainingSummary", "training_summary", "render_card", "card_data", "eval_results", "pipeline_tag",
           "citation", "pip_install_command",
           "valid_distribution", "valid_version"]

LIBRARY_NAME = "paperzoo"
MAX_RUN_METRICS_BYTES = 64 << 20  # a run's metrics.json: its per-epoch history, far below this
# PEP 508 distribution names: letters, digits, '.', '_' and '-', starting and ending alphanumeric
_DISTRIBUTION = re.compile(r"[A-Z0-9]([A-Z0-9._-]{0,198}[A-Z0-9])?", re.IGNORECASE)


def valid_distribution(name: Any) -> bool:
    """Whether `name` is a valid PEP 508 distribution name (so it can be printed in a command)."""
    return isinstance(name, str) and _DISTRIBUTION.fullmatch(name) is not None


def valid_version(version: Any) -> bool:
    """Whether `version` is a valid PEP 440 version."""
    from packaging.version import InvalidVersion, Version

    if not isinstance(version, str) or len(version) > 100:
        return False
    try:
        Version(version)
    except InvalidVersion:
        return False
    return version.strip() == version


def pip_install_command(distribution: Any, version: Any = None) -> str | None:
    """'pip install name>=version' for a valid distribution name (the minimum only when `version` is
    a valid version); None for anything else, which must then not be shown as a command: these
    values come from files, and a suggested command is something people paste into a shell."""
    if not valid_distribution(distribution):
        return None
    return f"pip install {distribution}" + (f">={version}" if valid_version(version) else "")


@dataclass(frozen=True)
class TrainingSummary:
    """What a card says about training: a run's metrics.json (task, epochs, history, final) and curve."""

    metrics_json: dict
    final: dict
    task: str | None
    epochs: int | None
    curves: Path | None


def _run_file(run) -> Path:
    path = Path(run)
    if "\0" in str(path):
        raise WeightsError(f"training run {str(path)[:200]!r} holds a NUL character; it cannot be a path")
    return path / "metrics.json" if path.is_dir() else path


def _read_run_metrics(file: Path) -> dict:
    if file.exists() and not file.is_file():  # a FIFO would block the read forever
        raise WeightsError(f"the training run's metrics {file} is not a regular file")
    try:
        with open(file, "rb") as f:
            raw = f.read(MAX_RUN_METRICS_BYTES + 1)
    except OSError as exc:
        raise WeightsError(f"cannot read the training run's metrics {file}: {exc.strerror or exc}") from None
    if len(raw) > MAX_RUN_METRICS_BYTES:
        raise ResourceError(f"the training run's metrics {file} is over the {MAX_RUN_METRICS_BYTES:,}-byte limit")
    try:
        data = json.loads(raw.decode("utf-8"))
    except RecursionError:
        raise WeightsError(f"{file} is not valid JSON: nested too deeply") from None
    except ValueError as exc:  # not UTF-8, not JSON, or integers too long to convert
        raise WeightsError(f"{file} is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise WeightsError(f"{file}: expected a JSON object with 'final' metrics, got {type(data).__name__}")
    return data


def training_summary(run=None, metrics: dict | None = None) -> TrainingSummary | None:
    """Normalise a training run (its directory, its metrics.json path, or that file's contents as a
    dict) plus explicit final metrics; None when neither is given."""
    if run is None and not metrics:
        return None
    curves = None
    if run is None:
        data: dict = {}
    elif isinstance(run, dict):
        data = dict(run)
    elif isinstance(run, (str, os.PathLike)):
        file = _run_file(run)
        data = _read_run_metrics(file)
        png = file.parent / "curves.png"
        curves = png if png.is_file() else None
    else:
        raise WeightsError(f"run must be a run directory, a metrics.json path or its dict, got "
                           f"{type(run).__name__}")
    if metrics is not None and not isinstance(metrics, dict):
        raise WeightsError(f"metrics must be a dict of metric name to number, got {type(metrics).__name__}")
    for name, value in (metrics or {}).items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise WeightsError(f"metric {name!r} must be a finite number, got {value!r}")
    recorded = data.get("final") or {}
    if not isinstance(recorded, dict):
        raise WeightsError(f"the training run's 'final' metrics must be an object of metric name to number, got "
                           f"{type(recorded).__name__}")
    # a run records a metric that went NaN or infinite as null; the card shows it as n/a
    final = {k: v for k, v in recorded.items() if v is None or isinstance(v, (int, float))}
    final.update(metrics or {})
    epochs = data.get("epochs")
    return TrainingSummary({**data, "final": final}, final, data.get("task"),
                           epochs if isinstance(epochs, int) else None, curves)


def citation(paper, key: str) -> str:
    """A BibTeX entry from the catalog's paper record (title, arXiv id, year, url)."""
    lines = [f"@misc{{{key},", f"  title = {{{paper.title}}},"]
    if paper.year:
        lines.append(f"  year = {{{paper.year}}},")
    if paper.arxiv:
        lines += [f"  eprint = {{{paper.arxiv}}},", "  archivePrefix = {arXiv},",
                  f"  url = {{https://arxiv.org/abs/{paper.arxiv}}},"]
    elif paper.url:
        lines.append(f"  url = {{{paper.url}}},")
    lines[-1] = lines[-1].rstrip(",")
    return "\n".join(lines + ["}"])


def _value(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.6g}"
    return json.dumps(value) if not isinstance(value, str) else value


def _table(header: tuple[str, str], rows) -> list[str]:
    def cell(text) -> str:  # a '|' inside a cell would end it
        return str(text).replace("|", r"\|")

    out = [f"| {header[0]} | {header[1]} |", "| --- | --- |"]
    return out + [f"| {cell(k)} | {cell(v)} |" for k, v in rows]


# the Hub's pipeline tag of a model family (and, where the family does not settle it, the task kind)
_PIPELINE_TAGS = {
    ("image classification", None): "image-classification",
    ("time-series forecasting", None): "time-series-forecasting",
    ("function fitting/regression", None): "tabular-regression",
    ("tabular", "classification"): "tabular-classification",
    ("tabular", "regression"): "tabular-regression",
}
_SPLITS = ("train", "val", "test")


def pipeline_tag(family: str | None, task_kind: str | None) -> str | None:
    """The Hub pipeline tag of a model of `family` trained on a task of `task_kind`, where one fits."""
    return _PIPELINE_TAGS.get((family, None)) or _PIPELINE_TAGS.get((family, task_kind))


def eval_results(summary: TrainingSummary | None, task_type: str) -> list:
    """The run's final metrics as huggingface_hub EvalResults (the card's `model-index`): one per
    finite number, `<split>_<metric>` names split into the dataset split and the metric."""
    from huggingface_hub import EvalResult

    if summary is None or not summary.task:
        return []
    results = []
    for name, value in summary.final.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            continue  # a metric that went NaN is recorded as null: not a result
        split, _, metric = name.partition("_")
        if split not in _SPLITS or not metric:
            split, metric = None, name
        results.append(EvalResult(task_type=task_type, dataset_type=summary.task, dataset_name=summary.task,
                                  dataset_split=split, metric_type=metric, metric_name=name, metric_value=value))
    return results


def card_data(repo, entry, *, summary: TrainingSummary | None = None, license: str | None = None,
              task_kind: str | None = None, repo_id: str | None = None):
    """The card's Hub metadata as a huggingface_hub `ModelCardData`: library, license, tags (with the
    paper's `arxiv:` id, which the Hub links), datasets, pipeline tag and `model-index` results."""
    from huggingface_hub import ModelCardData

    paper = entry.paper
    tags = [LIBRARY_NAME, repo.architecture] + ([f"arxiv:{paper.arxiv}"] if paper.arxiv else [])
    catalog = entry.weights.get(repo.weights) if repo.weights else None
    task = summary.task if summary is not None and summary.task else (catalog.task if catalog else None)
    datasets = sorted({d for d in (task, catalog.dataset if catalog else None) if d})
    pipeline = pipeline_tag(entry.family, task_kind)
    results = eval_results(summary, pipeline or task_kind or "other")
    return ModelCardData(
        library_name=LIBRARY_NAME, license=license.lower() if license else None,  # the Hub's ids are lowercase
        tags=tags, datasets=datasets or None, pipeline_tag=pipeline,
        model_name=(repo_id or repo.architecture) if results else None, eval_results=results or None)


def render_card(repo, entry, *, parameters: int, summary: TrainingSummary | None = None,
                license: str | None = None, curves: str | None = None, repo_id: str | None = None,
                task_kind: str | None = None) -> str:
    """The README.md of a zoo repo. `repo` is its RepoConfig; `entry` the architecture's catalog
    entry; `task_kind` the kind of the task it was trained on (for the Hub's pipeline tag)."""
    paper = entry.paper
    front = card_data(repo, entry, summary=summary, license=license, task_kind=task_kind, repo_id=repo_id).to_yaml()
    source = f"hf-hub:{repo_id}" if repo_id else "path/to/this/folder"
    paper_ref = f"**{paper.title}**" + (f" ({paper.year})" if paper.year else "")
    if paper.arxiv:
        paper_ref += f", [arXiv:{paper.arxiv}](https://arxiv.org/abs/{paper.arxiv})"
    elif paper.url:
        paper_ref += f", <{paper.url}>"
    install = repo.distribution if valid_distribution(repo.distribution) else None
    how = (f"`{pip_install_command(install)}`" if install
           else "install the distribution that provides it")
    install = install or "the distribution that provides this architecture"

    lines = [f"---\n{front}\n---", "", f"# {repo_id or repo.architecture}", ""]
    lines += [f"`{repo.architecture}` weights for [PaperZoo](https://pypi.org/project/paperzoo/), from the paper "
              f"{paper_ref}.", ""]
    if entry.summary:
        lines += [entry.summary, ""]
    catalog = entry.weights.get(repo.weights) if repo.weights else None
    if catalog is not None and catalog.description:
        lines += [catalog.description.rstrip(".") + ".", ""]
    usage = [f'model = zoo.create("{repo.architecture}.{repo.weights}", pretrained=True)  # shipped or cached, '
             f'sha256-checked'] if catalog is not None else []
    lines += ["## Use", "", "```python", "import zoo", "", *usage, f'model = zoo.load("{source}")', "```", "",
              f"The architecture is built by the installed `{repo.plugin}` plugin of `{install}` "
              f"({how}); no code is ever loaded from this repo. The weights are safetensors.", ""]
    model_rows = [("architecture", f"`{repo.architecture}`"), ("variant", repo.variant or "-"),
                  ("parameters", f"{parameters:,}"),
                  ("weights", f"`{repo.weights_file}`" + (f", sha256 `{repo.weights_sha256}`"
                                                          if repo.weights_sha256 else "")),
                  ("plugin", f"`{repo.plugin}` from {install} {repo.distribution_version or ''}".rstrip()),
                  ("written by", f"paperzoo {repo.zoo_version}")]
    if repo.weights:
        model_rows.insert(2, ("catalog weights", f"`{repo.architecture}.{repo.weights}`"))
    if repo.methods:  # structural training methods: zoo.load applies them again before the weights load
        model_rows.insert(2, ("training methods", ", ".join(
            f"`{m['name']}` ({', '.join(f'{k}={_value(v)}' for k, v in m['config'].items()) or 'defaults'})"
            for m in repo.methods)))
    lines += ["## Model", "", *_table(("property", "value"), model_rows), "", "### Config", "",
              *_table(("field", "value"), ((k, f"`{_value(v)}`") for k, v in repo.config.items())), ""]
    if summary is not None:
        lines += ["## Training", ""]
        facts = [f"task `{summary.task}`" if summary.task else None,
                 f"{summary.epochs} epochs" if summary.epochs is not None else None]
        if any(facts):
            lines += ["Trained on " + ", ".join(f for f in facts if f) + ".", ""]
        if summary.final:
            lines += ["Final metrics:", "", *_table(("metric", "value"), ((k, _value(v)) for k, v in
                                                                       summary.final.items())), ""]
        if curves:
            lines += [f"![training curve]({curves})", ""]
        lines += ["The full per-epoch history is in `metrics.json`.", ""]
    if catalog is not None and catalog.recipe.get("reproduction"):
        lines += ["## Reproduce", "", f"These are catalog weights kept by the paper's reproduction: "
                  f"`zoo reproduce {repo.architecture} --part {catalog.recipe['reproduction']}` trains them again "
                  f"(and `python -m zoo.reference {repo.architecture}.{repo.weights}` runs that and writes this "
                  f"folder again).", ""]
    elif catalog is not None and catalog.recipe:
        recipe = ", ".join(f"{k}={_value(v)}" for k, v in catalog.recipe.items())
        lines += ["## Reproduce", "", f"These are catalog weights: `python -m zoo.reference "
                  f"{repo.architecture}.{repo.weights}` retrains them on `{catalog.task}` with `zoo.train` "
                  f"({recipe}) and writes this folder again.", ""]
    lines += ["## License", "", f"The weights are released under `{license}`." if license else
              "No license was given for these weights; ask their author before reusing them.", ""]
    key = f"arxiv{paper.arxiv}" if paper.arxiv else repo.architecture
    lines += ["## Citation", "", "```bibtex", citation(paper, key), "```", ""]
    return "\n".join(lines)
