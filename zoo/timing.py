"""Same-run timing shared by the perf scripts: runs called in turn, so that load on the shared
machine hits every side alike, and medians of their seconds."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable


def seconds(fn: Callable[[], object]) -> float:
    """Wall-clock seconds of one call."""
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def fwd_bwd_seconds(fn: Callable, model, x) -> float:
    """Seconds of ``fn(x).square().mean().backward()``; `model`'s gradients are cleared first, untimed."""
    model.zero_grad(set_to_none=True)
    return seconds(lambda: fn(x).square().mean().backward())


def interleaved(runs: dict[str, Callable[[], float]], rounds: int, warmup: int = 1) -> dict[str, list[float]]:
    """Each run's seconds over `rounds` rounds, the runs called in turn (A, B, C, A, B, C, ...) after
    `warmup` untimed rounds. A run returns its own seconds, so that set-up stays out of the timing."""
    for _ in range(warmup):
        for run in runs.values():
            run()
    times = {name: [] for name in runs}
    for _ in range(rounds):
        for name, run in runs.items():
            times[name].append(run())
    return times


def medians(times: dict[str, list[float]]) -> dict[str, float]:
    return {name: statistics.median(values) for name, values in times.items()}


def method_overhead(make_model: Callable[[], object], task, methods: Callable[[], list], *, steps: int = 20,
                    rounds: int = 5, **train_options) -> dict:
    """A training method's cost against plain training, measured in the same run.

    Each round trains a fresh ``make_model()`` for `steps` optimizer steps on `task` twice, plain
    and with ``methods()`` (a fresh list each time: methods keep per-run state), the two runs in
    turn, with evaluation off so that only training is timed. Returns the median seconds per step of
    each side and their ratio (with / plain: 1.0 means no overhead) at the current thread count.
    """
    from .training.loop import train

    options = {"epochs": 10**6, "max_steps": steps, "eval_splits": [], "final_splits": [],
               "progress": False, **train_options}

    def timed(with_methods: bool) -> Callable[[], float]:
        def run() -> float:
            model = make_model()
            chosen = methods() if with_methods else []
            return seconds(lambda: train(model, task, methods=chosen, **options)) / steps
        return run

    times = medians(interleaved({"plain": timed(False), "method": timed(True)}, rounds))
    import torch

    return {"plain_step_s": times["plain"], "method_step_s": times["method"],
            "ratio": times["method"] / times["plain"], "steps": steps, "rounds": rounds,
            "threads": torch.get_num_threads()}


def overhead_at_threads(make_model: Callable[[], object], task, methods: Callable[[], list],
                        threads: tuple[int, ...] | None = None, **options) -> dict[int, dict]:
    """`method_overhead` at each thread count (default: the machine's, then 1), the thread count
    restored afterwards: {threads: result}."""
    import torch

    default = torch.get_num_threads()
    measured = {}
    try:
        for count in threads or (default, 1):
            torch.set_num_threads(count)
            measured[count] = method_overhead(make_model, task, methods, **options)
    finally:
        torch.set_num_threads(default)
    return measured


def overhead_table(measured: dict[int, dict], baseline: str = "plain", method: str = "method") -> tuple[dict, str]:
    """A record's table and summary sentence for `overhead_at_threads` results."""
    rows = [[count, f"{m['plain_step_s'] * 1e3:.2f}", f"{m['method_step_s'] * 1e3:.2f}", f"{m['ratio']:.2f}"]
            for count, m in measured.items()]
    table = {"columns": ["threads", f"{baseline} ms/step", f"{method} ms/step", "ratio"], "rows": rows}
    summary = "; ".join(f"{count} thread(s): {baseline} {m['plain_step_s'] * 1e3:.2f} ms/step, {method} "
                        f"{m['method_step_s'] * 1e3:.2f} ms/step (x{m['ratio']:.2f})" for count, m in measured.items())
    return table, summary
