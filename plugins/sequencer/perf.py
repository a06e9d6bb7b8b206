"""sequencer forward+backward against timm's Sequencer2d (same weights) and against MLP-Mixer.

The zoo model is timm's `Sequencer2d` configured from the typed config, plus an input check, so the
expected ratio to timm is 1. Timed in alternation (zoo.timing.interleaved, medians), at 1 thread and
at torch's default thread count: the default variant (Sequencer2D-S at 224, batch 2, against timm's
registered `sequencer2d_s`) and the `digits` variant (batch 256, against timm's Sequencer2d built
with the same arguments and against the zoo's MLP-Mixer `digits` variant of similar size, the
paper's other point of comparison: BiLSTM token mixing against MLP token mixing).

    zoo reproduce sequencer --part perf
"""

from __future__ import annotations

import timm
import torch
from timm.models.sequencer import Sequencer2d

import zoo
from zoo.reproduce import Run
from zoo.timing import fwd_bwd_seconds, interleaved, medians
from zoo_plugins.mlp_mixer.perf import same_weights


def timed(models: dict, x: torch.Tensor, rounds: int) -> dict:
    """Median fwd+bwd milliseconds of each model on `x`, timed in alternation."""
    times = interleaved({name: (lambda m=m: fwd_bwd_seconds(m, m, x)) for name, m in models.items()}, rounds)
    return {"ms": {name: 1e3 * t for name, t in medians(times).items()}, "times_s": times}


def reproduce(run: Run) -> None:
    rounds = run.pick(3, 1)
    default_threads = torch.get_num_threads()
    torch.manual_seed(0)
    small = zoo.create("sequencer", variant="digits")
    c = small.config
    small_timm = same_weights(small, Sequencer2d(num_classes=10, in_chans=1, layers=c.layers, patch_sizes=c.patch_sizes,
                                                 embed_dims=c.embed_dims, hidden_sizes=c.hidden_sizes,
                                                 mlp_ratios=c.mlp_ratios))
    mixer = zoo.create("mlp-mixer", variant="digits")
    batch = run.pick(256, 16)
    digits_x = torch.rand(batch, 1, 8, 8)
    big = zoo.create("sequencer") if not run.quick else None
    results, rows = {}, []
    for threads in run.pick(sorted({1, default_threads}), [1]):
        torch.set_num_threads(threads)
        digits = timed({"zoo": small, "timm": small_timm, "mixer": mixer}, digits_x, rounds * 3)
        results[f"digits_{threads}"] = digits
        rows.append([f"digits, batch {batch}, {threads} thread(s)", *(round(digits["ms"][k], 1) for k in ("zoo", "timm")),
                     round(digits["ms"]["zoo"] / digits["ms"]["timm"], 3), round(digits["ms"]["mixer"], 1),
                     round(digits["ms"]["zoo"] / digits["ms"]["mixer"], 2)])
        if big is not None:
            reference = same_weights(big, timm.create_model("sequencer2d_s"))
            s = timed({"zoo": big, "timm": reference}, torch.rand(2, 3, 224, 224), rounds)
            results[f"s224_{threads}"] = s
            rows.append([f"S at 224 (default), batch 2, {threads} thread(s)", round(s["ms"]["zoo"]),
                         round(s["ms"]["timm"]), round(s["ms"]["zoo"] / s["ms"]["timm"], 3), "-", "-"])
    torch.set_num_threads(default_threads)
    summary = "; ".join(f"{r[0]}: zoo {r[1]} ms, timm {r[2]} ms (ratio {r[3]})"
                        + (f", Mixer {r[4]} ms (Sequencer/Mixer {r[5]})" if r[4] != "-" else "") for r in rows)
    run.record(
        "perf_forward_backward",
        claim="sequencer forward+backward costs the same as timm's Sequencer2d on the same weights (ratio ~1); "
              "measured beside the MLP-Mixer of similar size.",
        verdict="measured",
        summary=(summary + ". The zoo model is timm's network, so the ratio to timm is 1 up to timing noise; the "
                 "BiLSTMs (sequential over the 4 rows and columns, many small matmuls) make Sequencer several "
                 "times slower than the Mixer of similar size on CPU."),
        setup=(f"same weights for zoo and timm; medians of {rounds * 3} (digits) and {rounds} (S at 224) interleaved "
               f"rounds after one warmup round; loss = mean of squared logits; threads 1 and {default_threads} "
               "(torch default) on a shared machine"),
        table={"columns": ["config", "zoo ms", "timm ms", "zoo/timm", "Mixer ms", "Sequencer/Mixer"], "rows": rows},
        data=results,
    )
    print(summary)
