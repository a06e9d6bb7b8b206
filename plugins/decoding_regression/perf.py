"""Speed of `decoding-regression`: (1) a training step's forward+backward of the decoder head
(teacher-forced token cross entropy) against the MSE head on the same encoder, and (2) the point
prediction (mean of 64 sampled sequences) against the MSE head's forward, diabetes-sized input (10
features), batch 256, 1 thread; interleaved rounds, medians, as ratios.

    zoo reproduce decoding-regression --part perf
"""

from __future__ import annotations

import time

import torch
import torch.nn.functional as F

import zoo
from zoo.reproduce import Run
from zoo.timing import interleaved, medians

BATCH, FEATURES = 256, 10


def reproduce(run: Run) -> None:
    rounds = run.pick(20, 2)
    torch.set_num_threads(1)  # two OpenMP threads on the shared 2-core machine thrash
    torch.manual_seed(0)
    decoder = zoo.create("decoding-regression", d_in=FEATURES)
    head = zoo.create("decoding-regression", d_in=FEATURES, head="mse")
    x, y = torch.randn(BATCH, FEATURES), torch.randn(BATCH).clamp(-3.9, 3.9)
    tokens = decoder.tokenizer.encode(y)

    def decoder_step() -> float:
        decoder.zero_grad(set_to_none=True)
        start = time.perf_counter()
        (-decoder.log_prob_tokens(x, tokens).mean()).backward()
        return time.perf_counter() - start

    def head_step() -> float:
        head.zero_grad(set_to_none=True)
        start = time.perf_counter()
        F.mse_loss(head(x)[:, 0], y).backward()
        return time.perf_counter() - start

    def predict(model) -> float:
        model.eval()
        start = time.perf_counter()
        with torch.no_grad():
            model(x)
        return time.perf_counter() - start

    med = medians(interleaved({"decoder training step": decoder_step, "MSE head training step": head_step,
                               "decoder prediction (64 samples)": lambda: predict(decoder),
                               "MSE head prediction": lambda: predict(head)}, rounds))
    train_ratio = med["decoder training step"] / med["MSE head training step"]
    predict_ratio = med["decoder prediction (64 samples)"] / med["MSE head prediction"]
    rows = [[name, f"{s * 1e3:.2f}"] for name, s in med.items()]
    summary = (f"1 thread, batch {BATCH}: a decoder training step takes {med['decoder training step'] * 1e3:.1f} ms, "
               f"{train_ratio:.1f}x the MSE head's {med['MSE head training step'] * 1e3:.1f} ms; a point prediction "
               f"from 64 sampled sequences takes {med['decoder prediction (64 samples)'] * 1e3:.0f} ms, "
               f"{predict_ratio:.0f}x the MSE head's forward.")
    print(summary)
    run.record(
        "perf", claim="Cost of the decoder head against the MSE head, in training and in prediction.",
        verdict="measured", summary=summary,
        setup=f"default sizes (encoder 2 x 256, decoder 2 layers of width 64, 4 normalized digits), {rounds} "
              f"interleaved rounds, medians, 1 thread; the machine was shared, so absolute times are loose.",
        table={"columns": ["what", "median (ms)"], "rows": rows},
        data={"seconds": med, "train_ratio": train_ratio, "predict_ratio": predict_ratio},
    )
