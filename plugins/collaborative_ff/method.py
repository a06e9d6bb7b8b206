"""Forward-Forward and Collaborative Forward-Forward: the layer-local goodness objectives, the label
embedding, the goodness readout, and the `collaborative-ff` update rule that trains an MLP with them.

The functional core works without zoo.train, on a list of nn.Linear layers (each followed by a ReLU):

    embed_label(x, labels, num_classes)        the input with its first num_classes values replaced
                                               by the one-hot label (Hinton 2022, supervised FF)
    layer_activities(layers, x)                ReLU activities of every layer; each layer reads the
                                               length-normalised, detached activities of the one below
    goodness(h)                                G = mean squared activity, per sample
    ff_logits(G, thresholds, collaboration)    the logit of p(positive) each layer is trained on:
                                               FF:  G_k - theta_k                      (Hinton)
                                               CFF: G_k + sum_{j != k} sg(G_j) - theta (Lorberbom et al., Eq. 5)
    ff_loss(layers, x, y, y_neg, ...)          -log p(positive) on positive data, -log(1 - p) on negative
    goodness_per_label(layers, x, ...)         accumulated goodness for every candidate label
    wrong_labels(y, num_classes)               one incorrect label per sample (negative data)

`CollaborativeFF` is a structural update-rule method: `prepare` gives the model the FF forward
(goodness per label, so zoo.evaluate's accuracy is FF's prediction), and `training_step` does one
update of every layer on its own local loss.
"""

from __future__ import annotations

import types

import torch
import torch.nn.functional as F
from torch import nn

from zoo import Field
from zoo.training.method import Method, MethodConfig

__all__ = ["ff_problem", "ff_layers", "embed_label", "normalize", "layer_activities", "goodness", "ff_logits",
           "ff_loss", "goodness_per_label", "wrong_labels", "thresholds_of", "CollaborativeFFConfig",
           "CollaborativeFF"]

NORM_EPS = 1e-4  # added to the length before dividing, so that an all-zero vector stays zero


def ff_problem(model, num_classes: int | None = None) -> str | None:
    """What keeps `model` from being trained the Forward-Forward way, or None. FF needs an
    nn.Sequential of hidden layers: an optional nn.Flatten, then nn.Linear + nn.ReLU pairs (no output
    layer: the prediction is read from the goodness), whose first layer reads at least num_classes
    inputs (the label is written into the first num_classes of them)."""
    shape = ("an nn.Sequential MLP of the Forward-Forward kind: [nn.Flatten,] then nn.Linear + nn.ReLU pairs "
             "(hidden layers only, no output layer)")
    if not isinstance(model, nn.Sequential):
        return f"{shape}; the model is a {type(model).__name__}"
    children = list(model)
    if children and isinstance(children[0], nn.Flatten):
        children = children[1:]
    if not children or len(children) % 2:
        return f"{shape}; it has {len(list(model))} modules"
    for i in range(0, len(children), 2):
        linear, relu = children[i], children[i + 1]
        if not isinstance(linear, nn.Linear) or not isinstance(relu, nn.ReLU):
            return f"{shape}; found {type(linear).__name__} then {type(relu).__name__}"
    first = children[0]
    if num_classes is not None and first.in_features < num_classes:
        return (f"a first layer that reads at least {num_classes} inputs (the label goes into the first "
                f"{num_classes}); it reads {first.in_features}")
    return None


def ff_layers(model) -> list[nn.Linear]:
    """The model's Linear layers, in order (the model must pass `ff_problem`)."""
    problem = ff_problem(model)
    if problem:
        raise ValueError(f"Forward-Forward needs {problem}")
    return [m for m in model if isinstance(m, nn.Linear)]


def embed_label(x: torch.Tensor, labels: torch.Tensor, num_classes: int, value: float = 1.0) -> torch.Tensor:
    """x flattened, with its first num_classes values replaced by the one-of-N label (times `value`)."""
    flat = x.reshape(x.shape[0], -1).clone()
    flat[:, :num_classes] = 0.0
    flat[torch.arange(flat.shape[0], device=flat.device), labels] = value
    return flat


def normalize(h: torch.Tensor) -> torch.Tensor:
    """h / (|h| + eps): the layer sees the direction of the activity vector, not its length (which
    carries the previous layer's goodness)."""
    return h / (h.norm(dim=1, keepdim=True) + NORM_EPS)


def layer_activities(layers, x: torch.Tensor) -> list[torch.Tensor]:
    """The ReLU activities of every layer for the (label-embedded, flat) input x. Each layer reads the
    normalised activities of the layer below, detached: no gradient flows between layers."""
    out, h = [], x
    for layer in layers:
        h = F.relu(layer(normalize(h.detach())))
        out.append(h)
    return out


def goodness(h: torch.Tensor) -> torch.Tensor:
    """G = mean_j h_j^2 per sample: Hinton's sum of squared activities (Eq. 1's argument) divided by
    the layer's width, which sets the logistic's temperature (with the plain sum, a 500-unit layer's
    logit moves 500 times faster and the loss saturates; see the module docstring)."""
    return h.square().mean(dim=1)


def thresholds_of(layers, theta: float) -> list[float]:
    """theta_k = theta for every layer (goodness is a mean, so one threshold fits every width)."""
    return [float(theta)] * len(layers)


