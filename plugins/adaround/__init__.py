"""PaperZoo plugin for AdaRound: Nagel, Amjad, van Baalen, Louizos & Blankevoort, "Up or Down?
Adaptive Rounding for Post-Training Quantization" (ICML 2020, arXiv:2004.10568): the post-training
method `adaround`, which quantizes a trained model's weights layer by layer, learning for each
weight whether it rounds up or down so that the layer's output on a few hundred unlabelled
calibration inputs changes least.

Where the code departs from the paper, and why:
- The reconstruction target is the layer's output before its activation function: a generic model
  does not say which activation follows a layer (often a functional call), so f_a of Eq. 25 is left
  out (the paper's Eq. 21 form, with the asymmetric inputs of Eq. 25).
- The grid is fitted per output channel by default (a per-layer grid is `per_channel=False`), with
  its range chosen by least squared rounding error, and is the same grid round-to-nearest uses, so
  comparisons differ only in the rounding.
- Batch normalization is not folded into the preceding layer first (the paper folds it); a model
  with batch normalization is quantized with its normalization kept in float.
- Biases stay at full precision.
Importing this module is cheap; torch is imported when the method is first used.
"""

from __future__ import annotations

from zoo.hookspecs import MethodSpec, hookimpl


@hookimpl
def zoo_methods() -> list[MethodSpec]:
    from .method import AdaRound

    return [MethodSpec(name="adaround", build=AdaRound)]
