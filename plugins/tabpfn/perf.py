"""Speed of `tabpfn`: (1) forward+backward of the tiny TabPFN (batch 8 datasets of 80 training and
20 query rows, 10 features) against the `pfn` transformer it is built on, given the same inputs
already standardised and padded: the ratio is the cost of TabPFN's input handling; at 1 thread and
the default count. (2) The paper's point (Sec. 5: "in a second"): classifying one table (breast
cancer, 80 training rows, 10 features, the other 489 rows scored) with TabPFN (1 and 32 ensemble
members) against fitting and predicting with a grid-searched HistGradientBoosting, as in `repro`.
Interleaved rounds, medians.

    zoo reproduce tabpfn --part perf --out plugins/tabpfn
"""

from __future__ import annotations

import time

import torch
import torch.nn.functional as F

import zoo
from zoo.reproduce import Run
from zoo.timing import interleaved, medians

BATCH, N_TRAIN, N_QUERY, FEATURES = 8, 80, 20, 10


def step(fn, target) -> float:
    start = time.perf_counter()
    logits = fn()
    F.cross_entropy(logits.reshape(-1, logits.shape[-1]), target.reshape(-1)).backward()
    return time.perf_counter() - start


def reproduce(run: Run) -> None:
    from sklearn.model_selection import train_test_split
    from threadpoolctl import threadpool_limits

    from .inference import classify
    from .model import standardise_and_pad
    from .repro import load_table, tuned_hgb

    rounds, table_rounds = run.pick((20, 3), (2, 1))
    default_threads = torch.get_num_threads()
    torch.manual_seed(0)
    model = zoo.create("tabpfn", variant="tiny")
    x, q = torch.randn(BATCH, N_TRAIN, FEATURES), torch.randn(BATCH, N_QUERY, FEATURES)
    y, yq = torch.randint(0, 3, (BATCH, N_TRAIN)), torch.randint(0, 3, (BATCH, N_QUERY))
    xp, qp = standardise_and_pad(x, q, torch.full((BATCH,), FEATURES), FEATURES)
    with torch.no_grad():
        torch.testing.assert_close(model(x, y, q), model.backbone(xp, y.float(), qp))
    step_ms = {}
    for threads in sorted({1, default_threads}):
        torch.set_num_threads(threads)
        med = medians(interleaved({"tabpfn": lambda: step(lambda: model(x, y, q), yq),
                                   "pfn backbone, inputs prepared": lambda: step(
                                       lambda: model.backbone(xp, y.float(), qp), yq)}, rounds))
        step_ms[threads] = {k: v * 1e3 for k, v in med.items()}
    torch.set_num_threads(1)
    xs, ys = load_table("breast-cancer")
    xt, xq, yt, _ = train_test_split(xs, ys, train_size=N_TRAIN, stratify=ys, random_state=0)

    def timed(fn):
        def go() -> float:
            start = time.perf_counter()
            fn()
            return time.perf_counter() - start
        return go

    with threadpool_limits(1):
        table = medians(interleaved({
            "TabPFN, 1 forward pass": timed(lambda: classify(model, xt, yt, xq, ensemble=1)),
            "TabPFN, 32-member ensemble": timed(lambda: classify(model, xt, yt, xq, ensemble=32)),
            "tuned HGB (grid search + predict)": timed(lambda: tuned_hgb(xt, yt, 0).predict_proba(xq))},
            table_rounds, warmup=0))
    one = step_ms[1]
    ratio = one["tabpfn"] / one["pfn backbone, inputs prepared"]
    summary = (f"Forward+backward, tiny config, {BATCH} datasets x ({N_TRAIN} + {N_QUERY}) rows, 1 thread: TabPFN "
               f"{one['tabpfn']:.2f} ms, the pfn backbone on prepared inputs "
               f"{one['pfn backbone, inputs prepared']:.2f} "
               f"ms (ratio {ratio:.3f}; same outputs, checked). One table (breast cancer, {N_TRAIN} training rows): "
               + ", ".join(f"{k} {v:.3f} s" for k, v in table.items()) + ".")
    print(summary)
    rows = [[f"fwd+bwd, {t} thread(s)", k, f"{v:.2f} ms"] for t, d in step_ms.items() for k, v in d.items()]
    rows += [["one table, 1 thread", k, f"{v:.3f} s"] for k, v in table.items()]
    run.record(
        "perf", claim="TabPFN's input handling costs little beside its transformer, and classifying a small table "
                      "takes a fraction of the time of tuning boosted trees (Sec. 5)",
        verdict="measured", summary=summary,
        setup=f"variant tiny (untrained weights; speed does not depend on them). fwd+bwd: {rounds} interleaved rounds, "
              f"medians, at 1 and {default_threads} threads. Table: {table_rounds} interleaved rounds, 1 thread, the "
              f"HGB grid of repro.py; a shared 2-core machine, so absolute times are loose.",
        table={"columns": ["what", "implementation", "median"], "rows": rows},
        data={"step_ms": {str(k): v for k, v in step_ms.items()}, "table_s": table, "ratio_1_thread": ratio},
    )
