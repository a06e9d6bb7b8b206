"""Speed of `memory-networks`: one training step (the margin ranking loss of Eq. 6-8, forward and
backward) and inference (k hops of argmax retrieval, with the write-time winner loop, and the
response) on a batch of 32 stories of `memory-networks/babi-qa2`, against the zoo's `memn2n` (its
default 3 hops, d = 20) on the same stories (cross entropy forward+backward; forward), interleaved,
at 1 thread and at the default thread count.

    zoo reproduce memory-networks --part perf
"""

from __future__ import annotations

import time

import torch
import torch.nn.functional as F

import zoo
from zoo.reproduce import Run
from zoo.timing import interleaved, medians

BATCH = 32


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def reproduce(run: Run) -> None:
    rounds = run.pick(30, 2)
    default_threads = torch.get_num_threads()
    task = zoo.get_task("memory-networks/babi-qa2")
    story, query, answer, facts = task.splits()["train"][list(range(BATCH))]
    torch.manual_seed(0)
    memnn = zoo.create("memory-networks", task=task)
    memn2n = zoo.create("memn2n", task=task)

    def memnn_train():
        memnn.zero_grad()
        memnn.ranking_loss(story, query, answer, facts).backward()

    def memn2n_train():
        memn2n.zero_grad()
        F.cross_entropy(memn2n(story, query), answer).backward()

    def inference(model):
        with torch.no_grad():
            model(story, query)

    runs = {"memory-networks train step": lambda: timed(memnn_train),
            "memn2n train step": lambda: timed(memn2n_train),
            "memory-networks inference": lambda: timed(lambda: inference(memnn)),
            "memn2n inference": lambda: timed(lambda: inference(memn2n))}
    results, rows = {}, []
    for threads in sorted({1, default_threads}):
        torch.set_num_threads(threads)
        med = medians(interleaved(runs, rounds, warmup=2))
        results[threads] = med
        for name, value in med.items():
            rows.append([threads, name, f"{value * 1e3:.2f}"])
    torch.set_num_threads(default_threads)
    one = results[1]
    summary = (f"Batch {BATCH} of qa2 stories (memory 50), 1 thread: memory-networks (k=2, n=50, time features) "
               f"train step {one['memory-networks train step'] * 1e3:.2f} ms and inference "
               f"{one['memory-networks inference'] * 1e3:.2f} ms; memn2n (3 hops, d=20) "
               f"{one['memn2n train step'] * 1e3:.2f} ms and {one['memn2n inference'] * 1e3:.2f} ms. The memory "
               f"network scores every pair of memories (s_Ot) at each hop and runs O's winner loop over the 50 "
               f"slots one by one, which memn2n's softmax attention does not need. Medians of {rounds} interleaved "
               f"rounds.")
    print(summary)
    run.record("perf", claim="training step and inference time against the zoo's memn2n on the same task",
               verdict="measured", summary=summary,
               setup=f"CPU, threads 1 and {default_threads}, batch {BATCH} of memory-networks/babi-qa2, "
                     f"{rounds} interleaved rounds, medians",
               table={"columns": ["threads", "run", "median ms"], "rows": rows},
               data={str(k): v for k, v in results.items()})
