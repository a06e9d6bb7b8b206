"""TabM: Advancing Tabular Deep Learning with Parameter-Efficient Ensembling
(Gorishniy, Kotelnikov and Babenko, 2024, arXiv:2410.24210).

One TabM is k MLPs in one network. In the default arch `tabm` every linear layer is shared by the
k members and wrapped in BatchEnsemble adapters (Eq. 1-2 of the paper):

    l_i(x) = s_i * (W (r_i * x)) + b_i         member i in 1..k, r_i and s_i per-member vectors

with TabM's initialisation: the first r_i random (random signs here), every other adapter ones,
so the members start different but share almost all of their weights. Each member has its own
linear head; the k members are trained together on the same batches with the mean of their k
losses, and the prediction is the mean of their k predictions (probabilities for classification).
`tabm-mini` keeps only the first adapter r_i; `tabm-packed` is k fully independent MLPs (a deep
ensemble trained in parallel); `tabm-packed` with k = 1 is a plain MLP.

The network is the authors' own `tabm.TabM` from their `tabm` package (this class subclasses it,
so the state dict and the outputs are the package's; tests/plugins/test_tabm.py checks both). What
this class adds is the typed config, input checks, and the training/evaluation steps of the zoo's
uniform interface.

Departures from the paper:
- Only numerical features are supported (the zoo's tabular tasks have no categorical columns), and
  without the optional numerical embeddings of TabM-dagger: piecewise-linear embeddings need bins
  computed from the training data, which is task data, not a config value.
"""

from __future__ import annotations

import tabm
import torch

from .config import TabMConfig

__all__ = ["TabM", "ensemble_prediction"]


class TabM(tabm.TabM):
    """TabM from a `TabMConfig`: (batch, d_in) features -> (batch, k, d_out) member predictions."""

    def __init__(self, config: TabMConfig):
        super().__init__(
            n_num_features=config.d_in,
            d_out=config.d_out,
            k=config.k,
            arch_type=config.arch_type,
            n_blocks=config.n_blocks,
            d_block=config.d_block,
            dropout=config.dropout,
            activation=config.activation,
            start_scaling_init=config.start_scaling_init,
        )
        self.config = config

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        expected = f"(batch, {self.config.d_in})"
        if not isinstance(x, torch.Tensor) or not x.is_floating_point():
            kind = f"dtype {x.dtype}" if isinstance(x, torch.Tensor) else type(x).__name__
            raise TypeError(f"tabm expects floating-point features of shape {expected}, got {kind}")
        if x.dim() != 2 or x.shape[1] != self.config.d_in:
            raise ValueError(f"tabm expects features of shape {expected}, got {tuple(x.shape)}")
        return super().forward(x_num=x)

    def training_step(self, batch, step) -> dict:
        """The paper's objective: the mean of the k members' losses, all trained on the same batch."""
        members = self(*step.task.inputs(batch))
        loss = torch.stack([step.task.loss(members[:, i], batch) for i in range(self.k)]).mean()
        step.backward(loss)
        step.step()
        return {"loss": loss}

    def evaluation_step(self, batch, task) -> torch.Tensor:
        """The ensemble's prediction: mean of the members' class probabilities (returned as log
        probabilities, so argmax and cross entropy read them as logits) or of their regression outputs."""
        return ensemble_prediction(self(*task.inputs(batch)), task.kind)


def ensemble_prediction(members: torch.Tensor, kind: str) -> torch.Tensor:
    """(batch, k, d_out) member outputs -> (batch, d_out) ensemble output for a task kind."""
    if kind == "classification":
        return members.softmax(dim=-1).mean(dim=1).log()
    if kind == "regression":
        return members.mean(dim=1)
    raise ValueError(f"tabm predicts for classification or regression tasks, got a {kind!r} task")
