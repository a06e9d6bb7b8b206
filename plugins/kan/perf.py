"""KAN layer speed: across threads and batch sizes against an equal-parameter MLP, and against the
B-spline KAN implementations on PyPI.

    zoo reproduce kan --part perf

Every model is the stack [64, 128, 128, 10], grid 5, order 3; one training step is zero grads,
forward, mean-square loss, backward, models interleaved step by step in one process (A, B, C, A,
B, C, ...) so machine noise hits all alike; medians and ratios.

1. Threads x batch (record threads_speed): our layer and an MLP [64, 472, 472, 10] with about the
   same parameter count, at 1, 2, 4, ... threads up to the machine's cores and its default count,
   batch 256 and 4096, in three variants: a uniform grid in float32, an adapted (non-uniform)
   grid after `update_grid` in float32, and a uniform grid in float64 (the MLP in the same dtype).
   Three repeats, each a fresh process with its own inputs; the targets are checks over them
   (zoo.verdicts): at most 1.25x the MLP at batch 4096 and 1.5x at batch 256, at one thread and
   at the default count, and two threads at most 0.6x one thread's time at batch 4096.
2. Peers (record peers_speed), at the default thread count. Peers are installed at run time into
   runs/envs/kan-peers (below the working directory), a venv that sees the main environment's
   torch and the zoo through a .pth file: pykan (the authors' code), flashkan and inkan (B-spline
   KANs on uniform grids, torch.compile'd basis) and torchkan (its wheel ships no module;
   recorded as such). Agreement: our weights are copied into each peer whose parametrisation
   allows it (same grid, coefficients per edge, SiLU base) and the outputs compared. Time as
   above, "ours-eager" being our layer with its fused C++ kernels switched off
   (PAPERZOO_KAN_NATIVE=0). Peak memory: one fresh process per model and batch; after warm-up
   (compilation included), the peak of live tensor bytes during a step above those live before
   it, from the profiler's allocation records (max of 3 steps), plus our reused workspace buffers.

A quick run installs nothing: one repeat of the threads table at batch 256 for a few rounds, and
our layer and the MLP only for the peers table.
"""

from __future__ import annotations

import copy
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

from zoo.reproduce import Run
from zoo.verdicts import Check, judge_check

ENV = Path("runs") / "envs" / "kan-peers"
PEERS = ["pykan==0.2.8", "flashkan==0.2.0", "inkan==0.5.2", "torchkan==0.1.1"]
PEER_DEPS = ["pandas", "tqdm"]  # pykan imports them but declares no dependencies
WIDTH, GRID, K = [64, 128, 128, 10], 5, 3
MLP_WIDTH = [64, 472, 472, 10]
NAMES = ["ours", "ours-eager", "mlp-same-params", "pykan", "flashkan", "inkan", "inkan-eager", "torchkan"]
OURS = NAMES[:3]  # what a quick run measures: no peer to install
VARIANTS = {"uniform grid, float32": (torch.float32, False), "adapted grid, float32": (torch.float32, True),
            "uniform grid, float64": (torch.float64, False)}
TARGETS = {256: 1.5, 4096: 1.25}  # most KAN / MLP step time, per batch
TWO_THREAD_TARGET = 0.6  # most two-thread / one-thread time at batch 4096


# --- environment -------------------------------------------------------------------------------


