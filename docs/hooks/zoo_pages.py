"""MkDocs hook: generate one page per catalog model and per training method (its paper, every
recorded reproduction with its numbers, figures and rerun command, how to use it, the plugin's
DOC.md, then the reference tables), the models and methods overviews, the benchmarks page and the
CLI reference, so the docs cannot drift from the catalog or from what was measured.

`generated_pages()` returns every generated page's Markdown; tests/test_docs.py checks and runs it.
"""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

from zoo.catalog import load_catalog

ROOT = Path(__file__).resolve().parents[2]
CORE_RESULTS = ROOT / "benchmarks" / "results" / "core"  # records about the zoo itself, not a model
RESULTS = "results"  # a paper folder's recorded records and figures

# The convention tests/test_docs.py reads: a code block preceded by this comment is not run.
SKIP = "<!-- docs-test: skip: {reason} -->"

VERDICT_STYLE = {"reproduced": "success", "partially reproduced": "warning", "not reproduced": "failure",
                 "measured": "info"}


def _catalog():
    return load_catalog(ROOT / "registry.yaml", "paperzoo")


def _plugin_dirs() -> dict[str, Path]:
    """Entry-point name -> plugin folder, from pyproject.toml (zoo_plugins.x lives in plugins/x)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    groups = project["project"]["entry-points"]["paperzoo.plugins"]
    return {name: ROOT / "plugins" / value.split(".", 1)[1].replace(".", "/") for name, value in groups.items()}


# -- record text is data: Markdown must show it as written ----------------------------------------

_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", "*": "&#42;", "_": "&#95;", "`": "&#96;", "[": "&#91;",
             "]": "&#93;", "\\": "&#92;", "|": "&#124;", "#": "&#35;", "~": "&#126;", "^": "&#94;",
             "$": "&#36;"}
_SPECIAL = re.compile("[" + re.escape("".join(_ENTITIES)) + "]")
_CODE_SPAN = re.compile(r"`([^`\n]+)`")
_LIST_START = re.compile(r"^(\s*)([-+=]|\d+(?=[.)]\s))")


def _literal(text: str) -> str:
    """`text` as Markdown that renders exactly these characters: no emphasis, links, HTML or pipes."""
    return _SPECIAL.sub(lambda m: _ENTITIES[m.group()], text)


def code(text) -> str:
    """`text` as inline code, safe inside table cells (a `|` in a code span would end the cell)."""
    return f"<code>{_literal(str(text))}</code>"


def data_text(value) -> str:
    """A record's text (a summary, a formula, a table cell) as Markdown showing it verbatim; its
    own `code spans` stay code. Numbers are shown to 4 significant digits."""
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (list, dict)):
        return _literal(json.dumps(value))
    text = " ".join(str(value).splitlines())
    pieces = _CODE_SPAN.split(text)  # odd indices: the insides of code spans
    out = "".join(code(p) if i % 2 else _literal(p) for i, p in enumerate(pieces))
    # a line that starts like a list item or a heading underline would become one
    return _LIST_START.sub(lambda m: m.group(1) + "".join(f"&#{ord(c)};" for c in m.group(2)), out)


def _table(columns, rows) -> str:
    """A Markdown table of cells that are already Markdown."""
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def _data_table(columns, rows) -> str:
    return _table([data_text(c) for c in columns], [[data_text(c) for c in row] for row in rows])


# -- records --------------------------------------------------------------------------------------

def _records(folder: Path, model: str | None = None) -> list[dict]:
    """The records in `folder` (of `model` only, when a paper folder holds several models), claims
    before measurements, speed last."""
    if not folder.is_dir():
        return []
    records = [json.loads(p.read_text(encoding="utf-8")) for p in sorted(folder.glob("*.json"))]
    records = [r for r in records if model is None or r.get("model") == model]
    return sorted(records, key=lambda r: (_part(r).startswith("perf"), r["verdict"] == "measured", _part(r), r["name"]))


def _part(record: dict) -> str:
    match = re.search(r"--part (\S+)", record.get("command", ""))
    return match.group(1) if match else ""


def _title(record: dict) -> str:
    return re.sub(r"[_-]+", " ", record["name"]).strip().capitalize()


def _paper_numbers(paper) -> str:
    if isinstance(paper, dict):
        return "; ".join(data_text(v) if k == "source" else f"{data_text(k)}: {data_text(v)}" for k, v in paper.items())
    return data_text(paper)


def _rerun(command: str) -> str:
    if command.startswith("zoo reproduce"):
        return f"*Rerun:* `{command}` (add `--quick` for a smoke run of the same code at a tiny size)"
    # records about the zoo itself come from the source repository's benchmarks package
    module = command.removeprefix("python -m ").split()[0]
    return f"*Measured by* `{module}`, a script of the source repository (not installed with the package)"


def _comparison(check: dict) -> str:
    """How a check's numbers must compare, in words: 'higher than versus - 0.01'."""
    sign = 1 if check["better"] == "higher" else -1
    scale = f"{check['factor']:g} x versus" if check["factor"] != 1 else "versus"
    if check["better"] == "lower" and check["factor"] != 1:
        scale = f"versus / {check['factor']:g}"
    margin = sign * check["margin"]
    offset = f" {'+' if margin > 0 else '-'} {abs(margin):.4g}" if margin else ""
    return f"{check['better']} than {scale}{offset}"


