"""PV-RNN (Ahmadi & Tani, 2019, "A Novel Predictive-Coding-Inspired Variational RNN Model for Online
Prediction and Recognition", Neural Computation 31(11)).

Layers l = 1..L (1 next to the output, L the slowest) of multiple-timescale RNN units with
deterministic states d^l_t and stochastic latents z^l_t. At each step, top layer first:

    prior      p(z^l_t | d^l_{t-1}) = N(mu^p, sigma^p),  mu^p = tanh(W d^l_{t-1} + b),
                                                         sigma^p = exp(W' d^l_{t-1} + b')
               (t = 1: the unit Gaussian N(0, I))
    posterior  q(z^l_t | e_{t:T}) = N(mu^q, sigma^q),    mu^q = tanh(A^mu_t), sigma^q = exp(A^sigma_t)
               with A the *adaptive vector*, a free parameter per training sequence and step (the
               paper's predictive-coding posterior: it is set by back-propagated prediction error,
               not by an encoder)
    MTRNN      h^l_t = (1 - 1/tau^l) h^l_{t-1} + 1/tau^l (W_dd d^l_{t-1} + W_zd z^l_t + W_top d^{l+1}_t)
               d^l_t = tanh(h^l_t),   d^l_0 = 0
    output     x_hat_t = tanh(W_out d^1_t)   (or linear)

Learning maximises the ELBO with the KL term weighted by the meta-prior w^l (as we read
the paper), here per dimension:

    L = 1/T sum_t [ ||x_hat_t - x_t||^2 / D_x + sum_l w^l KL(q(z^l_t) || p(z^l_t)) / D_z^l ],

the squared prediction error standing for the Gaussian log-likelihood. A large w forces the
posterior onto the prior, whose sigma then shrinks: the model turns into a deterministic (chaotic)
generator; a small w lets the posterior carry the data while the prior stays wide: a random
process. Training sequences are reconstructed from their posteriors (`forward(index)`); free
generation samples the prior (`generate`); online recognition is *error regression*: with the
weights fixed, a fresh A over a window of observations is optimised on the same loss, and the
network then predicts ahead from its prior (`error_regression`).

Departures (see DOC.md): the reconstruction and KL terms are normalised per dimension and step;
error regression optimises A over the whole observed window at once (the paper slides a window
through time); the training loop is the reproduction's (Adam, full batch).
"""

from __future__ import annotations

import torch
from torch import nn

from .config import PVRNNConfig

__all__ = ["PVRNN", "gaussian_kl", "weighted_elbo"]


def gaussian_kl(mu_q: torch.Tensor, sigma_q: torch.Tensor, mu_p: torch.Tensor, sigma_p: torch.Tensor) -> torch.Tensor:
    """KL(N(mu_q, sigma_q^2) || N(mu_p, sigma_p^2)), summed over the last (latent) axis."""
    return (torch.log(sigma_p / sigma_q) + (sigma_q ** 2 + (mu_q - mu_p) ** 2) / (2 * sigma_p ** 2) - 0.5).sum(-1)


def weighted_elbo(output: dict, target: torch.Tensor, meta_prior: torch.Tensor, z_units, mask=None) -> dict:
    """The negative ELBO with the KL weighted by the meta-prior, per dimension and step:
    mean_t ||x_hat_t - x_t||^2 / D_x + sum_l w^l mean_t KL^l_t / D_z^l. `output` holds "output"
    (batch, T, D_x) and "kl" (batch, T, L); mask (batch, T): the steps that count."""
    if output["output"].shape != target.shape:
        raise ValueError(f"targets of shape {tuple(target.shape)} do not match outputs {tuple(output['output'].shape)}")
    rec = ((output["output"] - target) ** 2).mean(-1)  # (batch, T)
    kl = output["kl"] / torch.tensor(list(z_units), dtype=rec.dtype, device=rec.device)  # (batch, T, L)
    if mask is None:
        mask = torch.ones_like(rec)
    count = mask.sum().clamp_min(1.0)
    reconstruction = (rec * mask).sum() / count
    kl_layers = (kl * mask[..., None]).sum((0, 1)) / count
    return {"loss": reconstruction + (meta_prior * kl_layers).sum(), "reconstruction": reconstruction, "kl": kl_layers}


