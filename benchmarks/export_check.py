"""Which catalog models export: every model's default variant through `zoo.export` to a torch.export
program and to ONNX, each file checked against the eager model; one JSON record and a table.

    python -m benchmarks.export_check [--models kan,fan] [--formats torch-export,onnx] [--out FILE]

Per model and format: export with the plugin's example inputs (batch of 2), read the file back
(torch.export.load, onnxruntime) and compare with eager; the cell says ok with the largest
difference relative to the output's scale, or the one-line reason it failed. Exit status 0 even when
models fail: the record is the result.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from benchmarks import RESULTS

DEFAULT_OUT = RESULTS / "export.json"
FORMATS = ("torch-export", "onnx")


def check_model(name: str, formats, folder: Path) -> dict:
    """{format: {ok, max_relative_difference and dynamic_batch | error, seconds}} for the default variant
    of `name`."""
    import torch

    import zoo
    from zoo.exporting import FORMATS as SUFFIXES

    torch.manual_seed(0)
    try:
        model = zoo.create(name)
    except Exception as exc:  # recorded: the table shows why there is nothing to export
        return {fmt: {"ok": False, "error": f"zoo.create failed: {_reason(exc)}", "seconds": 0.0} for fmt in formats}
    results = {}
    for fmt in formats:
        start = time.perf_counter()
        path = folder / f"{name}{SUFFIXES[fmt]}"
        try:
            outcome = zoo.export(model, path, format=fmt, force=True)
            results[fmt] = {"ok": True, "max_relative_difference": outcome.max_relative_difference,
                            "dynamic_batch": outcome.dynamic_batch}
        except Exception as exc:  # recorded, and the check goes on
            results[fmt] = {"ok": False, "error": _reason(exc)}
        finally:
            path.unlink(missing_ok=True)
        results[fmt]["seconds"] = round(time.perf_counter() - start, 2)
    return results


def _reason(exc: BaseException) -> str:
    from zoo.errors import ZooError

    text = " ".join(str(exc).split())[:500]
    return text if isinstance(exc, ZooError) else f"{type(exc).__name__}: {text}"


def _cell(result: dict) -> str:
    if result["ok"]:
        batch = "any batch" if result.get("dynamic_batch") else "batch 2 only"
        return f"ok ({result['max_relative_difference']:.1e}, {batch})"
    return "fails: " + result["error"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.export_check", description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=None, help="comma-separated catalog models (default: all)")
    parser.add_argument("--formats", default=",".join(FORMATS), help="comma-separated formats (default: both)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where to write the JSON record")
    args = parser.parse_args(argv)

    import zoo
    from zoo.reproduce import machine

    names = args.models.split(",") if args.models else zoo.list_models()
    formats = [f for f in args.formats.split(",") if f]
    started = time.perf_counter()
    models = {}
    with tempfile.TemporaryDirectory() as folder:
        for name in names:
            models[name] = {"variant": zoo.info(name).default_variant, **check_model(name, formats, Path(folder))}
            print(f"{name}: " + ", ".join(f"{fmt} {'ok' if models[name][fmt]['ok'] else 'FAILED'}" for fmt in formats),
                  flush=True)
    passed = {fmt: sum(models[n][fmt]["ok"] for n in names) for fmt in formats}
    record = {
        "model": "core",
        "name": "export",
        "claim": "Which catalog models export (default variant) to torch.export and ONNX with outputs that "
                 "match the eager model's (1e-4 of the output's scale in float32)",
        "verdict": "measured",
        "summary": f"{len(names)} models: " + "; ".join(f"{fmt} exports {passed[fmt]}" for fmt in formats)
                   + ". A cell gives the largest difference from eager relative to the output's scale and "
                     "whether the file takes any batch size, or the exporter's reason.",
        "setup": "zoo.export on the CPU, each model's default variant built under seed 0, its plugin's example "
                 "inputs at batch 2 with the batch dimension left free where the model allows it; each file is "
                 "run (the recorded torch.export program, an onnxruntime session) and compared with the eager "
                 f"outputs, at batch 2 and again at batch 3. torch {_version('torch')}, onnx {_version('onnx')}, onnxscript "
                 f"{_version('onnxscript')}, onnxruntime {_version('onnxruntime')}.",
        "command": "python -m benchmarks.export_check",
        "table": {"columns": ["model", "variant", *formats],
                  "rows": [[n, models[n]["variant"] or "", *(_cell(models[n][f]) for f in formats)] for n in names]},
        "data": models,
        "date": time.strftime("%Y-%m-%d"),
        "machine": machine(),
        "seconds": round(time.perf_counter() - started, 1),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    print(f"{len(names)} models; " + ", ".join(f"{fmt}: {passed[fmt]} ok" for fmt in formats)
          + f"; {record['seconds']} s; wrote {args.out}")
    return 0


def _version(module: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(module)
    except PackageNotFoundError:
        return "not installed"


if __name__ == "__main__":
    sys.exit(main())