def _checks_table(record: dict) -> str:
    """The claim's checks with their number on every seed, as judged by zoo.verdicts."""
    seeds = record.get("seeds") or []
    rows = []
    for check in record["checks"]:
        versus = check["versus"]
        per_seed = [f"{o:.4g} vs {v:.4g} {'✓' if held else '✗'}"
                    for o, v, held in zip(check["ours"], versus if isinstance(versus, list)
                                          else [versus] * len(check["ours"]), check["held"])]
        spread = check["ours_spread"]
        rows.append([_literal(check["name"]), _literal(_comparison(check)), *per_seed,
                     f"{spread['mean']:.4g} ± {spread['std']:.3g}", _literal(check["outcome"])])
    columns = ["check", "ours must be", *[f"seed {s}" for s in seeds], "ours: mean ± std", "outcome"]
    return ("**Per seed** (ours vs the comparison; ✓ where the claim holds). Verdict rule: see "
            "[Reproductions and verdicts](../reproductions.md).\n\n" + _table(columns, rows))


def render_record(record: dict, figure_prefix: str) -> str:
    style = VERDICT_STYLE.get(record["verdict"], "note")
    out = [f"### {_title(record)}\n",
           f'!!! {style} "{record["verdict"].capitalize()}"\n    {data_text(record["claim"])}\n',
           data_text(record["summary"]) + "\n"]
    if record.get("checks"):
        out.append(_checks_table(record))
    if record.get("judged"):
        judged = record["judged"]
        out.append(f"*Judged by the verdict rule on {data_text(judged['date'])} from the per-seed numbers "
                   f"this run stored (run of {data_text(judged['run_date'])}, not re-run): "
                   f"{data_text(judged['why'])} Its script had typed "
                   f"\"{data_text(judged['verdict_before'])}\".*\n")
    if record.get("table"):
        out.append(_data_table(record["table"]["columns"], record["table"]["rows"]))
    if record.get("paper"):
        out.append("**The paper:** " + _paper_numbers(record["paper"]) + "\n")
    out += [f"![{figure}]({figure_prefix}{figure})\n" for figure in record.get("figures") or []]
    machine = record.get("machine") or {}
    recorded = (f"Recorded {record['date']} on {data_text(machine.get('processor', '?'))}, "
                f"{machine.get('torch_threads', '?')} torch thread(s), torch {data_text(machine.get('torch', '?'))}"
                + (f", GPU {data_text(machine['cuda'])}" if machine.get("cuda") else "") + ".")
    out.append(_rerun(record.get("command", "")) + "\n")
    out.append(f'??? note "Setup"\n    {data_text(record["setup"])}\n\n    {recorded}\n')
    return "\n".join(out)


