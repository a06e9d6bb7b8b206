"""Loading a ~100 MB zoo checkpoint from a local directory, as a same-run ratio.

Target: `zoo.load(directory)` costs at most 1.2x the baseline, which is what any loader that hands
back a model owning its memory must do anyway: build the model (`zoo.create` with the same config)
and read the file into tensors with safetensors' `load` of the bytes (safetensors.torch). `zoo.load` reads every tensor
into its own buffer, so that later changes to the file never reach a loaded model (a memory map
would share them, and a truncated file would crash the next forward); its extra work is reading
config.json, building through the registry, checking the header and the strict key/shape/dtype
check. Also shown, for information: a memory-mapped `load_file`, which reads nothing up front.

Rounds are interleaved (baseline, zoo, baseline, zoo, ...) so load on the shared machine hits both
alike; the file is in the OS page cache for both after a warm-up round. Also measured, for
information: `zoo.load(..., verify=True)`, which adds the sha256 of the file (what Hub and catalog
weights always pay).

Run: .venv/bin/python -m benchmarks.perf.load_checkpoint [--rounds N] [--width 1024,1024,1024,256]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from benchmarks import RESULTS
from zoo.reproduce import write_record

TARGET = 1.2


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--width", default="1024,1024,1024,256", help="kan layer widths of the checkpoint")
    args = parser.parse_args()
    width = [int(w) for w in args.width.split(",")]

    import safetensors
    import torch
    from safetensors.torch import load, load_file

    import zoo

    with tempfile.TemporaryDirectory(prefix="zoo-bench-") as tmp:
        torch.manual_seed(0)
        folder = zoo.save(zoo.create("kan", width=width), Path(tmp) / "kan-large")
        weights = folder / "model.safetensors"
        size_mb = weights.stat().st_size / 1e6

        def baseline():
            zoo.create("kan", width=width)
            load(weights.read_bytes())

        def mapped():
            zoo.create("kan", width=width)
            load_file(weights)

        def zoo_load():
            zoo.load(folder)

        def zoo_load_verified():
            zoo.load(folder, verify=True)

        runs = {"baseline": baseline, "zoo.load": zoo_load, "zoo.load verify": zoo_load_verified,
                "mapped load_file": mapped}
        for fn in runs.values():  # warm-up: page cache, plugin import
            fn()
        times: dict[str, list[float]] = {name: [] for name in runs}
        for _ in range(args.rounds):
            for name, fn in runs.items():
                times[name].append(_timed(fn))

    med = {k: statistics.median(v) for k, v in times.items()}
    ratio = med["zoo.load"] / med["baseline"]
    paired = statistics.median(z / b for z, b in zip(times["zoo.load"], times["baseline"]))
    verified = med["zoo.load verify"] / med["baseline"]
    mapped_ratio = med["mapped load_file"] / med["baseline"]
    for name, value in med.items():
        print(f"{name:16s} {value * 1e3:8.1f} ms (median of {args.rounds})")
    print(f"checkpoint {size_mb:.1f} MB; zoo.load / baseline = {ratio:.3f} (paired {paired:.3f}); "
          f"with sha256 verification {verified:.3f}")
    verdict = "reproduced" if ratio <= TARGET else "not reproduced"
    write_record(
        RESULTS, "core", "load-checkpoint",
        claim=f"Loading a ~100 MB zoo checkpoint from a local directory costs at most {TARGET}x "
              f"reading the same file with `safetensors.torch.load` plus building the model.",
        verdict=verdict,
        summary=(f"`zoo.load` of a {size_mb:.0f} MB kan checkpoint (width {width}) took {med['zoo.load']*1e3:.0f} ms "
                 f"against {med['baseline']*1e3:.0f} ms for `zoo.create` + `safetensors.torch.load` of the "
                 f"file's bytes: a ratio of {ratio:.2f} (median of per-round ratios {paired:.2f}; target <= "
                 f"{TARGET}). Checking the file's sha256 as well, as Hub and catalog weights always do, gives "
                 f"{verified:.2f}. A memory-mapped `load_file`, which reads nothing up front and leaves the "
                 f"model tied to the file, is {mapped_ratio:.2f}."),
        setup=f"One process, file in the OS page cache, {args.rounds} interleaved rounds after a warm-up, "
              f"default torch threads, CPU, safetensors {safetensors.__version__}. Both the baseline and "
              f"`zoo.load` read all 100 MB into memory the model owns.",
        command="python -m benchmarks.perf.load_checkpoint",
        table={"columns": ["path", "median ms", "ratio to baseline"],
               "rows": [["zoo.create + safetensors load_file (baseline)", f"{med['baseline']*1e3:.1f}", "1.00"],
                        ["zoo.load(directory)", f"{med['zoo.load']*1e3:.1f}", f"{ratio:.3f}"],
                        ["zoo.load(directory, verify=True)", f"{med['zoo.load verify']*1e3:.1f}", f"{verified:.3f}"],
                        ["zoo.create + memory-mapped load_file (information)", f"{med['mapped load_file']*1e3:.1f}",
                         f"{mapped_ratio:.3f}"]]},
        data={"size_mb": size_mb, "width": width, "times_s": times, "paired_ratio": paired},
    )


if __name__ == "__main__":
    main()
