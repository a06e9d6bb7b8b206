"""One format for recorded results: every reproduction and performance benchmark writes a JSON
record under benchmarks/results/<model>/<name>.json, which the docs render on the model's page."""

from __future__ import annotations

import datetime
import json
import os
import platform
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
VERDICTS = ("reproduced", "partially reproduced", "not reproduced", "measured")


def machine() -> dict:
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


def save_result(model: str, name: str, *, claim: str, verdict: str, summary: str, setup: str,
                command: str, table: dict | None = None, paper: dict | None = None,
                figures: list[str] = (), data: dict | None = None) -> Path:
    """Write benchmarks/results/<model>/<name>.json.

    claim: the claim tested (papers.md wording or the issue's target).
    verdict: one of VERDICTS ("measured" for performance numbers without a pass/fail claim).
    summary: one paragraph with the key numbers, honest about misses.
    table: {"columns": [...], "rows": [[...], ...]} rendered in the docs.
    paper: the paper's own numbers for comparison, with where they come from.
    figures: PNG file names saved next to the record (benchmarks/results/<model>/).
    data: any raw numbers worth keeping.
    """
    if verdict not in VERDICTS:
        raise ValueError(f"verdict must be one of {VERDICTS}, got {verdict!r}")
    if table is not None and (set(table) != {"columns", "rows"}
                              or any(len(r) != len(table["columns"]) for r in table["rows"])):
        raise ValueError("table must be {'columns': [...], 'rows': [[...], ...]} with rows as wide as columns")
    out = RESULTS / model / f"{name}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    record = {
        "model": model, "name": name, "claim": claim, "verdict": verdict, "summary": summary,
        "setup": setup, "command": command, "table": table, "paper": paper, "figures": list(figures),
        "data": data, "date": datetime.date.today().isoformat(), "machine": machine(),
    }
    tmp = out.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(record, indent=2, default=float) + "\n")
    tmp.replace(out)
    return out


def figure_path(model: str, filename: str) -> Path:
    path = RESULTS / model / filename
    path.parent.mkdir(parents=True, exist_ok=True)
    return path
