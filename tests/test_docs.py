"""The documentation as a reader gets it: every page (README.md, docs/pages/*.md and the pages the
docs hook generates) holds no internal notes, shows record data verbatim, and every code block in
it runs.

Which blocks run: fenced ```python blocks (exec'd in order in one namespace per page, so a block may
use what an earlier block of its page defined) and ```bash / ```sh / ```shell / ```console blocks
(run by `bash -e`; in console blocks only the `$ ` lines). Each page runs in a fresh temporary
folder holding a `.venv` link to this environment, offline (HF_HUB_OFFLINE=1), with this
environment's `zoo` and `python` first on PATH. Other languages (text, yaml, toml) are shown, not
run. The written pages share one subprocess and the generated pages another; the two run at once.
README's set-up block installs (CI runs it), so its main job, the `.venv/bin/zoo train` command,
is run on its own, as .ci/run does.

The one way out: a block that cannot run offline or cheaply (pip install, a Hub push, a long
training) has, directly above its opening fence, the comment

    <!-- docs-test: skip: REASON -->

giving its reason; other comment lines (such as README's `<!-- ci:setup -->`) may sit between the
marker and the fence. An unmarked block that fails fails its page's test, naming page and line.
"""

from __future__ import annotations

import html
import importlib.util
import json
import os
import re
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HOOK = ROOT / "docs" / "hooks" / "zoo_pages.py"
VENV = Path(sys.prefix)

SKIP = re.compile(r"<!--\s*docs-test:\s*skip:\s*(?P<reason>.*?)\s*-->")
COMMENT = re.compile(r"^\s*<!--.*-->\s*$")
FENCE = re.compile(r"^(?P<indent>\s*)(?P<fence>`{3,}|~{3,})\s*(?P<lang>[\w+-]*)")
RUN_AS = {"python": "python", "py": "python", "bash": "shell", "sh": "shell", "shell": "shell", "console": "shell"}
INTERNAL_NOTES = re.compile(r"issue \d|shared/|benchmarks/repro|benchmarks/perf|python -m benchmarks")
TIMEOUT = 300  # seconds for all pages of one subprocess


@cache
def hook():
    pytest.importorskip("mkdocs")
    spec = importlib.util.spec_from_file_location("zoo_pages", HOOK)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@cache
def generated() -> dict[str, str]:
    return {f"generated {path}": text for path, text in hook().generated_pages().items()}


def written() -> dict[str, str]:
    pages = {"README.md": (ROOT / "README.md").read_text(encoding="utf-8")}
    for path in sorted((ROOT / "docs" / "pages").rglob("*.md")):
        pages[str(path.relative_to(ROOT))] = path.read_text(encoding="utf-8")
    return pages


def code_blocks(markdown: str) -> list[dict]:
    """Fenced blocks: {line (1-based, of the opening fence), lang, code, skip (its reason or None)}."""
    lines, blocks, i = markdown.splitlines(), [], 0
    while i < len(lines):
        opening = FENCE.match(lines[i])
        if not opening:
            i += 1
            continue
        indent, fence = len(opening["indent"]), opening["fence"]
        end = next((j for j in range(i + 1, len(lines))
                    if lines[j].strip().startswith(fence) and not lines[j].strip().strip(fence[0])), len(lines))
        skip, above = None, i - 1
        while above >= 0 and COMMENT.match(lines[above]):
            found = SKIP.search(lines[above])
            skip = found["reason"] if found else skip
            above -= 1
        blocks.append({"line": i + 1, "lang": opening["lang"].lower(), "skip": skip,
                       "code": "\n".join(line[indent:] for line in lines[i + 1:end])})
        i = end + 1
    return blocks


def runnable(page: str, markdown: str) -> list[dict]:
    """The blocks of a page that run: {where, kind (python or shell), code}."""
    out = []
    for block in code_blocks(markdown):
        kind = RUN_AS.get(block["lang"])
        if kind is None or block["skip"] is not None:
            continue
        code = block["code"]
        if block["lang"] == "console":
            code = "\n".join(line[2:] for line in code.splitlines() if line.startswith("$ "))
        out.append({"where": f"{page}:{block['line']}", "kind": kind, "code": code})
    return out


def readme_main_job() -> dict:
    """The `.venv/bin/zoo train ...` command of README's ci:setup block, found as .ci/run finds it."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    marker = text.splitlines().index("<!-- ci:setup -->") + 1
    setup = next(b for b in code_blocks(text) if b["line"] > marker)
    job = re.search(r"\.venv/bin/zoo train .*", setup["code"])
    assert job, "README's ci:setup block has no '.venv/bin/zoo train' command (.ci/run needs one)"
    return {"where": f"README.md:{setup['line']} (its main job)", "kind": "shell", "code": job.group()}


# Runs in a subprocess: each page's blocks in order, in the page's own folder and namespace; prints
# one RESULT line per page (null, or the block that failed and why) and goes on with the next page.
DRIVER = r"""
import json, os, resource, subprocess, sys, time, traceback
def cpu():  # this process and the commands it ran
    return time.process_time() + resource.getrusage(resource.RUSAGE_CHILDREN).ru_utime
