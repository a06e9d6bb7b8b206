"""MkDocs hook: generate one page per catalog model (paper, variants, config, weights, tasks, the
plugin's DOC.md and every recorded result with its figures), the benchmarks page and the CLI
reference, so the docs cannot drift from registry.yaml or from what was measured."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

from mkdocs.structure.files import File

from zoo.catalog import load_catalog

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "benchmarks" / "results"
CORE_RESULTS = "core"  # benchmarks/results/core/: records about the zoo itself, not a model


def _catalog():
    return load_catalog(ROOT / "registry.yaml", "paperzoo")


def _plugin_dirs() -> dict[str, Path]:
    """Entry-point name -> plugin folder, from pyproject.toml (zoo_plugins.x lives in plugins/x)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    groups = project["project"]["entry-points"]["paperzoo.plugins"]
    return {name: ROOT / "plugins" / value.split(".", 1)[1].replace(".", "/") for name, value in groups.items()}


def _cell(value) -> str:
    if isinstance(value, float):
        text = f"{value:.4g}"
    elif isinstance(value, (list, dict)):
        text = json.dumps(value)
    else:
        text = str(value)
    return text.replace("|", "\\|").replace("\n", " ")


def _table(columns, rows) -> str:
    lines = ["| " + " | ".join(_cell(c) for c in columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


VERDICT_STYLE = {"reproduced": "success", "partially reproduced": "warning", "not reproduced": "failure",
                 "measured": "info"}


def _records(folder: Path) -> list[dict]:
    if not folder.is_dir():
        return []
    return [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))]


def _render_record(record: dict, figure_prefix: str) -> str:
    out = [f"### {record['name']}\n"]
    style = VERDICT_STYLE.get(record["verdict"], "note")
    out.append(f'!!! {style} "{record["verdict"].capitalize()}"\n    {record["claim"]}\n')
    out.append(record["summary"] + "\n")
    if record.get("table"):
        out.append(_table(record["table"]["columns"], record["table"]["rows"]))
    if record.get("paper"):
        out.append("**The paper's numbers:** " + "; ".join(f"{k}: {_cell(v)}" for k, v in record["paper"].items()) + "\n")
    for figure in record.get("figures") or []:
        out.append(f"![{figure}]({figure_prefix}{figure})\n")
    machine = record.get("machine") or {}
    out.append(f"*Setup:* {record['setup']}  \n*Command:* `{record['command']}`  \n"
               f"*Recorded* {record['date']} on {machine.get('processor', '?')}, "
               f"{machine.get('torch_threads', '?')} torch threads, torch {machine.get('torch', '?')}"
               + (f", GPU {machine['cuda']}" if machine.get("cuda") else "") + ".\n")
    return "\n".join(out)


def _model_page(entry, doc_md: Path | None) -> str:
    paper = entry.paper
    out = [f"# {entry.name}\n", f"**{paper.title}**" + (f" ({paper.year})" if paper.year else "")
           + (f", [arXiv:{paper.arxiv}](https://arxiv.org/abs/{paper.arxiv})" if paper.arxiv else "") + "\n"]
    if entry.summary:
        out.append(entry.summary + "\n")
    out.append(f"```python\nimport zoo\nmodel = zoo.create(\"{entry.name}\")\n```\n")
    facts = [("plugin", f"`{entry.plugin}`"), ("family", entry.family or "-"),
             ("tasks", ", ".join(f"`{t}`" for t in entry.tasks) or "-")]
    out.append(_table(["", ""], facts))
    out.append("## Variants\n")
    out.append(_table(["variant", "config"], [(v + (" (default)" if v == entry.default_variant else ""),
                                               json.dumps(c) if c else "paper defaults")
                                              for v, c in entry.variants.items()]))
    out.append("## Config\n")
    out.append(_table(["field", "type", "default", "description"],
                      [(f"`{f.name}`", f"`{f.type}`", f"`{json.dumps(f.default)}`", f.doc) for f in entry.config]))
    out.append("## Pretrained weights\n")
    if entry.weights:
        rows = [(f"`{entry.name}.{w.tag}`", w.dataset or "-",
                 ", ".join(f"{k}={_cell(v)}" for k, v in w.metrics.items()) or "-", w.license or "-",
                 f"{w.repo_id}@{w.revision[:10]}" if w.repo_id else "shipped in the package")
                for w in entry.weights.values()]
        out.append(_table(["name", "dataset", "metrics", "license", "where"], rows))
    else:
        out.append("None yet.\n")
    if doc_md is not None and doc_md.exists():
        text = doc_md.read_text()
        # the plugin's notes start at heading level 1; nest them under this page
        out.append("\n".join(("#" + line if line.startswith("#") else line) for line in text.splitlines()) + "\n")
    records = _records(RESULTS / entry.name)
    if records:
        out.append("## Recorded results\n")
        out += [_render_record(r, f"{entry.name}/") for r in records]
    return "\n".join(out)