# -- model pages ------------------------------------------------------------------------------------

def _paper_line(paper) -> str:
    return (f"**{_literal(paper.title)}**" + (f" ({paper.year})" if paper.year else "")
            + (f", [arXiv:{paper.arxiv}](https://arxiv.org/abs/{paper.arxiv})" if paper.arxiv else "")
            + (f", [{paper.url}]({paper.url})" if paper.url and not paper.arxiv else ""))


def _args(values: dict) -> str:
    """Keyword arguments as Python source, strings in double quotes like the rest of the block."""
    return "".join(f", {k}={json.dumps(v) if isinstance(v, str) else repr(v)}" for k, v in values.items())


def _number(value) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _metrics(metrics: dict) -> str:
    return ", ".join(f"{k}={_number(v)}" for k, v in metrics.items())


def _fenced(code_text: str, skip: str | None = None, language: str = "python") -> str:
    marker = SKIP.format(reason=skip) + "\n" if skip else ""
    return f"{marker}```{language}\n{code_text.rstrip()}\n```\n"


def use_it(entry) -> str:
    """The "Use it" section: create, pretrained weights, train. Its first block runs offline in
    seconds (tests/test_docs.py runs it); blocks that train or download carry a skip marker."""
    name, task = entry.name, (entry.tasks[0] if entry.tasks else None)
    lines = ["import zoo", "",
             f'model = zoo.create("{name}")' + f"  # the paper's configuration (variant {entry.default_variant!r})"]
    sized = {"variant": task} if task in entry.variants else {}
    if task:
        lines.append(f'model = zoo.create("{name}", task="{task}"{_args(sized)})  # sized for {task}')
    shipped = [w for w in entry.weights.values() if w.file]
    hosted = [w for w in entry.weights.values() if not w.file]
    for weights in shipped:
        lines.append(f'pretrained = zoo.create("{name}.{weights.tag}", pretrained=True)  # shipped, sha256-verified')
        if weights.task:
            lines.append(f'print(zoo.evaluate(pretrained, "{weights.task}"))'
                         + (f"  # the catalog's: {_metrics(weights.metrics)}" if weights.metrics else ""))
    out = ["## Use it\n", _fenced("\n".join(lines))]
    if hosted:
        out.append(_fenced("\n".join(f'pretrained = zoo.create("{name}.{w.tag}", pretrained=True)  # from the Hub'
                                     for w in hosted), skip="downloads from the Hugging Face Hub"))
    if task:
        recipe = next((w for w in entry.weights.values() if w.task == task and w.recipe
                       and "reproduction" not in w.recipe), None)
        if recipe is not None:  # train exactly as the shipped checkpoint was trained
            train = [f'model = zoo.create("{name}.{recipe.tag}")  # that checkpoint\'s architecture, untrained',
                     f'result = zoo.train(model, "{task}"{_args(recipe.recipe)}, out_dir="runs/{name}")']
        else:
            train = [f'result = zoo.train(model, "{task}", epochs=10, out_dir="runs/{name}")']
        train.append("print(result.final)")
        out.append(_fenced("\n".join(train), skip="trains for real: seconds to minutes on a CPU"))
        others = ", ".join(f"`{t}`" for t in entry.tasks[1:])
        out.append(f"From the shell: `zoo train {name} --task {task} --out runs/{name}`, then "
                   f"`zoo eval runs/{name} --task {task}`."
                   + (f" Other tasks it is meant for: {others}." if others else "") + "\n")
    return "\n".join(out)


