"""Speed of `samplernn`: one truncated-BPTT training step (forward + backward of a subsequence) of
the 3-tier SampleRNN against the single-tier RNN over samples on the same sequence length, and the
2-tier model beside them: the paper's point that the upper tiers run at a fraction of the sample
rate, so the hierarchy costs less than an RNN that steps every sample. Two sizes: the
reproduction's (64 units, 88 for the RNN; 64-sample subsequences, batch 32) and a larger one (256
units, the paper's 512-sample subsequences, batch 4). Interleaved rounds, medians, at 1 thread and
at the default thread count.

    zoo reproduce samplernn --part perf
"""

from __future__ import annotations

import time

import torch
import torch.nn.functional as F

import zoo
from zoo.reproduce import Run
from zoo.timing import interleaved, medians

SIZES = {"repro size": {"dims": {"3-tier": 64, "2-tier": 64, "RNN": 88}, "seq_len": 64, "batch": 32, "emb": 16},
         "larger": {"dims": {"3-tier": 256, "2-tier": 256, "RNN": 256}, "seq_len": 512, "batch": 4, "emb": 64}}
FRAMES = {"3-tier": [8, 2], "2-tier": [16], "RNN": [1]}


def step(model, x) -> float:
    start = time.perf_counter()
    logits = model(x)
    F.cross_entropy(logits.reshape(-1, logits.shape[-1]), x[:, model.context:].reshape(-1)).backward()
    return time.perf_counter() - start


def reproduce(run: Run) -> None:
    rounds = run.pick(3, 1)
    sizes = run.pick(SIZES, {"repro size": SIZES["repro size"]})
    default_threads = torch.get_num_threads()
    torch.manual_seed(0)
    rows, data = [], {}
    for size, spec in sizes.items():
        models = {n: zoo.create("samplernn", frame_sizes=FRAMES[n], dim=spec["dims"][n], embedding_dim=spec["emb"],
                                seq_len=spec["seq_len"]) for n in FRAMES}
        x = torch.randint(0, 256, (spec["batch"], 16 + spec["seq_len"]))
        inputs = {n: x[:, 16 - m.context:] for n, m in models.items()}
        for threads in sorted({1, default_threads}):
            torch.set_num_threads(threads)
            med = medians(interleaved({n: (lambda n=n: step(models[n], inputs[n])) for n in models}, rounds))
            data[f"{size}, {threads} thread(s)"] = med
            rows += [[size, threads, n, f"{v * 1e3:.1f}", f"{v / med['RNN']:.2f}"] for n, v in med.items()]
    torch.set_num_threads(default_threads)
    summary = "Training step (fwd+bwd of one subsequence), median ms, " + "; ".join(
        f"{k}: 3-tier {v['3-tier'] * 1e3:.0f}, 2-tier {v['2-tier'] * 1e3:.0f}, RNN over samples {v['RNN'] * 1e3:.0f} "
        f"(3-tier / RNN {v['3-tier'] / v['RNN']:.2f})" for k, v in data.items()) + "."
    print(summary)
    run.record(
        "perf", claim="the 3-tier SampleRNN's training step costs less than a single-tier RNN's over the same "
                      "samples, since its upper tiers step once per frame",
        verdict="measured", summary=summary,
        setup=f"{rounds} interleaved rounds, medians; random 8-bit sequences; weight norm on; 1 and {default_threads} "
              f"threads; a shared machine, so absolute times are loose.",
        table={"columns": ["size", "threads", "model", "median ms", "ratio to RNN"], "rows": rows},
        data={k: {n: v for n, v in d.items()} for k, d in data.items()},
    )
