"""Speed of `prototype-net`: one forward+backward of the paper's MNIST network on its four-term objective
(encoder, decoder, 15 prototypes; batch 250, 1x28x28) against the standard CNN of the same encoder on
cross entropy alone (the paper's baseline), interleaved, at 1 thread and at the default thread count.

    zoo reproduce prototype-net --part perf
"""

from __future__ import annotations

import time

import torch
import torch.nn.functional as F

import zoo
from zoo.reproduce import Run
from zoo.timing import interleaved, medians
from zoo_plugins.prototype_net.model import StandardCNN

BATCH = 250


def proto_step(model, x, y) -> float:
    model.zero_grad(set_to_none=True)
    start = time.perf_counter()
    model.losses(x, y)["loss"].backward()
    return time.perf_counter() - start


def cnn_step(model, x, y) -> float:
    model.zero_grad(set_to_none=True)
    start = time.perf_counter()
    F.cross_entropy(model(x), y).backward()
    return time.perf_counter() - start


def reproduce(run: Run) -> None:
    rounds = run.pick(5, 1)
    torch.manual_seed(0)
    proto = zoo.create("prototype-net")
    cnn = StandardCNN(proto.config)
    x, y = torch.rand(BATCH, 1, 28, 28), torch.randint(0, 10, (BATCH,))
    default_threads = torch.get_num_threads()
    results = {}
    for threads in (1, default_threads):
        torch.set_num_threads(threads)
        results[threads] = medians(interleaved({"prototype-net (4 terms)": lambda: proto_step(proto, x, y),
                                                "standard CNN (cross entropy)": lambda: cnn_step(cnn, x, y)}, rounds))
    rows = [[t, name, f"{v * 1e3:.2f}", f"{v / med['standard CNN (cross entropy)']:.2f}"]
            for t, med in results.items() for name, v in med.items()]
    one = results[1]
    ratio = one["prototype-net (4 terms)"] / one["standard CNN (cross entropy)"]
    summary = (f"Batch {BATCH} of 1x28x28, 1 thread: prototype-net forward+backward on its four-term objective "
               f"{one['prototype-net (4 terms)'] * 1e3:.1f} ms against {one['standard CNN (cross entropy)'] * 1e3:.1f} ms "
               f"for the standard CNN (ratio {ratio:.2f}). At "
               f"{default_threads} threads: see the table. Medians of {rounds} interleaved rounds on a shared machine.")
    print(summary)
    run.record("perf", claim="cost of a training step of the prototype network against the standard CNN of the "
                             "same encoder",
               verdict="measured", summary=summary,
               setup=f"default config (the paper's MNIST network: 4 conv layers, 15 prototypes), batch {BATCH}, random "
                     f"inputs; threads 1 and {default_threads}; interleaved rounds, medians.",
               table={"columns": ["threads", "model", "median ms", "ratio to the CNN"], "rows": rows},
               data={str(t): m for t, m in results.items()})