def _reference(entry) -> str:
    out = ["## Reference\n",
           _table(["", ""], [("plugin", code(entry.plugin)), ("family", data_text(entry.family or "-")),
                             ("tasks", ", ".join(code(t) for t in entry.tasks) or "-")]),
           "### Variants\n",
           _table(["variant", "config"], [(code(v) + (" (default)" if v == entry.default_variant else ""),
                                           code(json.dumps(c)) if c else "the paper's defaults")
                                          for v, c in entry.variants.items()]),
           "### Config\n",
           _table(["field", "type", "default", "description"],
                  [(code(f.name), code(f.type), code(json.dumps(f.default)), data_text(f.doc)) for f in entry.config]),
           "### Pretrained weights\n"]
    if entry.weights:
        rows = [(code(f"{entry.name}.{w.tag}"), data_text(w.dataset or "-"), data_text(_metrics(w.metrics) or "-"),
                 data_text(w.license or "-"),
                 f"{code(w.repo_id)} at {code(w.revision[:10])}" if w.repo_id else "shipped in the package",
                 data_text(w.description or "-"))
                for w in entry.weights.values()]
        out.append(_table(["name", "dataset", "metrics", "license", "where", "what"], rows))
    else:
        out.append("None yet.\n")
    return "\n".join(out)


def _doc_section(doc_md: Path | None) -> str:
    """The plugin's DOC.md below an H2 of its own: its title line dropped, its headings one level down."""
    if doc_md is None or not doc_md.exists():
        return ""
    lines = doc_md.read_text(encoding="utf-8").splitlines()
    if lines and lines[0].startswith("# "):
        lines = lines[1:]
    body = "\n".join("#" + line if line.startswith("#") else line for line in lines).strip()
    return "## The paper and this implementation\n\n" + body + "\n"


def _page(entry, folder: Path | None, lead: str, use: str, reference: str) -> str:
    """A model's or method's page: paper, recorded results, use, DOC.md, reference tables."""
    out = [f"# {entry.name}\n", lead + _paper_line(entry.paper) + "\n"]
    if entry.summary:
        out.append(data_text(entry.summary) + "\n")
    records = _records(folder / RESULTS, entry.name) if folder else []
    if records:
        out.append("## Results\n")
        out.append("Each claim below was tested at small scale and is recorded as measured, "
                   f"hit or miss. `zoo reproduce {entry.name}` reruns them all.\n")
        out += [render_record(r, f"{entry.name}/") for r in records]
    out += [use, _doc_section(folder / "DOC.md" if folder else None), reference]
    return "\n".join(part for part in out if part)


def model_page(entry, folder: Path | None) -> str:
    return _page(entry, folder, "", use_it(entry), _reference(entry))


def _verdicts(entry, plugin_dirs: dict[str, Path]) -> str:
    """The distinct recorded verdicts of an entry's claims, for an overview table."""
    folder = plugin_dirs.get(entry.plugin)
    records = _records(folder / RESULTS, entry.name) if folder else []
    return ", ".join(sorted({r["verdict"] for r in records if r["verdict"] != "measured"})) or "-"


def _export_status() -> dict[str, dict]:
    """{model: {format: result}} from the recorded export check of every model (empty without one)."""
    path = CORE_RESULTS / "export.json"
    if not path.is_file():
        return {}
    return json.loads(path.read_text(encoding="utf-8")).get("data") or {}


def _exports(status: dict | None) -> str:
    """'torch-export, onnx' for the formats a model exported to (outputs checked against eager); a
    file made for the example's batch size only says '(fixed batch)'."""
    if not status:
        return "not checked"
    done = []
    for fmt in ("torch-export", "onnx"):
        result = status.get(fmt) or {}
        if result.get("ok"):
            done.append(fmt if result.get("dynamic_batch", True) else f"{fmt} (fixed batch)")
    return ", ".join(done) or "none"