class PVRNNLayer(nn.Module):
    """One MTRNN layer with stochastic units. `from_state` maps d_{t-1} to the recurrent drive and
    the prior's (mu, log sigma) in one product; `from_inputs` maps [z_t, d^{l+1}_t] to the drive."""

    def __init__(self, d: int, z: int, tau: float, top: int | None):
        super().__init__()
        self.d, self.z, self.tau = d, z, tau
        self.from_state = nn.Linear(d, d + 2 * z)  # W_dd d_{t-1} + b, and the prior heads
        self.from_inputs = nn.Linear(z + (top or 0), d, bias=False)  # W_zd z_t + W_top d^{l+1}_t

    def prior_and_drive(self, d_prev: torch.Tensor, first: bool):
        """Prior (mu^p, sigma^p) of z_t and the recurrent drive W_dd d_{t-1} + b."""
        drive, mu, log_sigma = self.from_state(d_prev).split([self.d, self.z, self.z], dim=-1)
        if first:  # t = 1: the unit Gaussian
            return torch.zeros_like(mu), torch.ones_like(log_sigma), drive
        return torch.tanh(mu), torch.exp(log_sigma), drive

    def step(self, h_prev: torch.Tensor, drive: torch.Tensor, z: torch.Tensor, d_top: torch.Tensor | None):
        """h_t = (1 - 1/tau) h_{t-1} + 1/tau (W_dd d_{t-1} + W_zd z_t + W_top d^{l+1}_t); d_t = tanh(h_t)."""
        inputs = z if d_top is None else torch.cat([z, d_top], dim=-1)
        h = (1.0 - 1.0 / self.tau) * h_prev + (drive + self.from_inputs(inputs)) / self.tau
        return h, torch.tanh(h)