def ensure_env() -> Path:
    python = ENV.resolve() / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(ENV)], check=True)
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          check=True, capture_output=True, text=True).stdout.strip()
    main_site = subprocess.run([sys.executable, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               check=True, capture_output=True, text=True).stdout.strip()
    # the main environment's torch and the zoo, without copying them
    Path(site, "paperzoo_main.pth").write_text(f"import site; site.addsitedir({main_site!r})\n")
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps", *PEERS], check=True)
    missing = subprocess.run([str(python), "-c", "import pandas, tqdm"], capture_output=True).returncode
    if missing:
        subprocess.run([str(python), "-m", "pip", "install", "-q", *PEER_DEPS], check=True)
    return python


# --- models (run inside the peers environment) ---------------------------------------------------


def build_models(names: list[str]):
    import torch
    from torch import nn

    from zoo_plugins.kan.config import KANConfig
    from zoo_plugins.kan.model import KAN

    torch.manual_seed(0)
    ours = KAN(KANConfig(width=WIDTH, grid=GRID, k=K))
    with torch.no_grad():
        for layer in ours.layers:
            layer.coef.normal_(0, 0.1)
            layer.scale_sp.uniform_(0.5, 1.5)
    models, notes = {}, {}
    for name in names:
        try:
            if name == "ours":
                models[name] = ours
            elif name == "ours-eager":  # the same weights, run without the fused kernels (see train_step)
                models[name] = copy.deepcopy(ours)
            elif name == "mlp-same-params":
                layers = []
                for a, b in zip(MLP_WIDTH[:-1], MLP_WIDTH[1:]):
                    layers += [nn.Linear(a, b), nn.SiLU()]
                models[name] = nn.Sequential(*layers[:-1])
            elif name == "pykan":
                models[name] = pykan_copy(ours)
            elif name in ("flashkan", "inkan", "inkan-eager"):
                models[name] = uniform_peer_copy(ours, name)
            elif name == "torchkan":
                import torchkan  # noqa: F401  (its 0.1.1 wheel ships no module)
        except Exception as exc:  # a peer that does not install or build is recorded, not fatal
            notes[name] = f"{type(exc).__name__}: {exc}"
    return models, notes


def pykan_copy(ours):
    import torch
    from kan import KAN as PyKAN

    model = PyKAN(width=list(WIDTH), grid=GRID, k=K, seed=0, auto_save=False, symbolic_enabled=False,
                  save_act=False)
    model.speed()  # the authors' fast mode: no symbolic branch, no saved activations
    with torch.no_grad():
        for theirs, mine in zip(model.act_fun, ours.layers):
            theirs.grid.copy_(mine.grid)
            theirs.coef.copy_(mine.coef)
            theirs.scale_base.copy_(mine.scale_base)
            theirs.scale_sp.copy_(mine.scale_sp)
            theirs.mask.copy_(mine.mask)
    return model


def uniform_peer_copy(ours, name: str):
    import torch
    from torch import nn

    if name == "flashkan":
        from flashkan import KANLayer as Layer
        options = {}
    else:
        from inkan import KANLayer as Layer
        options = {"compile_basis": name == "inkan"}
    layers = []
    for mine in ours.layers:
        layer = Layer(mine.in_features, mine.out_features, grid_size=GRID, spline_order=K, **options)
        spline = (mine.coef * (mine.scale_sp * mine.mask).unsqueeze(-1)).permute(1, 0, 2)  # (out, in, G+k)
        base = (mine.scale_base * mine.mask).T
        with torch.no_grad():
            if name == "flashkan":
                layer.spline_weight.copy_(spline)
                layer.base_weight.copy_(base)
            else:
                n = mine.in_features * (GRID + K)
                layer.weight[:, :n].copy_(spline.reshape(mine.out_features, -1))
                layer.weight[:, n:].copy_(base)
        layers.append(layer)
    return nn.Sequential(*layers)


def train_step(model, x, eager: bool = False):
    """Zero grads, forward, mean-square loss, backward; `eager`: with our fused kernels switched off
    (native.library() reads PAPERZOO_KAN_NATIVE at every call, so models can alternate in one process)."""
    os.environ["PAPERZOO_KAN_NATIVE"] = "0" if eager else "1"
    for p in model.parameters():
        p.grad = None
    model(x).square().mean().backward()


def worker_time(batch: int, rounds: int, names: list[str], threads: int, seed: int = 0) -> dict:
    torch.set_num_threads(threads)
    models, notes = build_models(names)
    x = torch.rand(batch, WIDTH[0], generator=torch.Generator().manual_seed(seed)) * 2 - 1
    agreement = {}
    with torch.no_grad():
        reference = models["ours"](x)
        for name, model in models.items():
            if name not in ("ours", "mlp-same-params"):
                agreement[name] = float((model(x) - reference).abs().max())
    params = {n: sum(p.numel() for p in m.parameters() if p.requires_grad) for n, m in models.items()}
    warm = {}
    for name, model in models.items():  # warm-up: compilation, workspaces, allocator
        start = time.perf_counter()
        train_step(model, x, name == "ours-eager")
        warm[name] = time.perf_counter() - start
        train_step(model, x, name == "ours-eager")
    times = {name: [] for name in models}
    slow = {"pykan"}  # seconds per step at large batch: fewer rounds
    for r in range(rounds):
        for name, model in models.items():
            if name in slow and r >= max(3, rounds // 4):
                continue
            start = time.perf_counter()
            train_step(model, x, name == "ours-eager")
            times[name].append(time.perf_counter() - start)
    return {"batch": batch, "times": times, "agreement": agreement, "params": params, "first_step_s": warm,
            "notes": notes}


def thread_counts(cores: int, default: int) -> list[int]:
    """1, 2, 4, ... up to the machine's cores, and its default thread count."""
    if cores < 1 or default < 1:
        raise ValueError(f"thread counts need at least one core and one default thread, got {cores} and {default}")
    counts, n = {default}, 1
    while n <= cores:
        counts.add(n)
        n *= 2
    return sorted(counts)


def scaling_models(seed: int):
    """Per variant our KAN (its grid adapted to the timing inputs' distribution where asked) and the
    equal-parameter MLP in the same dtype, with the timing inputs of each batch size."""
    models, _ = build_models(["ours", "mlp-same-params"])
    built = {}
    for variant, (dtype, adapted) in VARIANTS.items():
        ours = copy.deepcopy(models["ours"]).to(dtype)
        if adapted:
            generator = torch.Generator().manual_seed(10_000 + seed)
            ours.update_grid(torch.rand(4096, WIDTH[0], generator=generator, dtype=dtype) * 2 - 1)
        built[variant] = {"ours": ours, "mlp": copy.deepcopy(models["mlp-same-params"]).to(dtype)}
    return built


def worker_scaling(batch: int, rounds: int, threads: int, seed: int) -> dict:
    torch.set_num_threads(threads)
    built = scaling_models(seed)
    x32 = torch.rand(batch, WIDTH[0], generator=torch.Generator().manual_seed(seed)) * 2 - 1
    steps = {}
    for variant, pair in built.items():
        x = x32.to(VARIANTS[variant][0])
        for role, model in pair.items():
            steps[(variant, role)] = (model, x)
    for model, x in steps.values():  # warm-up: workspaces, kernel tables, allocator
        train_step(model, x)
        train_step(model, x)
    times = {key: [] for key in steps}
    for _ in range(rounds):
        for key, (model, x) in steps.items():
            start = time.perf_counter()
            train_step(model, x)
            times[key].append(time.perf_counter() - start)
    from zoo_plugins.kan import native

    return {"batch": batch, "threads": threads, "seed": seed, "kernel_threads": native.kernel_threads(),
            "median_ms": {f"{v}|{r}": statistics.median(t) * 1e3 for (v, r), t in times.items()}}


def step_peak_bytes(model, x, eager: bool) -> int:
    """Peak bytes of tensors alive during one training step above those alive before it, from the
    profiler's allocation and free records (every tensor of every CPU op, compiled kernels' buffers
    included; the allocator's caching does not hide them as it does from the process's RSS)."""
    from torch.profiler import ProfilerActivity, profile

    for p in model.parameters():
        p.grad = None  # freed before the window, so every free inside it has a recorded allocation
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        train_step(model, x, eager)
    records = sorted((e.start_ns(), e.nbytes()) for e in prof.profiler.kineto_results.events()
                     if e.name() == "[memory]")
    live = peak = 0
    for _, nbytes in records:
        live += nbytes
        peak = max(peak, live)
    return peak


def worker_memory(batch: int, name: str, threads: int) -> dict:
    import torch

    torch.set_num_threads(threads)
    models, notes = build_models(["ours"] + ([name] if name != "ours" else []))
    if name not in models:
        return {"batch": batch, "model": name, "peak_mb": None, "note": notes.get(name)}
    model = models[name]
    x = torch.rand(batch, WIDTH[0]) * 2 - 1
    eager = name == "ours-eager"
    for _ in range(2):
        train_step(model, x, eager)
    peak = max(step_peak_bytes(model, x, eager) for _ in range(3))
    if name in ("ours", "ours-eager"):  # our reused scratch buffers are allocated before the window: count them
        from zoo_plugins.kan.spline import workspace_bytes

        peak += workspace_bytes()
    return {"batch": batch, "model": name, "peak_mb": peak / 2 ** 20}


# --- driver ------------------------------------------------------------------------------------


def worker(args: list[str]) -> None:
    """Entry point of a measuring process: one timing or memory measurement, printed as JSON."""
    kind, batch, *rest = args
    if kind == "time":
        result = worker_time(int(batch), int(rest[0]), rest[1].split(","), int(rest[2]), int(rest[3]))
    elif kind == "scaling":
        result = worker_scaling(int(batch), int(rest[0]), int(rest[1]), int(rest[2]))
    else:
        result = worker_memory(int(batch), rest[0], int(rest[1]))
    sys.stdout.write(json.dumps(result) + "\n")


def run_worker(python: Path | str, *args: str) -> dict:
    code = "import sys; from zoo_plugins.kan.perf import worker; worker(sys.argv[1:])"
    out = subprocess.run([str(python), "-c", code, *args], capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"worker {args} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def reproduce(run: Run) -> None:
    default = torch.get_num_threads()
    scaling(run, default)
    peers(run, default)


def peers(run: Run, threads: int) -> None:
    """Our layer against the PyPI peers at the default thread count (record peers_speed)."""
    names = run.pick(NAMES, OURS)
    python = sys.executable if run.quick else ensure_env()
    seeds = run.pick([0, 1, 2], [0])
    rounds_per_batch = run.pick({256: 60, 4096: 16}, {256: 2})
    rows, raw, medians = [], {}, {}  # medians[batch][name]: ms per repeat
    for batch, rounds in rounds_per_batch.items():
        timings = [run_worker(python, "time", str(batch), str(rounds), ",".join(names), str(threads), str(seed))
                   for seed in seeds]
        built = [n for n in names if all(t["times"].get(n) for t in timings)]
        memory = {n: run_worker(python, "memory", str(batch), n, str(threads)) for n in built}
        raw[batch] = {"timing": timings, "memory": memory}
        medians[batch] = {n: [statistics.median(t["times"][n]) * 1e3 for t in timings] for n in built}
        first = timings[0]
        for name in names:
            if name not in built:
                rows.append([name, batch, "-", "-", "-", "-", "-", "-", first["notes"].get(name, "not built")])
                continue
            ms = medians[batch][name]
            peak = memory[name]["peak_mb"]
            rows.append([name, batch, first["params"][name], round(statistics.median(ms), 2),
                         " / ".join(f"{m / o:.2f}" for m, o in zip(ms, medians[batch]["ours"])),
                         " / ".join(f"{m / o:.2f}" for m, o in zip(ms, medians[batch]["mlp-same-params"])),
                         None if peak is None else round(peak, 1),
                         f"{first['agreement'][name]:.1e}" if name in first["agreement"] else "-",
                         f"first step {first['first_step_s'][name]:.1f} s"])
        print(json.dumps(rows[-len(names):]), flush=True)
    checks = []
    for batch, by_name in medians.items():
        ours = by_name["ours"]
        ours_peak = raw[batch]["memory"]["ours"]["peak_mb"]
        checks.append(Check(f"batch {batch}: ours <= 1.5x the equal-parameter MLP's step time", ours=ours,
                            versus=[1.5 * m for m in by_name["mlp-same-params"]], better="lower"))
        for peer in ("pykan", "flashkan", "inkan"):
            if peer not in by_name:
                continue
            checks.append(Check(f"batch {batch}: ours faster than {peer}", ours=ours, versus=by_name[peer],
                                better="lower"))
            peak = raw[batch]["memory"][peer]["peak_mb"]
            if peak is not None:  # measured once per model: the same number stands for every repeat
                checks.append(Check(f"batch {batch}: our peak step memory below {peer}'s",
                                    ours=[ours_peak] * len(seeds), versus=peak, better="lower"))
    outcomes = [judge_check(c)["outcome"] for c in checks]
    missed = [c.name for c, o in zip(checks, outcomes) if o != "reproduced"]
    lines = [f"{len(checks) - len(missed)} of {len(checks)} targets met on every repeat"
             + (f"; missed on at least one: {'; '.join(missed)}." if missed else ".")]
    for batch, by_name in medians.items():
        def per_repeat(name):
            return "/".join(f"{m / o:.2f}" for m, o in zip(by_name[name], by_name["ours"]))

        lines.append(f"B={batch}: step time relative to ours per repeat: "
                     + ", ".join(f"{n} {per_repeat(n)}" for n in by_name if n != "ours")
                     + f"; our peak step memory {raw[batch]['memory']['ours']['peak_mb']:.1f} MB.")
    run.record(
        "peers_speed",
        claim="Target: faster than every peer B-spline KAN measured, at less peak memory, on "
              "[64,128,128,10], grid 5, order 3, batch 256 and 4096; within 1.5x the equal-parameter MLP's time.",
        seeds=seeds, checks=checks,
        summary=" ".join(lines) + " Ours runs without torch.compile, its basis in fused C++ kernels (native.cpp, "
                                  "compiled on first use in about a second); ours-eager is the same layer without "
                                  "them. flashkan and inkan torch.compile their basis (cold compiles of 2-40 s, not "
                                  "in the step times). A repeat is a fresh process with its own inputs, models "
                                  "interleaved step by step; absolute milliseconds move with the shared machine.",
        setup=f"train step = zero grads + forward + mean-square loss + backward, float32, "
              f"{threads} torch thread(s) (the default); peers in "
              "their default configuration (flashkan, inkan: torch.compile'd basis, warmed up first; pykan after "
              "model.speed()); inkan-eager = inkan with compile_basis=False; ours-eager = ours with "
              "PAPERZOO_KAN_NATIVE=0. Peak memory = the largest, over 3 steps after warm-up, of the peak live tensor "
              "bytes during the step above those live before it (torch profiler allocation records), one process "
              "per model, plus our reused workspace buffers (allocated before the step).",
        table={"columns": ["model", "batch", "trainable params", "step ms (median of repeats)", "x ours per repeat",
                           "x MLP per repeat", "peak step MB", "max |output - ours|", "note"], "rows": rows},
        data={str(k): v for k, v in raw.items()},
    )

def scaling(run: Run, default: int) -> None:
    """The threads x batch table and its targets (record threads_speed)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    counts = run.pick(thread_counts(cores, default), sorted({1, default}))
    seeds = run.pick([0, 1, 2], [0])
    rounds = run.pick({256: 60, 4096: 12}, {256: 3})
    medians = {}  # (seed, threads, batch) -> {"variant|role": ms}
    kernel_threads = set()
    for seed in seeds:
        for threads in counts:
            for batch, n in rounds.items():
                result = run_worker(sys.executable, "scaling", str(batch), str(n), str(threads), str(seed))
                medians[seed, threads, batch] = result["median_ms"]
                kernel_threads.add(result["kernel_threads"])
        print(f"threads_speed: repeat {seed} done", flush=True)

    def ms(seed, threads, batch, variant, role):
        return medians[seed, threads, batch][f"{variant}|{role}"]

    rows = []
    for variant in VARIANTS:
        for batch in rounds:
            for threads in counts:
                kan = [ms(s, threads, batch, variant, "ours") for s in seeds]
                mlp = [ms(s, threads, batch, variant, "mlp") for s in seeds]
                kan_one = [ms(s, 1, batch, variant, "ours") for s in seeds]
                mlp_one = [ms(s, 1, batch, variant, "mlp") for s in seeds]

                def ratios(a, b):
                    return " / ".join(f"{x / y:.2f}" for x, y in zip(a, b))

                rows.append([variant, threads, batch, round(statistics.median(kan), 2), round(statistics.median(mlp), 2),
                             ratios(kan, mlp), ratios(kan, kan_one), ratios(mlp, mlp_one)])
    checks = []
    for variant in VARIANTS:
        for threads in sorted({1, default}):
            for batch in rounds:
                checks.append(Check(f"{variant}: KAN step <= {TARGETS[batch]}x the MLP's, batch {batch}, "
                                    f"{threads} thread{'s' if threads > 1 else ''}",
                                    ours=[ms(s, threads, batch, variant, "ours") / ms(s, threads, batch, variant, "mlp")
                                          for s in seeds], versus=TARGETS[batch], better="lower"))
        if 2 in counts and 4096 in rounds:
            checks.append(Check(f"{variant}: two threads <= {TWO_THREAD_TARGET}x one thread's time, batch 4096",
                                ours=[ms(s, 2, 4096, variant, "ours") / ms(s, 1, 4096, variant, "ours") for s in seeds],
                                versus=TWO_THREAD_TARGET, better="lower"))
    outcomes = [judge_check(c)["outcome"] for c in checks]
    held = [c for c, o in zip(checks, outcomes) if o == "reproduced"]
    missed = [c.name for c, o in zip(checks, outcomes) if o != "reproduced"]
    run.record(
        "threads_speed",
        claim=f"Targets: the KAN step at most {TARGETS[4096]}x the equal-parameter MLP's at batch 4096 and "
              f"{TARGETS[256]}x at batch 256, at one thread and at the default count ({default}); two threads at "
              f"most {TWO_THREAD_TARGET}x one thread's time at batch 4096; on uniform and adapted grids, float32 "
              f"and float64.",
        seeds=seeds, checks=checks,
        summary=f"{len(held)} of {len(checks)} targets met on every repeat. "
                + (f"Missed on at least one repeat: {'; '.join(missed)}. " if missed else "")
                + f"The fused kernels ran on {', '.join(sorted(str(k) for k in kernel_threads))}. Per-repeat ratios "
                  "in the table; a repeat is a fresh process with its own inputs. The MLP's own thread scaling "
                  "(last column) is what the machine's BLAS gets from its cores: the reference for the KAN's.",
        setup=f"train step = zero grads + forward + mean-square loss + backward; KAN [64,128,128,10], G=5, k=3 "
              f"(paper initialisation, coefficients N(0, 0.1^2)); MLP [64,472,472,10] SiLU; thread counts "
              f"{counts} on a machine with {cores} cores; the five models interleaved step by step in one "
              f"process per (repeat, threads, batch); medians of {rounds} rounds; the adapted grid from "
              f"update_grid on 4096 fresh samples of the timing inputs' distribution (uniform on [-1, 1]).",
        table={"columns": ["variant", "threads", "batch", "KAN ms (median)", "MLP ms (median)",
                           "KAN / MLP per repeat", "KAN / KAN at 1 thread per repeat",
                           "MLP / MLP at 1 thread per repeat"], "rows": rows},
        data={"medians_ms": {f"{s}|{t}|{b}": v for (s, t, b), v in medians.items()}, "cores": cores,
              "default_threads": default},
    )
