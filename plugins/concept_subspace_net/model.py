"""Concept Subspace Network (Tucker & Shah, ICML 2022, "Prototype Based Classification from
Hierarchy to Fairness").

A CSN is a prototype classifier (after Li et al., 2018) with several concepts. A variational
encoder maps x to a Gaussian q(z | x) = N(mu(x), diag sigma^2(x)) in the latent space (a sample
during training, the mean at evaluation), and a decoder g maps z back to x. Each concept c (a
label set with k_c classes: the task label, a coarser label, a protected attribute) has k_c
prototypes p_{c,1..k_c} in the latent space. It classifies by distance:

    P(concept c = j | x) = softmax_j( -||z - p_{c,j}||^2 ).

The prototypes of a concept span its subspace: the span of the differences p_{c,j} - p_{c,1}
(dimension k_c - 1). Because ||z - p_j||^2 - ||z - p_1||^2 is linear in z along p_j - p_1, a
concept's decision depends only on the projection of z onto its subspace. The CSN relates
concepts through the principal angles between their subspaces. With Q_a and Q_b orthonormal
bases, the singular values of Q_a^T Q_b are the cosines of those angles, and we measure the
alignment as their mean square,

    align(a, b) = mean_i cos^2(theta_i)   (0: orthogonal, 1: one subspace inside the other).

The alignment loss pushes every pair of concepts to the configured relation:
    orthogonal (fairness: the label's decision ignores the directions that encode the protected
               attribute, so that, the paper argues, predictions become independent of it):
               L = align;
    parallel   (hierarchy: a coarse concept's directions lie in the fine concept's subspace, so
               coarse and fine decisions agree):  L = 1 - align.

Total loss: sum_c w_c CE_c + lambda_rec ||g(z) - x||^2 + lambda_clu (R1 + R2) + lambda_kl KL +
lambda_align L_align. R1 is the mean over prototypes of the squared distance to the nearest
encoding in the batch, and R2 the mean over encodings of the squared distance to the nearest
prototype of each concept (Li et al.'s interpretability terms, kept by the CSN). KL is, for each
concept, the divergence of q(z | x) from a unit Gaussian centred at the nearest prototype (softly
chosen, temperature 0.1, as in the authors' code), averaged over latent dimensions: it keeps
the latent isotropic around the prototypes, so that directions orthogonal to a concept's
subspace carry little of that concept.

Departures: the alignment is the mean squared cosine of the principal angles, which does not
depend on the choice of basis (the authors' code takes the largest, or for "parallel" the
smallest, squared entry of Q_a^T Q_b; for one-dimensional subspaces the two agree); the parallel
relation is a loss 1 - align rather than a negative weight; the loss weights are our choice
(stated in the config); encoder and decoder are MLPs with two hidden layers for tabular inputs.
"""

from __future__ import annotations

import itertools

import torch
import torch.nn.functional as F
from torch import nn

from .config import ConceptSubspaceNetConfig

__all__ = ["ConceptSubspaceNet", "subspace_basis", "subspace_alignment"]


def subspace_basis(prototypes: torch.Tensor) -> torch.Tensor:
    """An orthonormal basis (d, k - 1) of the span of p_j - p_1 for prototypes (k, d)."""
    differences = (prototypes[1:] - prototypes[:1]).T  # (d, k - 1)
    q, _ = torch.linalg.qr(differences)
    return q


