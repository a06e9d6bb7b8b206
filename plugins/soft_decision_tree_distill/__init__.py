"""PaperZoo plugin for "Distilling a Neural Network Into a Soft Decision Tree" (Frosst & Hinton, 2017,
arXiv:1711.09784): the model `soft-decision-tree` and the training method `soft-decision-tree-distill`.

The tree (model.py) has inner nodes p_i(x) = sigmoid(beta (x w_i + b_i)) with a learned inverse
temperature beta, and leaves holding softmax distributions Q^l; it predicts with the leaf of greatest
path probability. The method (method.py) trains it on a teacher network's soft targets with the
path-probability-weighted cross entropy (Eq. 1) and the balancing penalty of Sec. 4.1, whose strength
decays as 2^-depth. Where the code departs from the paper, and why:

- Eq. 1 is printed as -log(sum_l P^l sum_k T_k log Q^l_k), the log of a quantity that is never
  positive; the code minimises what the text describes, the cross entropies of the leaves weighted
  by their path probabilities, -sum_l P^l sum_k T_k log Q^l_k (a mixture of experts' loss).
- beta is one learned scalar for the tree (kept positive as exp of a parameter), initialised at 1;
  the paper introduces beta without saying how it is set.
- The penalty's alpha_i is computed on each mini-batch; the paper's running average over batches
  for deep nodes is left out. Its strength lambda (not given in the paper) defaults to 0.1.
- The paper's trees learn on MNIST (depth 8) with a conv net teacher; the reproduction uses 8x8
  digits and an MLP teacher, which fit a CPU budget.

Importing this module is cheap: torch is imported when the model or the method is built.
"""

from __future__ import annotations

from zoo.hookspecs import MethodSpec, hookimpl
from zoo import ModelSpec


def _build(config):
    from .model import SoftDecisionTree

    return SoftDecisionTree(config)


def _example_inputs(config, batch_size: int) -> tuple:
    import torch

    return (torch.rand(batch_size, config.in_features),)


def _from_task(values: dict, info) -> dict:
    """Input features (images flattened) and classes from a classification task."""
    if info.kind != "classification":
        raise ValueError(f"soft-decision-tree needs a classification task, got a {info.kind} task")
    return {"in_features": info.input_dim, "num_classes": info.num_classes}


@hookimpl
def zoo_models() -> list[ModelSpec]:
    from .config import SoftDecisionTreeConfig

    return [ModelSpec("soft-decision-tree", SoftDecisionTreeConfig, _build, example_inputs=_example_inputs,
                      from_task=_from_task)]


@hookimpl
def zoo_methods() -> list[MethodSpec]:
    from .method import SoftDecisionTreeDistill

    return [MethodSpec(name="soft-decision-tree-distill", build=SoftDecisionTreeDistill)]