class PVRNN(nn.Module):
    """forward(index (batch,)) -> {"output": x_hat (batch, T, D_x), "kl": (batch, T, L)}: training
    sequences regenerated from their adaptive posteriors (means in eval mode, samples in training)."""

    def __init__(self, config: PVRNNConfig | None = None):
        super().__init__()
        self.config = c = config or PVRNNConfig()
        tops = list(c.d_units[1:]) + [None]
        self.layers = nn.ModuleList(PVRNNLayer(d, z, tau, top)
                                    for d, z, tau, top in zip(c.d_units, c.z_units, c.time_constants, tops))
        self.readout = nn.Linear(c.d_units[0], c.output_dim)
        total_z = sum(c.z_units)
        # A^mu and A^sigma per training sequence and step; A^sigma = 0 starts the posterior at sigma = 1
        self.a_mu = nn.Parameter(torch.zeros(c.sequences, c.max_length, total_z))
        self.a_sigma = nn.Parameter(torch.zeros(c.sequences, c.max_length, total_z))
        self.register_buffer("meta_prior", torch.tensor(c.meta_prior, dtype=torch.float32))

    def _output(self, d1: torch.Tensor) -> torch.Tensor:
        y = self.readout(d1)
        return torch.tanh(y) if self.config.output == "tanh" else y

    def _split(self, a: torch.Tensor) -> list[torch.Tensor]:
        return list(a.split(list(self.config.z_units), dim=-1))

    def rollout(self, batch: int, steps: int, a_mu: torch.Tensor | None = None, a_sigma: torch.Tensor | None = None,
                sample: bool = True, state: tuple | None = None, generator: torch.Generator | None = None) -> dict:
        """Run the network for `steps` steps. With adaptive vectors a_mu, a_sigma (batch, steps, sum z)
        the latents come from the posterior (and the KL to the prior is returned, (batch, steps,
        L)); without, from the prior (free generation). sample=False takes the distributions'
        means. `state` continues a run: (h, d) per layer and whether t = 1 has passed. Also returns
        the prior sigmas averaged per layer (batch, steps, L)."""
        device = self.readout.weight.device
        layers = list(self.layers)
        if state is None:
            h = [torch.zeros(batch, layer.d, device=device) for layer in layers]
            d = [torch.zeros(batch, layer.d, device=device) for layer in layers]
            started = False
        else:
            h, d, started = list(state[0]), list(state[1]), state[2]
        total_z = sum(self.config.z_units)
        noise = (torch.randn(batch, steps, total_z, generator=generator, device=device) if sample
                 else torch.zeros(batch, steps, total_z, device=device))
        posterior = a_mu is not None
        if posterior:  # mu^q = tanh(A^mu), sigma^q = exp(A^sigma), for every step at once
            mu_q, sigma_q = torch.tanh(a_mu), torch.exp(a_sigma)
        offsets = [sum(self.config.z_units[:i]) for i in range(len(layers))]
        bottom, priors_mu, priors_sigma = [], [], []
        for t in range(steps):
            first = not started and t == 0
            new_h, new_d = [None] * len(layers), [None] * len(layers)
            step_mu, step_sigma = [None] * len(layers), [None] * len(layers)
            for index in reversed(range(len(layers))):  # top layer first: its d_t feeds the one below
                layer, lo = layers[index], offsets[index]
                mu_p, sigma_p, drive = layer.prior_and_drive(d[index], first)
                step_mu[index], step_sigma[index] = mu_p, sigma_p
                if posterior:
                    mu, sigma = mu_q[:, t, lo:lo + layer.z], sigma_q[:, t, lo:lo + layer.z]
                else:
                    mu, sigma = mu_p, sigma_p
                z = mu + sigma * noise[:, t, lo:lo + layer.z]
                top = new_d[index + 1] if index + 1 < len(layers) else None
                new_h[index], new_d[index] = layer.step(h[index], drive, z, top)
            h, d = new_h, new_d
            bottom.append(d[0])
            priors_mu.append(torch.cat(step_mu, -1)), priors_sigma.append(torch.cat(step_sigma, -1))
        mu_p_all, sigma_p_all = torch.stack(priors_mu, 1), torch.stack(priors_sigma, 1)  # (batch, steps, sum z)
        out = {"output": self._output(torch.stack(bottom, 1)), "state": (h, d, True),
               "prior_sigma": torch.stack([s.mean(-1) for s in self._split(sigma_p_all)], -1)}
        if posterior:
            out["kl"] = torch.stack([gaussian_kl(*parts) for parts in zip(
                self._split(mu_q), self._split(sigma_q), self._split(mu_p_all), self._split(sigma_p_all))], -1)
        return out

    def forward(self, index: torch.Tensor, steps: int | None = None) -> dict:
        c = self.config
        if not torch.is_tensor(index) or index.dtype not in (torch.int64, torch.int32) or index.dim() != 1:
            raise ValueError(f"PV-RNN expects a 1-d integer tensor of training-sequence indices, got "
                             f"{getattr(index, 'dtype', type(index).__name__)} {tuple(getattr(index, 'shape', ()))}")
        tracing = torch.compiler.is_compiling()  # an export cannot read values; the eager call checks them
        if not tracing and len(index) and (int(index.min()) < 0 or int(index.max()) >= c.sequences):
            raise ValueError(f"sequence indices must lie in [0, {c.sequences}), got [{int(index.min())}, "
                             f"{int(index.max())}]")
        steps = c.max_length if steps is None else steps
        if not 1 <= steps <= c.max_length:
            raise ValueError(f"steps must lie in [1, {c.max_length}] (max_length), got {steps}")
        out = self.rollout(len(index), steps, self.a_mu[index, :steps], self.a_sigma[index, :steps],
                           sample=self.training)
        return {"output": out["output"], "kl": out["kl"]}

    def loss(self, output: dict, target: torch.Tensor, mask: torch.Tensor | None = None) -> dict:
        """The negative weighted ELBO of `weighted_elbo` with this model's meta-prior."""
        return weighted_elbo(output, target, self.meta_prior, self.config.z_units, mask)

    @torch.no_grad()
    def generate(self, batch: int, steps: int, sample: bool = True, generator: torch.Generator | None = None) -> dict:
        """Free generation from the prior: outputs (batch, steps, D_x) and prior sigmas (batch, steps, L)."""
        out = self.rollout(batch, steps, sample=sample, generator=generator)
        return {"output": out["output"], "prior_sigma": out["prior_sigma"]}

    def error_regression(self, observed: torch.Tensor, horizon: int, iterations: int = 100, lr: float = 0.1,
                         generator: torch.Generator | None = None) -> dict:
        """Online recognition and prediction: with the weights fixed, fit a fresh adaptive vector A to the
        observed window (batch, T_obs, D_x) by Adam on the weighted ELBO (posterior means, so the
        fit is deterministic), then continue `horizon` steps from the prior means. Returns the
        window's reconstruction, the prediction (batch, horizon, D_x) and the final loss."""
        batch, steps, _ = observed.shape
        total_z = sum(self.config.z_units)
        a_mu = torch.zeros(batch, steps, total_z, device=observed.device, requires_grad=True)
        a_sigma = torch.zeros(batch, steps, total_z, device=observed.device, requires_grad=True)
        optimizer = torch.optim.Adam([a_mu, a_sigma], lr=lr)
        frozen = [p.requires_grad for p in self.parameters()]
        for p in self.parameters():
            p.requires_grad_(False)
        try:
            for _ in range(iterations):
                optimizer.zero_grad()
                out = self.rollout(batch, steps, a_mu, a_sigma, sample=False)
                loss = self.loss(out, observed)["loss"]
                loss.backward()
                optimizer.step()
            with torch.no_grad():
                out = self.rollout(batch, steps, a_mu, a_sigma, sample=False)
                final = self.loss(out, observed)["loss"]
                ahead = self.rollout(batch, horizon, sample=False, state=out["state"], generator=generator)
        finally:
            for p, flag in zip(self.parameters(), frozen):
                p.requires_grad_(flag)
        return {"reconstruction": out["output"], "prediction": ahead["output"], "loss": float(final)}

    def training_step(self, batch, step) -> dict:
        """One update on (index (b,), target (b, T, D_x)) batches of a `pv-rnn/*` task."""
        index, target = batch[0], batch[1]
        parts = self.loss(self(index, target.shape[1]), target)
        step.backward(parts["loss"])
        step.step()
        return {"loss": parts["loss"].detach(), "reconstruction": parts["reconstruction"].detach()}
