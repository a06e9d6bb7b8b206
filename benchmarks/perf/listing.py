"""Listing at scale: the first-party catalog plus 2,000 generated third-party models, against timm.

A third-party distribution is installed the way pip lays one out (a `.dist-info` folder with its
`paperzoo.catalogs` entry point, and its catalog file in a package folder) into a temporary
site folder put on PYTHONPATH, so discovery finds it exactly as it finds any installed plugin.
Measured in one run, interleaved, medians:

1. `zoo list --names` as a fresh process against `python -c "import timm; timm.list_models()"`
   (target: at least 30x faster).
2. In-process `zoo.list_models()` against in-process `timm.list_models()`, both with their
   registries already built (target: no slower, with 2,000+ models against timm's ~1,300); the
   first call, which reads the catalogs, is reported beside them.

Both sides run with the interpreter of one environment: by default this one; `--python` names
another, such as a fresh virtual environment with the wheel installed (an editable install pays
for its import redirector at every start, which an installed wheel does not).

Run: .venv/bin/python -m benchmarks.perf.listing [--rounds N] [--models N] [--python PATH]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from benchmarks import RESULTS
from zoo.reproduce import write_record
from zoo.timing import interleaved, medians


DIST = "paperzoo_listing_bench"


def generated_catalog(n: int) -> dict:
    """`n` third-party models shaped like real entries: paper, summary, tasks, variants, three
    config fields, and pretrained weights on every tenth."""
    models = {}
    for i in range(n):
        entry = {
            "plugin": "listing-bench",
            "paper": {"title": f"Generated architecture number {i}", "arxiv": f"2501.{i:05d}", "year": 2025},
            "family": ("image classification", "regression", "forecasting")[i % 3],
            "summary": f"A generated model {i} for the listing benchmark; it is never built.",
            "tasks": ["digits", "iris"] if i % 2 else ["toy/exp-sin"],
            "variants": {"default": {}, "wide": {"width": 256}},
            "config": [{"name": "width", "type": "int", "default": 64, "doc": "hidden width"},
                       {"name": "depth", "type": "int", "default": 2, "doc": "layers"},
                       {"name": "dropout", "type": "float", "default": 0.1, "doc": "dropout rate"}],
        }
        if i % 10 == 0:
            entry["weights"] = {"digits": {"sha256": f"{i:064x}", "repo_id": f"bench/gen-{i}",
                                           "revision": f"{i:040x}", "license": "mit", "task": "digits"}}
        models[f"gen-{i:04d}"] = entry
    return {"schema": 1, "models": models}


def install_third_party(site: Path, n: int) -> None:
    package = site / DIST
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "catalog.yaml").write_text(yaml.safe_dump(generated_catalog(n), sort_keys=False))
    info = site / f"{DIST}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {DIST}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[paperzoo.catalogs]\n{DIST} = {DIST}:catalog.yaml\n")


def process_seconds(cmd: list[str], env: dict) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True, env=env)
    return time.perf_counter() - start


IN_PROCESS = """
import sys, time, json, statistics
import timm, zoo
start = time.perf_counter(); zoo_names = zoo.list_models(); first = time.perf_counter() - start
timm_names = timm.list_models()
zoo_t, timm_t = [], []
for _ in range({rounds}):
    start = time.perf_counter(); zoo.list_models(); zoo_t.append(time.perf_counter() - start)
    start = time.perf_counter(); timm.list_models(); timm_t.append(time.perf_counter() - start)
