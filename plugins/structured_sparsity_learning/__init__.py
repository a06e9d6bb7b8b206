"""PaperZoo plugin for the structured-sparsity-learning method (SSL): Wen, Wu, Wang, Chen & Li, "Learning
Structured Sparsity in Deep Neural Networks" (NIPS 2016, arXiv:1608.03665).

`zoo.method("structured-sparsity-learning")` adds the paper's group Lasso over structures of every
Conv2d and Linear layer to the loss (Eq. 1-2; filter-wise and channel-wise, Eq. 3; filter-shape-wise,
Eq. 4; depth-wise, the whole layer), and `zero_small_groups(model, threshold)` then removes (zeros) the
structures whose norm fell below a threshold and reports, per layer, how many filters, channels and
shapes went.

Where the code departs from the paper:
- Removal zeros the weights of a removed structure instead of rebuilding smaller layers (the paper's
  Caffe code does the same during its fine-tuning, "DISCONNECTED_GRPWISE"); the bias of a removed filter
  is kept (a constant output the next layer could absorb).
- For nn.Linear, filters are output neurons (rows) and channels input neurons (columns); filter shapes
  are defined for convolutions only.
- The paper fine-tunes after removal; the reproduction evaluates right after removal (stricter).
Importing this module is cheap; torch is imported when the method is first used.
"""

from __future__ import annotations

from zoo.hookspecs import MethodSpec, hookimpl


@hookimpl
def zoo_methods() -> list[MethodSpec]:
    from .method import StructuredSparsityLearning

    return [MethodSpec(name="structured-sparsity-learning", build=StructuredSparsityLearning)]