venv, pages = sys.argv[1], json.load(open(sys.argv[2]))
root = os.getcwd()
for number, (page, blocks) in enumerate(pages.items()):
    folder = os.path.join(root, f"page-{number}")
    os.makedirs(folder)
    os.symlink(venv, os.path.join(folder, ".venv"))
    os.chdir(folder)
    namespace, failure = {"__name__": "__main__"}, None
    for block in blocks:
        print("== running", block["where"], flush=True)
        started = cpu()
        if block["kind"] == "python":
            try:
                exec(compile(block["code"], block["where"], "exec"), namespace)
            except BaseException:
                failure = f"{block['where']} failed:\n{traceback.format_exc()[-4000:]}"
        else:
            done = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", block["code"]],
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            if done.returncode != 0:
                failure = f"{block['where']} failed (exit {done.returncode}):\n{done.stdout[-4000:]}"
        print(f"== ran {block['where']} in {cpu() - started:.1f} s CPU", flush=True)
        if failure:
            break
    print("RESULT " + json.dumps({"page": page, "failure": failure}), flush=True)
"""


def start(pages: dict[str, list[dict]], folder: Path) -> subprocess.Popen:
    env = dict(os.environ, HF_HUB_OFFLINE="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", MPLBACKEND="Agg",
               PATH=f"{VENV / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "blocks.json").write_text(json.dumps(pages))
    return subprocess.Popen([sys.executable, "-c", DRIVER, str(VENV), "blocks.json"], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, cwd=folder, env=env, text=True)


def results(process: subprocess.Popen, pages: dict[str, list[dict]]) -> dict[str, str | None]:
    """page -> None when all its blocks ran, else what failed."""
    try:
        output, _ = process.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
    if os.environ.get("DOCS_TEST_VERBOSE"):
        print(output)
    found = {}
    for line in output.splitlines():
        if line.startswith("RESULT "):
            result = json.loads(line[len("RESULT "):])
            found[result["page"]] = result["failure"]
    running = re.findall(r"^== running (.*)$", output, re.M)
    for page in pages:
        if page not in found:
            found[page] = (f"no result: the run stopped (timeout {TIMEOUT} s or crash) while running "
                           f"{running[-1] if running else '?'}:\n{output[-4000:]}")
    return found


@pytest.fixture(scope="module")
def block_results(tmp_path_factory) -> dict[str, str | None]:
    """Every page's blocks, run: the written pages and the generated pages in two subprocesses at once."""
    written_pages = {page: runnable(page, text) for page, text in written().items()}
    written_pages["README.md"].append(readme_main_job())
    generated_pages = {page: runnable(page, text) for page, text in generated().items()}
    groups = [{p: b for p, b in group.items() if b} for group in (written_pages, generated_pages)]
    folder = tmp_path_factory.mktemp("docs-blocks")
    processes = [start(group, folder / str(number)) for number, group in enumerate(groups)]
    found = {}
    for process, group in zip(processes, groups):
        found.update(results(process, group))
    return found


# -- what the pages say ----------------------------------------------------------------------------

def test_pages_hold_no_internal_notes():
    found = [f"{page}:{number}: ...{html.unescape(line[max(0, match.start() - 60):match.end() + 60])}..."
             for page, text in {**written(), **generated()}.items()
             for number, line in enumerate(text.splitlines(), 1)
             for match in INTERNAL_NOTES.finditer(line)]
    assert not found, ("pages cite the paper and show `zoo reproduce` commands, not internal notes or paths "
                       "into the source tree:\n" + "\n".join(found))


def test_model_pages_lead_with_results_then_use_then_reference():
    import zoo

    pages = generated()
    for name in zoo.list_models():
        page = pages[f"generated models/{name}.md"]
        results_at, use_at, reference_at = (page.find(h) for h in ("## Results", "## Use it", "## Reference"))
        assert results_at < use_at < reference_at and use_at > 0, \
            f"models/{name}.md: expected Results (if any), then Use it, then Reference"
    assert "priority" not in pages["generated models/index.md"]


def test_kan_page_shows_each_record_first():
    page = generated()["generated models/kan.md"]
    for path in sorted((ROOT / "plugins" / "kan" / "results").glob("*.json")):
        record = json.loads(path.read_text())
        assert f"`{record['command']}`" in page, f"{path.name}: its rerun command is not on the page"
        for figure in record["figures"]:
            assert f"(kan/{figure})" in page
    # the first result comes right after the paper line and summary, before DOC.md's discussion
    assert page.index("## Results") < 1000
    assert page.index("## Results") < page.index("## Use it") < page.index("## The paper and this implementation")


