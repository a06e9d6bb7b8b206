"""PaperZoo plugin for Optimal Brain Compression: Frantar & Alistarh, "Optimal Brain Compression: A
Framework for Accurate Post-Training Quantization and Pruning" (NeurIPS 2022, arXiv:2208.11580): the
post-training method `optimal-brain-compression`, which prunes (ExactOBS) or quantizes (OBQ) a
trained model layer by layer with exact Optimal Brain Surgeon updates of the layer-wise problem
min ||W X - W^ X||^2, from a few hundred unlabelled calibration inputs and no retraining.

Where the code departs from the paper, and why:
- Unstructured pruning and quantization only; the paper's N:M and block pruning, its compound
  pruning + quantization in one pass and its non-uniform per-layer budgets (found with a separate
  search) are not implemented. Pruning and then quantizing is two runs.
- All rows of a layer are processed together (a batched greedy step per column instead of one row
  at a time), as the paper's implementation does; H^-1 is held per row and updated by the rank-one
  step of Lemma 1, whose result has row and column p at zero (the inverse of H without p).
- H gets a dampening of 1% of its mean diagonal, so that it is invertible when inputs are dead or
  collinear (the border pixels of digits are always zero).
- OBQ quantizes next any weight that the updates pushed past the grid's ends (its rounding error
  above half a step), so that the error of clipping is compensated while weights remain free.
- No batch-norm folding and no bias correction; biases are kept in float.
Importing this module is cheap; torch is imported when the method is first used.
"""

from __future__ import annotations

from zoo.hookspecs import MethodSpec, hookimpl


@hookimpl
def zoo_methods() -> list[MethodSpec]:
    from .method import OptimalBrainCompression

    return [MethodSpec(name="optimal-brain-compression", build=OptimalBrainCompression)]