print(json.dumps({{"zoo_models": len(zoo_names), "timm_models": len(timm_names), "zoo_first_s": first,
                  "zoo_s": statistics.median(zoo_t), "timm_s": statistics.median(timm_t)}}))
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--models", type=int, default=2000)
    parser.add_argument("--python", default=sys.executable, help="interpreter of the environment to measure")
    args = parser.parse_args()
    python = str(Path(args.python).absolute())
    with tempfile.TemporaryDirectory(prefix="zoo-listing-") as tmp:
        site = Path(tmp) / "site"
        install_third_party(site, args.models)
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")])),
               "PAPERZOO_CACHE": str(Path(tmp) / "cache")}
        zoo_cmd = [str(Path(python).parent / "zoo"), "list", "--names"]
        timm_cmd = [python, "-c", "import timm; timm.list_models()"]
        listed = subprocess.run(zoo_cmd, check=True, capture_output=True, text=True, env=env).stdout.split()
        if len(listed) < args.models:
            raise SystemExit(f"zoo list saw {len(listed)} models; the generated catalog was not found")
        times = interleaved({"zoo": lambda: process_seconds(zoo_cmd, env),
                             "timm": lambda: process_seconds(timm_cmd, env)}, args.rounds)
        fresh = medians(times)
        import json

        inproc = json.loads(subprocess.run([python, "-c", IN_PROCESS.format(rounds=200)], check=True,
                                           capture_output=True, text=True, env=env).stdout)
    speedup = fresh["timm"] / fresh["zoo"]
    in_ratio = inproc["zoo_s"] / inproc["timm_s"]
    print(f"{len(listed)} models; zoo list {fresh['zoo'] * 1e3:.0f} ms vs timm {fresh['timm'] * 1e3:.0f} ms: "
          f"{speedup:.1f}x; in-process {inproc['zoo_s'] * 1e3:.2f} ms vs {inproc['timm_s'] * 1e3:.2f} ms "
          f"({in_ratio:.2f}x), first call {inproc['zoo_first_s'] * 1e3:.0f} ms")
    met = speedup >= 30 and in_ratio <= 1.0
    write_record(
        RESULTS, "core", "listing-editable" if python == str(Path(sys.executable).absolute()) else "listing",
        claim=f"With the first-party catalog plus {args.models:,} third-party models installed, `zoo list` as a fresh "
              "process is at least 30x faster than `python -c \"import timm; timm.list_models()\"`, and in-process "
              "`zoo.list_models()` is no slower than `timm.list_models()`.",
        verdict="reproduced" if met else "not reproduced",
        summary=(f"{len(listed):,} models listed. `zoo list` took {fresh['zoo'] * 1e3:.0f} ms against "
                 f"{fresh['timm'] * 1e3:.0f} ms for timm's {inproc['timm_models']:,} ({speedup:.1f}x faster; medians "
                 f"of {args.rounds} interleaved fresh processes). In process, with both registries built, "
                 f"`zoo.list_models()` took {inproc['zoo_s'] * 1e3:.2f} ms against {inproc['timm_s'] * 1e3:.2f} ms "
                 f"for `timm.list_models()` ({in_ratio:.2f}x); zoo's first call, which reads every catalog, took "
                 f"{inproc['zoo_first_s'] * 1e3:.0f} ms (timm builds its registry while importing)."),
        setup=f"Environment: {'this checkout (editable install)' if python == str(Path(sys.executable).absolute()) else 'a virtual environment with the wheel installed'}. "
              f"A generated third-party distribution ({args.models:,} models with paper, summary, tasks, two "
              "variants, three config fields, weights on every tenth) installed as a .dist-info on PYTHONPATH; "
              "the catalog parse cache in a fresh folder (first process fills it). Fresh processes: medians of "
              f"{args.rounds} interleaved rounds after one warm-up round each; in process: medians of 200 calls.",
        command="python -m benchmarks.perf.listing",
        table={"columns": ["measurement", "timm", "zoo", "ratio"],
               "rows": [["fresh process, list all", f"{fresh['timm'] * 1e3:.0f} ms ({inproc['timm_models']:,} models)",
                         f"{fresh['zoo'] * 1e3:.0f} ms ({len(listed):,} models)", f"{speedup:.1f}x faster"],
                        ["in process, list all", f"{inproc['timm_s'] * 1e3:.2f} ms", f"{inproc['zoo_s'] * 1e3:.2f} ms",
                         f"{in_ratio:.2f}x the time"],
                        ["in process, first call", "(at import)", f"{inproc['zoo_first_s'] * 1e3:.0f} ms", "-"]]},
        data={"python": "editable" if python == str(Path(sys.executable).absolute()) else "wheel", "fresh_process_s": times, "in_process": inproc, "models": len(listed),
              "rounds": args.rounds, "medians": fresh, "speedup": speedup, "in_process_ratio": in_ratio,
              "median_spread": {k: statistics.pstdev(v) for k, v in times.items()}},
    )


if __name__ == "__main__":
    main()