def test_model_pages_name_parts_that_exist():
    """Every `zoo reproduce MODEL --part PART` on a model page (records and DOC.md) names a script
    that `zoo reproduce --list` lists."""
    from zoo.reproduce import find_parts

    parts, wrong = {}, []
    for page, text in generated().items():
        for number, line in enumerate(text.splitlines(), 1):
            for model, part in re.findall(r"zoo reproduce ([a-z0-9-]+) --part ([a-z0-9_]+)", line):
                if model not in parts:
                    parts[model] = {p.name for p in find_parts(model)}
                if part not in parts[model]:
                    wrong.append(f"{page}:{number}: {model} has no part {part!r} (parts: {sorted(parts[model])})")
    assert not wrong, "\n".join(wrong)


def _html(markdown: str) -> str:
    """`markdown` rendered with the extensions of docs/mkdocs.yml."""
    import markdown as md
    import yaml

    config = yaml.safe_load((ROOT / "docs" / "mkdocs.yml").read_text())
    extensions, options = [], {}
    for item in config["markdown_extensions"]:
        name, settings = next(iter(item.items())) if isinstance(item, dict) else (item, None)
        extensions.append(name)
        if settings:
            options[name] = settings
    return md.markdown(markdown, extensions=extensions, extension_configs=options)


def _shown(rendered: str) -> str:
    """The text a browser shows for `rendered`."""
    return html.unescape(re.sub(r"<[^>]+>", "", rendered))


def test_recorded_formula_renders_verbatim():
    """The KAN symbolic record's formula keeps every `*` and `_` (Markdown emphasis used to eat them)."""
    record = json.loads((ROOT / "plugins" / "kan" / "results" / "symbolic_exp_sin.json").read_text())
    formula = record["data"]["formula"]
    cells = [str(c) for row in record["table"]["rows"] for c in row]
    assert formula.count("*") >= 5 and formula in record["summary"] and any("_" in c for c in cells)
    shown = _shown(_html(generated()["generated models/kan.md"]))
    assert formula in shown, "the record's formula lost characters to Markdown on the KAN page"
    for cell in cells:
        assert cell in shown


def test_a_record_judged_without_a_rerun_says_so_on_its_page():
    checks = [{"name": "ours beats base", "ours": [2.0, 0.0, 2.0], "versus": [1.0, 1.0, 1.0], "better": "higher",
               "margin": 0.0, "factor": 1.0, "held": [True, False, True], "outcome": "partially reproduced",
               "ours_spread": {"mean": 1.33, "std": 1.15}, "versus_spread": {"mean": 1.0, "std": 0.0}}]
    record = {"name": "claim", "claim": "c", "verdict": "partially reproduced", "summary": "s", "setup": "x",
              "command": "zoo reproduce m --part repro", "seeds": [0, 1, 2], "checks": checks, "date": "2026-01-02",
              "judged": {"date": "2026-02-03", "run_date": "2026-01-02", "by": "zoo_plugins.m.repro:claim_checks",
                         "why": "The run stored all three seeds.", "verdict_before": "reproduced"}}
    shown = " ".join(_shown(_html(hook().render_record(record, ""))).split())
    assert "on 2026-02-03 from the per-seed numbers this run stored (run of 2026-01-02, not re-run)" in shown
    assert 'typed "reproduced"' in shown


def test_record_text_survives_markdown():
    text = r"a*b*c __init__ x_1 `x | y` [link](u) <b>bold</b> 1 | 2 \ ~ # $ &amp;"
    assert _shown(_html(hook().data_text(text))).strip() == text.replace("`", "")
    assert _shown(_html(hook().data_text("- 1. not a list"))).strip() == "- 1. not a list"
    table = hook()._data_table(["type"], [["float | None"], ["2**-3"]])
    assert "float | None" in _shown(_html(table)) and "2**-3" in _shown(_html(table))


# -- every code block runs -------------------------------------------------------------------------

def test_the_plugin_guide_shows_the_example_package_whole():
    """The guide's plugin code is the example package the suite installs and tests (tests/
    test_third_party.py), file for file, so code copied from the page is complete and runs."""
    import yaml

    package = ROOT / "tests" / "example_plugin" / "src" / "paperzoo_example"
    blocks = code_blocks(written()["docs/pages/plugin-guide.md"])
    shown = {}
    for block in blocks:
        first, _, rest = block["code"].partition("\n")
        if first.startswith("# src/paperzoo_example/"):
            shown[first.removeprefix("# src/paperzoo_example/")] = rest
    assert sorted(shown) == ["method.py", "plugin.py", "task.py"]
    for name, code in shown.items():
        assert code.strip() == (package / name).read_text(encoding="utf-8").strip(), f"the guide's {name} drifted"
    catalog = next(yaml.safe_load(b["code"]) for b in blocks if b["lang"] == "yaml" and "models:" in b["code"])
    installed = yaml.safe_load((package / "catalog.yaml").read_text(encoding="utf-8"))
    assert catalog["models"] == installed["models"] and catalog["tasks"] == installed["tasks"]


