"""PaperZoo plugin for Deeply-Supervised Nets (Lee, Xie, Gallagher, Zhang & Tu, AISTATS 2015,
arXiv:1409.5185): the training method `deeply-supervised-nets`.

A companion classifier w^(m) on each hidden layer adds its own objective to the output layer's
(Eq. 3): ||w_out||^2 + L(W, w_out) + sum_m alpha_m [||w^(m)||^2 + l(W, w^(m)) - gamma]_+, with L and
l the squared hinge losses of Eq. 4 and 5 (or softmax, the paper's DSN-Softmax), and alpha_m
decaying over training as alpha_m (1 - t/N). The heads are attached to the model (a structural
method: saved with it, re-attached by zoo.load) and read the hidden layers through forward hooks.

Where the code departs from the paper, and why:
- A companion is a linear classifier on the layer's flattened output, as in the authors' released
  Caffe networks; which layers get one is an option (default: every hidden block of the model's
  outermost sequence of blocks, found by a forward pass), since the zoo's models are not the
  paper's networks.
- The margin terms ||w^(m)||^2 have the coefficient `head_norm` (default 0: the optimizer's weight
  decay takes their place, as in the authors' Caffe solver); ||w_out||^2 is left to weight decay.
- The output loss stays the task's (cross entropy) unless `output_loss='hinge'` asks for Eq. 4, so
  the method acts on any classification model without changing what its output means.
- The defaults alpha = 0.1 and gamma = 0 (no threshold) are this zoo's: the paper introduces
  both without one value for every data set, and the authors' released code weights the
  companions through a learning-rate multiplier and ends them early instead of using gamma.

Importing this module is cheap; torch is imported when the method is first built.
"""

from __future__ import annotations

from zoo.hookspecs import MethodSpec, hookimpl


@hookimpl
def zoo_methods() -> list[MethodSpec]:
    from .method import DeeplySupervisedNets

    return [MethodSpec(name="deeply-supervised-nets", build=DeeplySupervisedNets)]
