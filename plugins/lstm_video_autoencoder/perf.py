"""Speed of `lstm-video-autoencoder`: one training step (forward, pixel cross entropy, backward) of the
composite model of the reproduction (16x16 frames, 128 LSTM units, 10 input + 10 future frames,
batch 32) against the encoder LSTM alone on the same input (what a plain LSTM sequence model costs),
and the autoencoder and future predictor alone, interleaved, at 1 thread and at the default count.
The composite model runs three LSTMs over 10 steps each, so about 3x the encoder is the expected cost.

    zoo reproduce lstm-video-autoencoder --part perf
"""

from __future__ import annotations

import time

import torch

import zoo
from zoo.reproduce import Run
from zoo.timing import interleaved, medians

from .model import composite_loss

BATCH, FRAME, HIDDEN = 32, 16, 128


def composite_step(model, frames, future) -> float:
    model.zero_grad(set_to_none=True)
    start = time.perf_counter()
    composite_loss(model(frames, future), frames, future).backward()
    return time.perf_counter() - start


def encoder_step(model, frames) -> float:
    model.zero_grad(set_to_none=True)
    start = time.perf_counter()
    out, _ = model.encoder(frames.flatten(2))
    out.square().mean().backward()
    return time.perf_counter() - start


def reproduce(run: Run) -> None:
    rounds = run.pick(5, 1)
    default_threads = torch.get_num_threads()
    torch.manual_seed(0)
    size = {"frame_size": FRAME, "hidden_size": HIDDEN}
    models = {"composite": zoo.create("lstm-video-autoencoder", **size),
              "autoencoder only": zoo.create("lstm-video-autoencoder", variant="autoencoder", **size),
              "future predictor only": zoo.create("lstm-video-autoencoder", variant="future-predictor", **size)}
    frames, future = torch.rand(BATCH, 10, FRAME, FRAME), torch.rand(BATCH, 10, FRAME, FRAME)
    runs = {k: (lambda m=m: composite_step(m, frames, future)) for k, m in models.items()}
    runs["encoder LSTM alone"] = lambda: encoder_step(models["composite"], frames)
    measured, rows = {}, []
    for threads in sorted({1, default_threads}):
        torch.set_num_threads(threads)
        measured[threads] = med = medians(interleaved(runs, rounds))
        rows += [[threads, k, f"{v * 1e3:.1f}", f"{v / med['encoder LSTM alone']:.2f}"] for k, v in med.items()]
    one = measured[1]
    summary = (f"Training step (forward + loss + backward), batch {BATCH}, {FRAME}x{FRAME} frames, {HIDDEN} units, "
               f"1 thread: composite model {one['composite'] * 1e3:.1f} ms, encoder LSTM alone "
               f"{one['encoder LSTM alone'] * 1e3:.1f} ms (ratio {one['composite'] / one['encoder LSTM alone']:.2f}); "
               f"autoencoder only {one['autoencoder only'] * 1e3:.1f} ms, future predictor only "
               f"{one['future predictor only'] * 1e3:.1f} ms. Median of {rounds} interleaved rounds; the table also has "
               f"{default_threads} thread(s).")
    print(summary)
    run.record(
        "perf", claim="training-step cost of the composite model against the encoder LSTM alone",
        verdict="measured", summary=summary,
        setup=f"batch {BATCH}, 10 input + 10 future frames of {FRAME}x{FRAME}, {HIDDEN} LSTM units, unconditioned "
              f"decoders; interleaved rounds, medians; 1 and {default_threads} thread(s).",
        table={"columns": ["threads", "model", "median ms", "ratio to encoder alone"], "rows": rows},
        data={"medians_s": {str(t): v for t, v in measured.items()}},
    )