def test_skip_markers_give_a_reason():
    for page, text in {**written(), **generated()}.items():
        for number, line in enumerate(text.splitlines(), 1):
            if "docs-test" in line:
                found = SKIP.search(line)
                assert found and found["reason"], f"{page}:{number}: a skip marker needs a reason: {line!r}"


@pytest.mark.parametrize("page", sorted(written()))
def test_written_page_code_runs(page, block_results):
    if page not in block_results:
        pytest.skip(f"{page} has no block to run")
    assert block_results[page] is None, block_results[page]


def test_generated_pages_code_runs(block_results):
    pages = [page for page in generated() if page in block_results]
    assert len(pages) >= len(hook()._catalog().models), "every model page has a 'Use it' block that runs"
    failures = [block_results[page] for page in pages if block_results[page]]
    assert not failures, "\n\n".join(failures)


def test_a_failing_block_is_caught_and_named(tmp_path):
    """The check itself: the home page's old variant name "s16" is caught, naming page and line."""
    page = "```python\nimport zoo\n```\n\ntext\n\n```python\nzoo.create('mlp-mixer', variant='s16')\n```\n"
    pages = {"example.md": runnable("example.md", page)}
    failure = results(start(pages, tmp_path), pages)["example.md"]
    assert failure and failure.startswith("example.md:7 failed") and "s16" in failure
    marked = "<!-- docs-test: skip: needs the network -->\n<!-- ci:x -->\n```bash\nfalse\n```\n"
    assert runnable("marked.md", marked) == []


def test_readme_counts_the_papers_the_zoo_has():
    """The README's paper count (architectures and training methods) is the plugin folders' count."""
    import yaml

    kinds = {"architectures": 0, "training methods": 0}
    for folder in (ROOT / "plugins").iterdir():
        catalog = folder / "catalog.yaml"
        if folder.name != "tasks" and (folder / "__init__.py").exists() and catalog.is_file():
            kinds["training methods" if yaml.safe_load(catalog.read_text()).get("methods") else "architectures"] += 1
    readme = (ROOT / "README.md").read_text()
    stated = re.search(r"(\d+) papers \((\d+) architectures, (\d+) training methods\)", readme)
    assert stated, "README no longer states the zoo's paper count"
    assert [int(n) for n in stated.groups()] == [sum(kinds.values()), kinds["architectures"],
                                                 kinds["training methods"]]


def test_the_api_reference_names_objects_that_exist():
    """Every object the API page documents imports (a rename fails here, not only in the site build),
    and the page covers what a plugin touches."""
    import importlib

    text = (ROOT / "docs" / "pages" / "api.md").read_text(encoding="utf-8")
    targets = re.findall(r"^::: ([\w.]+)$", text, flags=re.M)
    members = re.findall(r"^::: ([\w.]+)\n    options:\n      members: \[([^\]]*)\]", text, flags=re.M)
    for target in targets:
        module, _, name = target.rpartition(".")
        try:
            obj = importlib.import_module(target)
        except ModuleNotFoundError:
            obj = getattr(importlib.import_module(module), name)
        for listed_target, listed in members:
            if listed_target == target:
                for member in (m.strip() for m in listed.split(",")):
                    assert hasattr(obj, member), f"{target}.{member}"
    shown = " ".join(targets + [m for _, listed in members for m in listed.split(", ")])
    for needed in ("TaskInfo", "ArrayTask", "ModelSpec", "TaskSpec", "MethodSpec", "Method", "StepContext",
                   "assert_conforms", "zoo_train_end"):
        assert needed in shown, needed


def test_the_models_table_shows_what_each_model_exports():
    """The export column comes from the recorded export check: a model whose ONNX export failed there
    is listed without onnx."""
    record = json.loads((ROOT / "benchmarks" / "results" / "core" / "export.json").read_text(encoding="utf-8"))
    index = generated()["generated models/index.md"]
    rows = {line.split("|")[1].strip(): line for line in index.splitlines() if line.startswith("| [")}
    for name, status in record["data"].items():
        row = next(r for key, r in rows.items() if key.startswith(f"[{name}]("))
        exports = row.rstrip(" |").rsplit("|", 1)[1].strip()
        expected = [f if status[f].get("dynamic_batch", True) else f"{f} (fixed batch)"
                    for f in ("torch-export", "onnx") if status[f]["ok"]]
        assert exports == (", ".join(expected) or "none"), (name, exports)
