"""The layout: one folder per paper holding all of it, a core whose modules each state one job and
import one another without cycles, and benchmarks/ holding only what spans models."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAPER_FOLDERS = sorted(p for p in (ROOT / "plugins").iterdir() if (p / "__init__.py").exists() and p.name != "tasks")


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def core_import_graph() -> dict[str, set[str]]:
    """zoo module -> zoo modules it imports anywhere in its body (function-level imports too)."""
    modules = {_module_name(p): p for p in (ROOT / "zoo").rglob("*.py")}
    graph = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        edges = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                base = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
                target = ".".join(base + ([node.module] if node.module else []))
                for alias in node.names:
                    edges.add(f"{target}.{alias.name}" if f"{target}.{alias.name}" in modules else target)
            elif isinstance(node, ast.Import):
                edges.update(alias.name for alias in node.names)
        graph[name] = {e for e in edges if e in modules and e != name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in graph[node]:
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in graph:
        if node not in index:
            visit(node)
    return found


def test_core_imports_form_no_cycle():
    graph = core_import_graph()
    assert {"zoo.registry", "zoo.weights", "zoo.hub"} <= set(graph)
    assert cycles(graph) == []


def test_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


@pytest.mark.parametrize("path", sorted((ROOT / "zoo").rglob("*.py")), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_core_module_states_its_job(path):
    doc = ast.get_docstring(ast.parse(path.read_text()))
    assert doc and len(doc.splitlines()[0]) > 20, f"{path.relative_to(ROOT)}: no docstring saying its one job"


@pytest.mark.parametrize("folder", PAPER_FOLDERS, ids=lambda p: p.name)
def test_paper_folder_holds_the_paper(folder):
    """Code, catalog entry and docs text; its scripts' records sit beside them, each naming the
    command that reruns it from an installed package."""
    assert (folder / "catalog.yaml").is_file() and (folder / "DOC.md").is_file()
    parts = {p.stem for p in folder.glob("*.py") if re.match(r"^(repro|perf)(_\w+)?$", p.stem)}
    for record_path in sorted((folder / "results").glob("*.json")):
        record = json.loads(record_path.read_text())
        match = re.fullmatch(r"zoo reproduce ([a-z0-9-]+) --part (\w+)", record["command"])
        assert match, f"{record_path.relative_to(ROOT)}: command {record['command']!r} is not a zoo reproduce command"
        assert match.group(2) in parts, f"{record_path.relative_to(ROOT)}: no script {match.group(2)}.py in {folder.name}"
        for figure in record.get("figures") or []:
            assert (folder / "results" / figure).is_file(), f"{record_path.relative_to(ROOT)}: figure {figure} missing"


def test_benchmarks_hold_only_what_spans_models():
    assert sorted(p.name for p in (ROOT / "benchmarks" / "results").iterdir()) == ["core"]
    assert not (ROOT / "benchmarks" / "repro").exists()
    plugin_modules = {p.name for p in PAPER_FOLDERS}
    strays = [p.name for p in (ROOT / "benchmarks" / "perf").glob("*.py") if p.stem in plugin_modules]
    assert strays == [], f"per-paper scripts belong in their plugin folder: {strays}"
