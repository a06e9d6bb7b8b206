"""Speed of `k-sparse-ae`: forward+backward of the paper's MNIST-size model (784 -> 1000 -> 784, k = 25,
batch 128, squared error) against the plain tied-weight linear autoencoder of the same size (the same
code without the top-k step), interleaved, at 1 thread and at the default thread count; plus the
sparse encoding (top alpha*k) against the plain linear encoding. The paper calls the encoding "very
fast": it is one matmul and a top-k.

    zoo reproduce k-sparse-ae --part perf
"""

from __future__ import annotations

import time

import torch

import zoo
from zoo.reproduce import Run
from zoo.timing import interleaved, medians

BATCH = 128


def train_step(model, x, k: int | None) -> float:
    """One forward+backward of E; k=None: the plain linear autoencoder (no top-k at all)."""
    model.zero_grad(set_to_none=True)
    start = time.perf_counter()
    x_hat = model.decode(model.hidden(x)) if k is None else model.reconstruct(x, k)
    (x_hat - x).pow(2).sum(-1).mean().backward()
    return time.perf_counter() - start


def encode_step(fn, x) -> float:
    start = time.perf_counter()
    with torch.no_grad():
        fn(x)
    return time.perf_counter() - start


def measure(model, x, rounds: int) -> dict:
    runs = {"k-sparse fwd+bwd (k=25)": lambda: train_step(model, x, model.config.k),
            "linear AE fwd+bwd (all 1000 units)": lambda: train_step(model, x, None),
            "sparse encoding (top 75)": lambda: encode_step(model.encode, x),
            "linear encoding": lambda: encode_step(model.hidden, x)}
    return medians(interleaved(runs, rounds))


def reproduce(run: Run) -> None:
    rounds = run.pick(10, 2)
    torch.manual_seed(0)
    model = zoo.create("k-sparse-ae")
    x = torch.rand(BATCH, 784)
    default_threads = torch.get_num_threads()
    results = {}
    for threads in (1, default_threads):
        torch.set_num_threads(threads)
        results[threads] = measure(model, x, rounds)
    rows = []
    for threads, med in results.items():
        base_train, base_enc = med["linear AE fwd+bwd (all 1000 units)"], med["linear encoding"]
        for name, value in med.items():
            ref = base_train if "fwd+bwd" in name else base_enc
            rows.append([threads, name, f"{value * 1e3:.3f}", f"{value / ref:.2f}"])
    one = results[1]
    summary = (f"Batch {BATCH}, 784 -> 1000 -> 784, 1 thread: k-sparse forward+backward "
               f"{one['k-sparse fwd+bwd (k=25)'] * 1e3:.2f} ms against {one['linear AE fwd+bwd (all 1000 units)'] * 1e3:.2f} "
               f"ms for the plain linear autoencoder (ratio {one['k-sparse fwd+bwd (k=25)'] / one['linear AE fwd+bwd (all 1000 units)']:.2f}); "
               f"sparse encoding {one['sparse encoding (top 75)'] * 1e3:.3f} ms against {one['linear encoding'] * 1e3:.3f} ms "
               f"for the linear one. At {default_threads} threads: see the table. Medians of {rounds} interleaved rounds "
               f"on a shared machine.")
    print(summary)
    run.record("perf", claim="cost of the top-k step: forward+backward and encoding of the k-sparse autoencoder "
                             "against the plain linear autoencoder of the same size",
               verdict="measured", summary=summary,
               setup=f"default config (784 inputs, 1000 hidden, k = 25, alpha = 3), batch {BATCH}, random inputs in "
                     f"[0, 1); threads 1 and {default_threads}; interleaved rounds, medians.",
               table={"columns": ["threads", "step", "median ms", "ratio to the linear AE"], "rows": rows},
               data={str(t): m for t, m in results.items()})