def ff_logits(goods: list[torch.Tensor], thresholds: list[float], collaboration: bool) -> list[torch.Tensor]:
    """The logit of p(positive) that layer k is trained on.

    FF (Hinton, Eq. 1):            G_k - theta_k
    CFF (Lorberbom et al., Eq. 5): G_k + sum_{j != k} sg(G_j) - sum_j theta_j

    sg is stop-gradient: in CFF every layer is judged by the whole network's goodness, but its update
    still moves only its own G_k (the others enter as constants), so no gradient crosses layers."""
    if not collaboration:
        return [g - t for g, t in zip(goods, thresholds)]
    total = torch.stack([g.detach() for g in goods]).sum(dim=0)
    theta = sum(thresholds)
    return [g + (total - g.detach()) - theta for g in goods]


def ff_loss(layers, x: torch.Tensor, y: torch.Tensor, y_neg: torch.Tensor, num_classes: int,
            thresholds: list[float], collaboration: bool) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Sum over layers of the mean logistic loss: -log sigma(l) on positive data (true label),
    -log(1 - sigma(l)) on negative data (a wrong label). Returns (total, per-layer losses)."""
    positive = layer_activities(layers, embed_label(x, y, num_classes))
    negative = layer_activities(layers, embed_label(x, y_neg, num_classes))
    pos_logits = ff_logits([goodness(h) for h in positive], thresholds, collaboration)
    neg_logits = ff_logits([goodness(h) for h in negative], thresholds, collaboration)
    per_layer = [F.softplus(-lp).mean() + F.softplus(ln).mean() for lp, ln in zip(pos_logits, neg_logits)]
    return torch.stack(per_layer).sum(), per_layer


def goodness_per_label(layers, x: torch.Tensor, num_classes: int, thresholds: list[float],
                       skip_first: bool = False) -> torch.Tensor:
    """(batch, num_classes): for each candidate label, the goodness accumulated over the layers (all
    but the first when skip_first and there are several, Hinton's readout), minus their thresholds."""
    batch = x.shape[0]
    labels = torch.arange(num_classes, device=x.device).repeat_interleave(batch)
    tiled = x.reshape(batch, -1).repeat(num_classes, 1)
    acts = layer_activities(layers, embed_label(tiled, labels, num_classes))
    first = 1 if skip_first and len(acts) > 1 else 0
    score = sum(goodness(h) - t for h, t in zip(acts[first:], thresholds[first:]))
    return score.reshape(num_classes, batch).T


def wrong_labels(y: torch.Tensor, num_classes: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """One label per sample drawn uniformly among the num_classes - 1 wrong ones."""
    shift = torch.randint(1, num_classes, y.shape, generator=generator, device=y.device)
    return (y + shift) % num_classes


class CollaborativeFFConfig(MethodConfig):
    collaboration: bool = Field(
        True, description="True: Collaborative FF (each layer's p(positive) uses the whole network's goodness, "
                          "the other layers' detached); False: Hinton's original FF (each layer its own goodness)")
    threshold: float = Field(
        2.0, ge=0.0, description="theta of every layer, on the mean squared activity; CFF compares the summed goodness "
                                 "with the summed thresholds")
    num_classes: int = Field(10, ge=2, le=100000, description="classes; the label is written one-hot into the first "
                                                               "num_classes inputs")
    skip_first_layer: bool = Field(
        False, description="False: predict from the goodness summed over all layers (the whole network's goodness, "
                           "which CFF trains); True: all layers but the first (Hinton's readout; with one layer it "
                           "is used)")


class CollaborativeFF(Method):
    """Forward-Forward training of an MLP, collaborative (Lorberbom et al., 2023) or original (Hinton, 2022).

    Structural: `prepare` replaces the model's forward with the FF readout, goodness_per_label, so that
    zoo.evaluate and the run's accuracy report FF's prediction (the argmax of the goodness); the
    layers and their parameters are unchanged. The update rule draws one wrong label per sample from
    torch's global generator (which zoo.train checkpoints)."""

    name = "collaborative-ff"
    Config = CollaborativeFFConfig
    structural = True
    task_kinds = ("classification",)

    def check(self, model, task) -> str | None:
        missing = super().check(model, task)
        if missing:
            return missing
        classes = getattr(getattr(task, "info", None), "num_classes", None)
        if classes is not None and classes != self.config.num_classes:
            return f"num_classes={classes} for this task (the method was given num_classes={self.config.num_classes})"
        return ff_problem(model, self.config.num_classes)

    def prepare(self, model) -> None:
        layers = ff_layers(model)
        thresholds = thresholds_of(layers, self.config.threshold)
        classes, skip_first = self.config.num_classes, self.config.skip_first_layer

        def forward(module, x):
            return goodness_per_label([m for m in module if isinstance(m, nn.Linear)], x, classes, thresholds,
                                      skip_first)

        model.forward = types.MethodType(forward, model)

    def training_step(self, batch, run) -> dict:
        task, model = run.task, run.model
        (x,), y = task.inputs(batch), task.targets(batch)
        layers = ff_layers(model)
        y_neg = wrong_labels(y, self.config.num_classes)
        loss, per_layer = ff_loss(layers, x, y, y_neg, self.config.num_classes,
                                  thresholds_of(layers, self.config.threshold), self.config.collaboration)
        run.backward(loss)
        run.step()
        return {"loss": loss.detach(), **{f"layer{k}": v.detach() for k, v in enumerate(per_layer)}}
