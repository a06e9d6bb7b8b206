"""PaperZoo plugin for Layer Collaboration in the Forward-Forward Algorithm (Lorberbom, Gat, Adi,
Schwing & Hazan, AAAI 2024, arXiv:2305.12393): the training method `collaborative-ff`, which trains an
MLP with Hinton's Forward-Forward algorithm (The Forward-Forward Algorithm: Some Preliminary
Investigations, 2022, arXiv:2212.13345) in its collaborative form (default) or its original form
(`collaboration=False`), and the model `ff-mlp`, the network FF trains (any nn.Sequential of that
shape trains too).

Every layer is trained on its own: it should give high goodness G (sum of squared ReLU activities)
to positive data (the image with its true label written one-hot into its first pixels) and low
goodness to negative data (a wrong label); each layer reads the length-normalised, detached
activities of the layer below. Original FF judges layer k by sigma(G_k - theta_k); collaborative FF
by sigma(G_k + sum_{j != k} sg(G_j) - theta), the whole network's goodness with the other layers'
terms held constant, so that no gradient crosses layers but each layer learns what the others still
miss. The prediction is the label with the highest accumulated goodness.

Where the code departs from the papers, and why:
- The threshold is written per unit (theta_k = 2 x width of layer k, i.e. 2 on the mean squared
  activity, the value of the widely used PyTorch FF implementation); Hinton leaves theta open. CFF
  compares the summed goodness with the summed thresholds, which keeps p(positive) = 1/2 at the
  same operating point as FF.
- Negative labels are drawn uniformly among the wrong ones (Hinton also describes hard negatives
  drawn from the network's own predictions; the CFF comparison only needs the same negatives on both
  sides).
- All layers are updated on every mini-batch (simultaneous training), which CFF needs; the common
  FF code trains one layer to convergence before the next, which CFF cannot do.
"""

from __future__ import annotations

from zoo import ModelSpec
from zoo.hookspecs import MethodSpec, hookimpl


def _build(config):
    from .model import FFMLP

    return FFMLP(config)


def _example_inputs(config, batch_size: int) -> tuple:
    import torch

    return (torch.rand(batch_size, config.in_features),)


def _from_task(values: dict, info) -> dict:
    if info.kind != "classification":
        raise ValueError(f"ff-mlp needs a classification task, got a {info.kind} task")
    return {"in_features": info.input_dim}


@hookimpl
def zoo_models() -> list[ModelSpec]:
    from .model import FFMLPConfig

    return [ModelSpec("ff-mlp", FFMLPConfig, _build, example_inputs=_example_inputs, from_task=_from_task)]


@hookimpl
def zoo_methods() -> list[MethodSpec]:
    from .method import CollaborativeFF

    return [MethodSpec(name="collaborative-ff", build=CollaborativeFF)]