def models_index(catalog, plugin_dirs: dict[str, Path]) -> str:
    rows, exported = [], _export_status()
    for entry in sorted(catalog.models, key=lambda e: e.name):
        rows.append((f"[{entry.name}]({entry.name}.md)", _literal(entry.paper.title), data_text(entry.family or "-"),
                     _verdicts(entry, plugin_dirs),
                     ", ".join(code(f"{entry.name}.{t}") for t in entry.weights) or "-",
                     _exports(exported.get(entry.name))))
    return ("# Models\n\nEvery model in the catalog, each with its paper, the reproduction of its paper's "
            "claims (recorded as measured, including misses), how to use it, its config and its weights. "
            "*Exports* lists the formats its default config exports to with outputs matching the model's "
            "(`zoo export`; the [export check](../benchmarks.md) records why the others fail).\n\n"
            + _table(["model", "paper", "family", "claims", "pretrained", "exports"], rows))


# -- method pages -----------------------------------------------------------------------------------

def _shows_its_use(doc_md: Path | None) -> bool:
    """Whether a plugin's DOC.md shows how to use the method itself (a "Use..." section or code)."""
    if doc_md is None or not doc_md.exists():
        return False
    text = doc_md.read_text(encoding="utf-8")
    return "```python" in text or re.search(r"^#+ Us(e|ing) ", text, flags=re.M) is not None


def use_method(entry, own_use: bool = False) -> str:
    """The "Use it" section of a method: its first block runs offline in seconds (tests/test_docs.py
    runs it); the block that trains carries a skip marker. A method whose DOC.md shows its own use
    (the models it needs, how it runs) gets that instead of the generic training example."""
    name, task = entry.name, (entry.tasks[0] if entry.tasks else "digits")
    first = ["import zoo", "", f'method = zoo.method("{name}")  # the paper\'s defaults', "print(method.config)"]
    if entry.config:
        f = entry.config[0]
        first.append(f'method = zoo.method("{name}", {f.name}={f.default!r})  # any option: zoo info {name}')
    if own_use:
        needs = f"It needs {_literal(entry.needs)}. " if entry.needs else ""
        return "\n".join(["## Use it\n", _fenced("\n".join(first)),
                          needs + "How to train with it, and on which models: *The paper and this implementation* "
                          "below. Composing it with other methods: [Training methods](../methods-guide.md).\n"])
    model = f'model = zoo.create("mlp-mixer", variant="digits", task="{task}")  # or any model that fits'
    if entry.kind == "procedure":
        train = [model, f'result = zoo.method("{name}").run(model, "{task}", epochs=10, out_dir="runs/{name}")',
                 "print(result)"]
        shell = (f"From the shell: `zoo train mlp-mixer --variant digits --task {task} --method {name} "
                 f"--out runs/{name}` (`--resume` continues an interrupted procedure at the run it stopped in).")
    else:
        train = [model, f'result = zoo.train(model, "{task}", methods=[zoo.method("{name}")], epochs=10, '
                        f'out_dir="runs/{name}")', "print(result.final)"]
        shell = (f"From the shell: `zoo train mlp-mixer --variant digits --task {task} --method {name} "
                 f"--out runs/{name}`; options with `--method-option {name}.NAME=VALUE`.")
    return "\n".join(["## Use it\n", _fenced("\n".join(first)),
                      _fenced("\n".join(train), skip="trains for real: seconds to minutes on a CPU"),
                      shell + " Composing it with other methods: [Training methods](../methods-guide.md).\n"])


def _method_reference(entry) -> str:
    rows = [("plugin", code(entry.plugin)), ("family", data_text(entry.family or "-")),
            ("kind", "a procedure of several runs" if entry.kind == "procedure" else "acts in the steps of a run"),
            ("needs", data_text(entry.needs or "-")), ("tasks", ", ".join(code(t) for t in entry.tasks) or "-")]
    return "\n".join(["## Reference\n", _table(["", ""], rows), "### Options\n",
                      _table(["option", "type", "default", "description"],
                             [(code(f.name), code(f.type), code(json.dumps(f.default)), data_text(f.doc))
                              for f in entry.config]) if entry.config else "None.\n"])


