"""mlp-kan forward+backward against the obvious reference, as a same-run interleaved ratio.

The reference computes the mixture densely: every expert on every token, each output weighted by
its routing weight (zero for experts a token is not routed to); same weights, so outputs agree.
The zoo's layer runs each expert only on its routed tokens. timm's ViT of the same size with a
plain MLP is timed too, for context. Config: the `digits` variant (8x8 images, 17 tokens), batch 128.

    zoo reproduce mlp-kan --part perf
"""

from __future__ import annotations

from unittest.mock import patch

import torch

import zoo
from zoo.reproduce import Run
from zoo.timing import fwd_bwd_seconds, interleaved, medians

from .model import MoEFeedForward


def dense_moe(self: MoEFeedForward, x: torch.Tensor) -> torch.Tensor:
    tokens = x.reshape(-1, x.shape[-1])
    weights, chosen = self.routing(tokens)
    full = torch.zeros(tokens.shape[0], len(self.experts), dtype=tokens.dtype).scatter(1, chosen, weights)
    out = sum(full[:, e, None] * expert(tokens) for e, expert in enumerate(self.experts))
    return out.reshape(x.shape)


def dense_mixture():
    """The model's MoEFeedForward replaced by the reference for the duration of a with block."""
    return patch.object(MoEFeedForward, "forward", dense_moe)


def step_time(model, x, dense: bool = False) -> float:
    if not dense:
        return fwd_bwd_seconds(model, model, x)
    with dense_mixture():
        return fwd_bwd_seconds(model, model, x)


def reproduce(run: Run) -> None:
    from timm.models.vision_transformer import VisionTransformer

    ROUNDS = run.pick(7, 1)
    torch.set_num_threads(1)  # one thread: 2 OpenMP threads on the shared 2-core machine thrash
    torch.manual_seed(0)
    model = zoo.create("mlp-kan", variant="digits")
    vit = VisionTransformer(img_size=8, patch_size=2, in_chans=1, num_classes=10, embed_dim=32, depth=2,
                            num_heads=2, mlp_ratio=2.0)
    x = torch.rand(128, 1, 8, 8)
    with torch.no_grad():
        routed = model(x)
        with dense_mixture():
            max_diff = float((routed - model(x)).abs().max())
    ref = "reference (dense mixture)"
    runs = {"zoo mlp-kan (routed)": lambda: step_time(model, x), ref: lambda: step_time(model, x, dense=True),
            "timm ViT, plain MLP (context)": lambda: step_time(vit, x)}
    times = interleaved(runs, ROUNDS)
    med = medians(times)
    rows = [[name, round(med[name] * 1e3, 2), round(med[name] / med[ref], 3)] for name in runs]
    run.record(
        "perf_forward_backward",
        claim="mlp-kan forward+backward no more than 1.2x the time of the straightforward reference.",
        verdict="measured",
        summary=(f"routed mixture {med['zoo mlp-kan (routed)'] * 1e3:.1f} ms vs dense mixture {med[ref] * 1e3:.1f} ms "
                 f"per training step: ratio {med['zoo mlp-kan (routed)'] / med[ref]:.2f} (same outputs, max |diff| "
                 f"{max_diff:.1e}). A same-size timm ViT with one plain MLP per block takes "
                 f"{med['timm ViT, plain MLP (context)'] * 1e3:.1f} ms: MLP-KAN's 8 experts per block, half of them "
                 "KANs, cost more by construction."),
        setup=f"digits variant (embed 32, 2 blocks, 8 experts top-2, 17 tokens); batch 128; median of {ROUNDS} interleaved rounds, 1 thread",
        table={"columns": ["implementation", "ms per fwd+bwd (median)", "ratio to reference"], "rows": rows},
        data={"times_s": times, "max_abs_diff": max_diff},
    )
    print(rows, f"max diff {max_diff:.1e}")
