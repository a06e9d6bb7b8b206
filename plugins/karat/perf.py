"""karat forward+backward against the obvious reference, as a same-run interleaved ratio.

The reference evaluates the Fourier-KArAt operator as written: cos and sin features of every score
and frequency, contracted with the coefficients by one einsum over (token, frequency) per head,
then the projection and the l1 row norm; same weights, so outputs agree. The zoo's operator
flattens (token, frequency) and uses matmuls. timm's softmax ViT of the same size is timed for
context (the paper states KArAt is not meant to be cheaper). Config: the `digits` variant, batch 128.

    zoo reproduce karat --part perf
"""

from __future__ import annotations

from unittest.mock import patch

import torch

import zoo
from zoo.reproduce import Run
from zoo.timing import fwd_bwd_seconds, interleaved, medians

from .model import FourierKArAtOperator, vit_kwargs


def einsum_operator(self: FourierKArAtOperator, scores: torch.Tensor) -> torch.Tensor:
    angles = scores.unsqueeze(-1) * self.frequencies  # (b, h, i, q, g)
    coef = self.coef.reshape(self.coef.shape[0], self.num_tokens, 2, self.grid, -1)  # (h, q, cos/sin, g, r)
    hidden = (torch.einsum("bhiqg,hqgr->bhir", angles.cos(), coef[:, :, 0])
              + torch.einsum("bhiqg,hqgr->bhir", angles.sin(), coef[:, :, 1]))
    rows = torch.einsum("bhir,hrn->bhin", hidden, self.projection)
    return rows / rows.abs().sum(-1, keepdim=True).clamp_min(1e-6)


def reference_operator():
    """The model's FourierKArAtOperator replaced by the reference for the duration of a with block."""
    return patch.object(FourierKArAtOperator, "forward", einsum_operator)


def step_time(model, x, reference: bool = False) -> float:
    if not reference:
        return fwd_bwd_seconds(model, model, x)
    with reference_operator():
        return fwd_bwd_seconds(model, model, x)


def reproduce(run: Run) -> None:
    from timm.models.vision_transformer import VisionTransformer

    ROUNDS = run.pick(9, 1)
    torch.set_num_threads(1)  # one thread: 2 OpenMP threads on the shared 2-core machine thrash
    torch.manual_seed(0)
    model = zoo.create("karat", variant="digits")
    vit = VisionTransformer(**vit_kwargs(model.zoo_identity.config))
    x = torch.rand(128, 1, 8, 8)
    with torch.no_grad():
        fast = model(x)
        with reference_operator():
            max_diff = float((fast - model(x)).abs().max())
    ref = "reference (einsum as written)"
    runs = {"zoo karat": lambda: step_time(model, x), ref: lambda: step_time(model, x, reference=True),
            "timm softmax ViT (context)": lambda: step_time(vit, x)}
    times = interleaved(runs, ROUNDS)
    med = medians(times)
    rows = [[name, round(med[name] * 1e3, 2), round(med[name] / med[ref], 3)] for name in runs]
    run.record(
        "perf_forward_backward",
        claim="karat forward+backward no more than 1.2x the time of the straightforward reference.",
        verdict="measured",
        summary=(f"zoo karat {med['zoo karat'] * 1e3:.1f} ms vs the einsum reference {med[ref] * 1e3:.1f} ms per "
                 f"training step: ratio {med['zoo karat'] / med[ref]:.2f} (same outputs, max |diff| {max_diff:.1e}). "
                 f"timm's softmax ViT of the same size: {med['timm softmax ViT (context)'] * 1e3:.1f} ms; the "
                 "learnable operator evaluates 2G basis functions per attention score."),
        setup=f"digits variant (embed 32, depth 4, heads 2, 17 tokens, G=3, r=12, blockwise); batch 128; median of {ROUNDS} interleaved rounds, 1 thread",
        table={"columns": ["implementation", "ms per fwd+bwd (median)", "ratio to reference"], "rows": rows},
        data={"times_s": times, "max_abs_diff": max_diff},
    )
    print(rows, f"max diff {max_diff:.1e}")