def method_page(entry, folder: Path | None) -> str:
    own_use = _shows_its_use(folder / "DOC.md" if folder else None)
    return _page(entry, folder, "*Training method.* ", use_method(entry, own_use), _method_reference(entry))


def methods_index(catalog, plugin_dirs: dict[str, Path]) -> str:
    rows = [(f"[{entry.name}]({entry.name}.md)", _literal(entry.paper.title), data_text(entry.family or "-"),
             entry.kind, _verdicts(entry, plugin_dirs))
            for entry in sorted(catalog.methods, key=lambda e: e.name)]
    return ("# Methods\n\nEvery training method in the catalog (pruning, quantization, distillation, continual "
            "learning, ...), each with its paper, the reproduction of its paper's claim (recorded as measured, "
            "including misses), how to use it with any model, and its options. How methods compose: "
            "[Training methods](../methods-guide.md).\n\n"
            + _table(["method", "paper", "family", "kind", "claims"], rows))


def benchmarks_page() -> str:
    out = ["# Benchmarks\n", "Performance of the zoo itself, measured as same-run ratios against a baseline "
           "(the machines are shared and noisy, so absolute times are not compared).\n"]
    out += [render_record(r, "core/") for r in _records(CORE_RESULTS)] or ["No records yet.\n"]
    out.append("Per-model speed comparisons are on each model's page.\n")
    return "\n".join(out)


def cli_page() -> str:
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


# -- the site -------------------------------------------------------------------------------------

def generated_pages() -> dict[str, str]:
    """Every generated page: its path in the site -> its Markdown."""
    catalog, plugin_dirs = _catalog(), _plugin_dirs()
    pages = {"models/index.md": models_index(catalog, plugin_dirs)}
    for entry in catalog.models:
        pages[f"models/{entry.name}.md"] = model_page(entry, plugin_dirs.get(entry.plugin))
    pages["methods/index.md"] = methods_index(catalog, plugin_dirs)
    for entry in catalog.methods:
        pages[f"methods/{entry.name}.md"] = method_page(entry, plugin_dirs.get(entry.plugin))
    pages["benchmarks.md"] = benchmarks_page()
    pages["cli.md"] = cli_page()
    return pages


def _figures() -> dict[str, Path]:
    """Every figure a generated page shows: its path in the site -> the PNG file."""
    catalog, plugin_dirs = _catalog(), _plugin_dirs()
    figures = {}
    for section, entries in (("models", catalog.models), ("methods", catalog.methods)):
        for entry in entries:
            folder = plugin_dirs.get(entry.plugin)
            for record in _records(folder / RESULTS, entry.name) if folder else []:
                for name in record.get("figures") or []:
                    figures[f"{section}/{entry.name}/{name}"] = folder / RESULTS / name
    for record in _records(CORE_RESULTS):
        for name in record.get("figures") or []:
            figures[f"core/{name}"] = CORE_RESULTS / name
    return {dest: src for dest, src in figures.items() if src.is_file()}


def on_config(config):
    catalog = _catalog()
    models = [{"Overview": "models/index.md"}] + [{e.name: f"models/{e.name}.md"}
                                                  for e in sorted(catalog.models, key=lambda e: e.name)]
    config.nav.append({"Models": models})
    methods = [{"Overview": "methods/index.md"}] + [{e.name: f"methods/{e.name}.md"}
                                                    for e in sorted(catalog.methods, key=lambda e: e.name)]
    config.nav.append({"Methods": methods})
    config.nav.append({"Benchmarks": "benchmarks.md"})
    return config


def on_files(files, config):
    from mkdocs.structure.files import File

    for path, markdown in generated_pages().items():
        files.append(File.generated(config, path, content=markdown))
    for dest, src in _figures().items():
        files.append(File.generated(config, dest, abs_src_path=str(src)))
    return files