def subspace_alignment(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Mean squared cosine of the principal angles between the subspaces spanned by two prototype
    sets (k_a, d) and (k_b, d): 0 when orthogonal, 1 when the smaller lies inside the larger."""
    overlap = subspace_basis(a).T @ subspace_basis(b)
    # the squared singular values (squared cosines) sum to the squared Frobenius norm; there are min(k_a, k_b) - 1
    return overlap.pow(2).sum() / min(overlap.shape)


def _mlp(inputs: int, hidden: int, outputs: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(inputs, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
                         nn.Linear(hidden, outputs))


class ConceptSubspaceNet(nn.Module):
    """forward(x (B, input_dim)) -> tuple of logits (B, k_c), one per concept."""

    def __init__(self, config: ConceptSubspaceNetConfig | None = None):
        super().__init__()
        self.config = c = config or ConceptSubspaceNetConfig()
        self.encoder = _mlp(c.input_dim, c.hidden_dim, 2 * c.latent_dim)  # mean and log-variance of q(z | x)
        self.decoder = _mlp(c.latent_dim, c.hidden_dim, c.input_dim)
        self.prototypes = nn.ParameterList(nn.Parameter(torch.randn(k, c.latent_dim)) for k in c.concepts)

    def _check(self, x: torch.Tensor) -> None:
        if not torch.is_tensor(x) or not x.is_floating_point() or x.dim() != 2 or x.shape[1] != self.config.input_dim:
            raise ValueError(f"ConceptSubspaceNet expects floats of shape (batch, {self.config.input_dim}), got "
                             f"{tuple(getattr(x, 'shape', ()))} {getattr(x, 'dtype', type(x).__name__)}")

    def encode_distribution(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and log-variance of q(z | x), (B, latent_dim) each."""
        self._check(x)
        mean, log_var = self.encoder(x).chunk(2, dim=-1)
        return mean, log_var.clamp(-10, 10)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """A sample of q(z | x) in training mode (reparameterised), its mean in evaluation mode."""
        mean, log_var = self.encode_distribution(x)
        if not self.training:
            return mean
        return mean + (0.5 * log_var).exp() * torch.randn_like(mean)

    def concept_logits(self, z: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """-||z - p_{c,j}||^2 for every concept c, (B, k_c) each."""
        return tuple(-torch.cdist(z, p).pow(2) for p in self.prototypes)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return self.concept_logits(self.encode(x))

    def alignments(self) -> dict[tuple[int, int], torch.Tensor]:
        """align(a, b) for every pair of concepts a < b."""
        return {(a, b): subspace_alignment(self.prototypes[a], self.prototypes[b])
                for a, b in itertools.combinations(range(len(self.prototypes)), 2)}

    def alignment_loss(self) -> torch.Tensor:
        """Mean over concept pairs of align (orthogonal) or 1 - align (parallel); 0 for 'none'."""
        pairs = list(self.alignments().values())
        if self.config.alignment == "none" or not pairs:
            return self.prototypes[0].sum() * 0
        values = torch.stack(pairs)
        return (values if self.config.alignment == "orthogonal" else 1 - values).mean()

    def cluster_losses(self, z: torch.Tensor) -> torch.Tensor:
        """R1 + R2: each prototype near some encoding, each encoding near some prototype of each concept."""
        total = z.new_zeros(())
        for p in self.prototypes:
            squared = torch.cdist(p, z).pow(2)  # (k, B)
            total = total + squared.min(1).values.mean() + squared.min(0).values.mean()
        return total

    def kl_to_prototypes(self, mean: torch.Tensor, log_var: torch.Tensor, temperature: float = 0.1) -> torch.Tensor:
        """Sum over concepts of KL(q(z | x) || N(nearest prototype, I)), the nearest prototype chosen
        by a softmax over -distance / temperature, averaged over the batch and latent dimensions."""
        total = mean.new_zeros(())
        for p in self.prototypes:
            weights = (-torch.cdist(mean, p).pow(2) / temperature).softmax(-1)  # (B, k)
            squared = torch.einsum("bk,bkd->bd", weights, (mean[:, None, :] - p[None]).pow(2))
            total = total + (-0.5 * (1 + log_var - squared - log_var.exp())).mean()
        return total

    def losses(self, x: torch.Tensor, labels: torch.Tensor) -> dict[str, torch.Tensor]:
        """Every term of the training loss for inputs x (B, input_dim) and labels (B, concepts)."""
        c = self.config
        if labels.dim() != 2 or labels.shape != (x.shape[0], len(c.concepts)):
            raise ValueError(f"ConceptSubspaceNet expects labels of shape (batch, {len(c.concepts)}), one column "
                             f"per concept; got {tuple(labels.shape)}")
        mean, log_var = self.encode_distribution(x)
        z = mean + (0.5 * log_var).exp() * torch.randn_like(mean) if self.training else mean
        logits = self.concept_logits(z)
        ce = sum(w * F.cross_entropy(lg, labels[:, i]) for i, (w, lg) in enumerate(zip(c.weights(), logits)))
        terms = {"classification": ce, "reconstruction": F.mse_loss(self.decoder(z), x),
                 "cluster": self.cluster_losses(z), "kl": self.kl_to_prototypes(mean, log_var),
                 "alignment": self.alignment_loss()}
        terms["loss"] = (ce + c.reconstruction_weight * terms["reconstruction"] + c.cluster_weight * terms["cluster"]
                         + c.kl_weight * terms["kl"] + c.alignment_weight * terms["alignment"])
        return terms

    def training_step(self, batch, step) -> dict:
        """Batches (x (B, input_dim), labels (B, concepts))."""
        terms = self.losses(batch[0], batch[1])
        step.backward(terms["loss"])
        step.step()
        return {k: float(v.detach()) for k, v in terms.items()}
