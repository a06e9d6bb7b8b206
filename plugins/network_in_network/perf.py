"""network-in-network forward+backward against a plain PyTorch reference, as a same-run
interleaved ratio.

No library ships NIN, so the reference is the paper's CIFAR-10 network written the obvious way: one
`nn.Sequential` of its nine convolutions, ReLUs, two max-pools and dropouts, then a mean over the
spatial axes. It gets the zoo model's weights (same outputs). Timed: the default variant (CIFAR-10
network, batch 32 at 32x32) and the `digits` variant (batch 256 at 8x8).

    zoo reproduce network-in-network --part perf
"""

from __future__ import annotations

import torch
from torch import nn

import zoo
from zoo.reproduce import Run
from zoo_plugins.mlp_mixer.perf import compare


def reference_nin(config) -> nn.Module:
    """The mlpconv stack as one flat Sequential, then global average pooling."""
    layers: list[nn.Module] = []
    in_channels, last = config.in_chans, len(config.channels) - 1
    for i, (widths, kernel) in enumerate(zip(config.channels, config.kernel_sizes)):
        widths = list(widths) + ([config.num_classes] if i == last else [])
        for j, width in enumerate(widths):
            layers += [nn.Conv2d(in_channels, width, kernel if j == 0 else 1, padding=kernel // 2 if j == 0 else 0),
                       nn.ReLU(inplace=True)]
            in_channels = width
        if i == last and not config.relu_on_class_maps:
            layers.pop()
        if i < last:
            layers += [nn.MaxPool2d(config.pool_size, config.pool_stride, ceil_mode=True), nn.Dropout(config.dropout)]
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten())


def copy_conv_weights(source: nn.Module, target: nn.Module) -> nn.Module:
    """Give `target`'s convolutions `source`'s weights, in order (both list the same nine convolutions)."""
    pairs = list(zip([m for m in source.modules() if isinstance(m, nn.Conv2d)],
                     [m for m in target.modules() if isinstance(m, nn.Conv2d)], strict=True))
    with torch.no_grad():
        for src, dst in pairs:
            dst.weight.copy_(src.weight)
            dst.bias.copy_(src.bias)
    return target


def reproduce(run: Run) -> None:
    rounds, batch = run.pick(9, 1), run.pick(32, 2)
    torch.set_num_threads(1)  # two OpenMP threads on the shared 2-core machine thrash
    torch.manual_seed(0)
    results = {}
    for label, variant, x in ((f"CIFAR-10 network (default), batch {batch} at 32x32", None,
                               torch.rand(batch, 3, 32, 32)),
                              ("digits, batch 256 at 8x8", "digits", torch.rand(256, 1, 8, 8))):
        model = zoo.create("network-in-network", variant=variant).eval()  # eval: dropout off, same outputs
        reference = copy_conv_weights(model, reference_nin(model.config)).eval()
        with torch.no_grad():
            assert torch.allclose(model(x), reference(x), atol=1e-5)
        results[label] = compare(model, reference, x, rounds)
    rows = [[label, round(r["zoo_ms"], 2), round(r["other_ms"], 2), round(r["ratio"], 3)] for label, r in results.items()]
    default, digits = results.values()
    run.record(
        "perf_forward_backward",
        claim="network-in-network forward+backward no more than 1.2x the time of a plain PyTorch reference.",
        verdict="measured",
        summary=(f"CIFAR-10 network: zoo {default['zoo_ms']:.0f} ms vs reference {default['other_ms']:.0f} ms per "
                 f"training step (ratio {default['ratio']:.2f}); digits variant: {digits['zoo_ms']:.1f} vs "
                 f"{digits['other_ms']:.1f} ms (ratio {digits['ratio']:.2f}). Same layers, same weights."),
        setup=f"eval mode (dropout off); median of {rounds} interleaved rounds, 1 thread, loss = mean of squared scores",
        table={"columns": ["config", "zoo ms (median)", "reference ms (median)", "ratio zoo/reference"], "rows": rows},
        data=results,
    )
    print(rows)
