"""film forward+backward against a plain PyTorch reference, as a same-run interleaved ratio.

No library ships FiLM, so the reference is the paper's model written the obvious way as one
function of the zoo model's own parameters: `torch.nn.functional` convolutions and batch norm in
a loop over the blocks, the GRU called directly, the FiLM affine map written inline (same weights,
same outputs). Timed: the default variant (the paper's raw-pixel CLEVR model: GRU 4096, stem of 4
stride-2 convolutions of 128 maps, 4 blocks of 128, classifier 512/1024) on batch 2 of 224x224
images and 10-token questions, and the `sort-of-clevr` variant on batch 256 of 16x16 images.

    zoo reproduce film --part perf
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

import zoo
from zoo.reproduce import Run
from zoo_plugins.mlp_mixer.perf import compare


def _coords(x):
    h, w = x.shape[-2:]
    ys = torch.linspace(-1, 1, h).view(1, 1, h, 1).expand(x.shape[0], 1, h, w)
    xs = torch.linspace(-1, 1, w).view(1, 1, 1, w).expand(x.shape[0], 1, h, w)
    return torch.cat([x, xs, ys], dim=1)


def reference_forward(model, image, question):
    """The FiLM network of `model`, written out with functional ops."""
    c = model.config
    states, _ = model.question_encoder.gru(model.question_encoder.embedding(question))
    last = (question != 0).sum(1) - 1
    q = states[torch.arange(len(question)), last]
    film = model.film_generator(q).view(-1, c.num_blocks, 2, c.block_channels)
    x = image
    for i in range(c.stem_layers):
        conv, bn = model.stem[3 * i], model.stem[3 * i + 1]
        x = F.relu(F.batch_norm(F.conv2d(x, conv.weight, conv.bias, stride=c.stem_stride, padding=1),
                                bn.running_mean, bn.running_var, bn.weight, bn.bias, bn.training, bn.momentum, bn.eps))
    for i, block in enumerate(model.blocks):
        x = F.relu(F.conv2d(_coords(x), block.input_proj.weight, block.input_proj.bias))
        y = F.conv2d(x, block.conv.weight, block.conv.bias, padding=1)
        y = F.batch_norm(y, block.norm.running_mean, block.norm.running_var, None, None, block.norm.training,
                         block.norm.momentum, block.norm.eps)
        gamma, beta = 1 + film[:, i, 0], film[:, i, 1]
        x = x + F.relu(gamma[:, :, None, None] * y + beta[:, :, None, None])
    x = F.relu(F.conv2d(_coords(x), model.classifier_proj.weight, model.classifier_proj.bias))
    return model.classifier(x.flatten(2).max(dim=2).values)


class _Reference(torch.nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, inputs):
        return reference_forward(self.model, *inputs)


class _Zoo(torch.nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, inputs):
        return self.model(*inputs)


def reproduce(run: Run) -> None:
    rounds = run.pick(5, 1)
    torch.set_num_threads(1)  # two OpenMP threads on the shared 2-core machine thrash
    torch.manual_seed(0)
    results = {}
    for label, variant, batch, size, length, rounds in (
            ("clevr-pixels (default), batch 2 at 224, 10 tokens", None, 2, 224, 10, rounds),
            ("sort-of-clevr, batch 256 at 16, 3 tokens", "sort-of-clevr", 256, 16, 3, 3 * rounds)):
        model = zoo.create("film", variant=variant).eval()  # eval: batch norm uses running statistics
        inputs = (torch.rand(batch, 3, size, size), torch.randint(1, model.config.vocab_size, (batch, length)))
        with torch.no_grad():
            diff = float((model(*inputs) - reference_forward(model, *inputs)).abs().max())
        assert diff < 1e-4, f"reference differs from the zoo model by {diff}"
        results[label] = {**compare(_Zoo(model), _Reference(model), inputs, rounds), "max_abs_diff": diff}
    rows = [[label, round(r["zoo_ms"], 2), round(r["other_ms"], 2), round(r["ratio"], 3)] for label, r in results.items()]
    default, small = results.values()
    run.record(
        "perf_forward_backward",
        claim="film forward+backward no more than 1.2x the time of a plain PyTorch reference.",
        verdict="measured",
        summary=(f"Raw-pixel CLEVR model: zoo {default['zoo_ms']:.0f} ms vs reference {default['other_ms']:.0f} ms per "
                 f"training step (ratio {default['ratio']:.2f}); sort-of-clevr variant: {small['zoo_ms']:.1f} vs "
                 f"{small['other_ms']:.1f} ms (ratio {small['ratio']:.2f}). Same parameters, same outputs."),
        setup=(f"eval mode (batch norm on running statistics, so both compute the same function); median of "
               f"{rounds} (default) and {3 * rounds} (sort-of-clevr) interleaved rounds, 1 thread"),
        table={"columns": ["config", "zoo ms (median)", "reference ms (median)", "ratio zoo/reference"], "rows": rows},
        data=results,
    )
    print(rows)