def _figures(config, folder: Path, dest: str) -> list[File]:
    return [File.generated(config, f"{dest}/{png.name}", abs_src_path=str(png)) for png in sorted(folder.glob("*.png"))]


def _models_index(catalog) -> str:
    rows = []
    for entry in sorted(catalog.models, key=lambda e: e.name):
        verdicts = sorted({r["verdict"] for r in _records(RESULTS / entry.name) if r["verdict"] != "measured"})
        rows.append((f"[{entry.name}]({entry.name}.md)", entry.paper.title, entry.family or "-",
                     entry.priority or "-", ", ".join(verdicts) or "-"))
    return ("# Models\n\nEvery model in the catalog, each with its paper, config, weights and the "
            "reproduction of its paper's claim, recorded as measured (including misses).\n\n"
            + _table(["model", "paper", "family", "priority", "claim"], rows))


def _benchmarks_page() -> str:
    out = ["# Benchmarks\n", "Performance of the zoo itself, measured as same-run ratios against a baseline "
           "(the machines are shared and noisy, so absolute times are not compared).\n"]
    records = _records(RESULTS / CORE_RESULTS)
    out += [_render_record(r, "core/") for r in records] or ["No records yet.\n"]
    out.append("Per-model speed comparisons are on each model's page.\n")
    return "\n".join(out)


def _cli_page() -> str:
    from zoo.cli import build_parser

    parser = build_parser()
    out = ["# Command line\n", "Every `zoo` command, as `zoo COMMAND --help` prints it. Exit codes: 0 success, "
           "1 the command ran and found problems (or an internal error: a bug), 2 bad input (unknown name, invalid "
           "config, value or file), 130 interrupted. Every failure is one line on stderr; `--debug` or "
           "`PAPERZOO_DEBUG=1` prints the traceback instead.\n",
           f"```text\n{parser.format_help()}```\n"]
    subparsers = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    for name, sub in subparsers.choices.items():
        out.append(f"## zoo {name}\n\n```text\n{sub.format_help()}```\n")
    return "\n".join(out)


def on_config(config):
    catalog = _catalog()
    models = [{"Overview": "models/index.md"}] + [{e.name: f"models/{e.name}.md"}
                                                  for e in sorted(catalog.models, key=lambda e: e.name)]
    config.nav.append({"Models": models})
    config.nav.append({"Benchmarks": "benchmarks.md"})
    return config


def on_files(files, config):
    catalog = _catalog()
    plugin_dirs = _plugin_dirs()
    files.append(File.generated(config, "models/index.md", content=_models_index(catalog)))
    for entry in catalog.models:
        folder = plugin_dirs.get(entry.plugin)
        files.append(File.generated(config, f"models/{entry.name}.md",
                                    content=_model_page(entry, folder / "DOC.md" if folder else None)))
        for figure in _figures(config, RESULTS / entry.name, f"models/{entry.name}"):
            files.append(figure)
    files.append(File.generated(config, "benchmarks.md", content=_benchmarks_page()))
    for figure in _figures(config, RESULTS / CORE_RESULTS, "core"):
        files.append(figure)
    files.append(File.generated(config, "cli.md", content=_cli_page()))
    return files
