"""The Discriminative Kalman Filter (DKF) of Burkhart, Brandman, Franco, Hochberg & Harrison, "A
Discriminative Approach to Bayesian Filtering with Applications to Human Neural Decoding" (Neural
Computation 32(5), 2020).

State model: z_t = A z_{t-1} + eps_t, eps_t ~ N(0, Gamma), stationary with z_t ~ N(0, S).
Instead of a generative observation model p(x_t | z_t), the DKF learns a discriminative Gaussian

    p(z_t | x_t) ~ N(f(x_t), Q(x_t))

(f a nonlinear regression, here an MLP, the paper's DKF-NN), and by Bayes' rule
p(x_t | z_t) is proportional to p(z_t | x_t) / p(z_t). With the prediction N(nu_t, M_t),
nu_t = A mu_{t-1}, M_t = A Sigma_{t-1} A^T + Gamma, the filtering posterior stays Gaussian
N(mu_t, Sigma_t) in closed form (the paper's update):

    Sigma_t = (M_t^-1 + Q(x_t)^-1 - S^-1)^-1
    mu_t    = Sigma_t (M_t^-1 nu_t + Q(x_t)^-1 f(x_t))

starting from mu_0 = 0, Sigma_0 = S. When Q(x_t)^-1 - S^-1 is not positive definite (the
regression is less sure than the prior), the update is invalid; as the paper proposes, the S^-1
term is then dropped for that step (Q^-1 alone), which keeps Sigma_t positive definite.

Learning: A and Gamma by least squares on the training states (`fit_state_model`), S the
states' covariance, f by regression of z_t on x_t (MSE), and Q (covariance "constant") the
covariance of f's residuals on held-out data (`calibrate`), or (covariance "learned") a diagonal
Q(x) from a second output head trained by the Gaussian negative log-likelihood.

`kalman_filter` is the textbook Kalman filter with a linear-Gaussian observation model
x_t = H z_t + b + N(0, R) (fitted by least squares, `fit_linear_observation`): the baseline.
"""

from __future__ import annotations

import torch
from torch import nn

from .config import DKFConfig

__all__ = ["DKF", "dkf_update", "kalman_filter", "fit_linear_dynamics", "fit_linear_observation"]


def _is_positive_definite(m: torch.Tensor) -> torch.Tensor:
    """Per matrix of a batch (batch, d, d): True where every eigenvalue of the symmetric part is > 0."""
    return torch.linalg.eigvalsh(0.5 * (m + m.transpose(-1, -2))).min(-1).values > 0


def dkf_update(nu: torch.Tensor, m: torch.Tensor, f: torch.Tensor, q: torch.Tensor,
               s_inv: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """One DKF measurement update: prediction N(nu (b, d), M (b, d, d)), regression f (b, d) with
    covariance Q (b, d, d), prior precision S^-1 (d, d) -> posterior (mu (b, d), Sigma (b, d, d))."""
    q_inv = torch.linalg.inv(q)
    info = q_inv - s_inv
    info = torch.where(_is_positive_definite(info)[:, None, None], info, q_inv)  # the paper's fallback
    m_inv = torch.linalg.inv(m)
    sigma = torch.linalg.inv(m_inv + info)
    sigma = 0.5 * (sigma + sigma.transpose(-1, -2))
    mu = (sigma @ ((m_inv @ nu[..., None]) + (q_inv @ f[..., None])))[..., 0]
    return mu, sigma


def kalman_filter(x: torch.Tensor, a: torch.Tensor, gamma: torch.Tensor, h: torch.Tensor, b: torch.Tensor,
                  r: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
    """Filtered means (batch, T, d) of the Kalman filter for z_t = A z_{t-1} + N(0, Gamma),
    x_t = H z_t + b + N(0, R), z_0 ~ N(0, S), on observations x (batch, T, obs_dim)."""
    batch, steps, _ = x.shape
    d = a.shape[0]
    mu, sigma = x.new_zeros(batch, d), s.expand(batch, d, d)
    eye = torch.eye(d, dtype=x.dtype)
    out = []
    for t in range(steps):
        nu, m = mu @ a.T, a @ sigma @ a.T + gamma
        innovation_cov = h @ m @ h.T + r
        gain = m @ h.T @ torch.linalg.inv(innovation_cov)
        mu = nu + (gain @ (x[:, t] - nu @ h.T - b)[..., None])[..., 0]
        sigma = (eye - gain @ h) @ m
        out.append(mu)
    return torch.stack(out, 1)


def fit_linear_dynamics(states: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Least-squares A and residual covariance Gamma of z_t = A z_{t-1} + eps on state sequences
    (batch, T, d), and the states' covariance S (the stationary prior)."""
    prev, nxt = states[:, :-1].reshape(-1, states.shape[-1]), states[:, 1:].reshape(-1, states.shape[-1])
    a = torch.linalg.lstsq(prev.double(), nxt.double()).solution.T
    residual = nxt.double() - prev.double() @ a.T
    gamma = residual.T @ residual / (len(residual) - states.shape[-1])
    flat = states.reshape(-1, states.shape[-1]).double()
    s = torch.cov(flat.T).reshape(states.shape[-1], states.shape[-1])
    return a.to(states.dtype), gamma.to(states.dtype), s.to(states.dtype)


def fit_linear_observation(states: torch.Tensor, observations: torch.Tensor):
    """Least-squares H, b and residual covariance R of x_t = H z_t + b + N(0, R)."""
    z = states.reshape(-1, states.shape[-1]).double()
    x = observations.reshape(-1, observations.shape[-1]).double()
    design = torch.cat([z, torch.ones(len(z), 1, dtype=z.dtype)], 1)
    coef = torch.linalg.lstsq(design, x).solution  # (d + 1, obs)
    residual = x - design @ coef
    r = residual.T @ residual / (len(x) - design.shape[1])
    dtype = states.dtype
    return coef[:-1].T.to(dtype), coef[-1].to(dtype), r.to(dtype)


class DKF(nn.Module):
    """forward(x (batch, T, obs_dim)) -> filtered state means (batch, T, state_dim).

    The regression f is the trainable part; the state model (A, Gamma, S) and the constant Q are
    buffers set by `fit_state_model` and `calibrate` (identity until then)."""

    def __init__(self, config: DKFConfig | None = None):
        super().__init__()
        self.config = c = config or DKFConfig()
        sizes = [c.obs_dim] + [c.hidden_dim] * c.hidden_layers
        layers: list[nn.Module] = []
        for a, b in zip(sizes[:-1], sizes[1:]):
            layers += [nn.Linear(a, b), nn.ReLU()]
        self.body = nn.Sequential(*layers)
        self.mean_head = nn.Linear(c.hidden_dim, c.state_dim)
        self.logvar_head = nn.Linear(c.hidden_dim, c.state_dim) if c.covariance == "learned" else None
        d = c.state_dim
        self.register_buffer("transition", 0.9 * torch.eye(d))
        self.register_buffer("process_cov", 0.19 * torch.eye(d))
        self.register_buffer("prior_cov", torch.eye(d))
        self.register_buffer("regression_cov", torch.eye(d))

    def _check(self, x: torch.Tensor, dims: int) -> None:
        if not torch.is_tensor(x) or not x.is_floating_point():
            raise TypeError(f"DKF expects floating-point observations, got {getattr(x, 'dtype', type(x).__name__)}")
        if x.dim() != dims or x.shape[-1] != self.config.obs_dim:
            shape = "(batch, T, obs_dim)" if dims == 3 else "(batch, obs_dim)"
            raise ValueError(f"DKF expects observations of shape {shape} with obs_dim = {self.config.obs_dim}, "
                             f"got {tuple(x.shape)}")

    def regression(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """f(x) (batch, d) and Q(x) (batch, d, d) for observations x (batch, obs_dim)."""
        self._check(x, 2)
        h = self.body(x)
        f = self.mean_head(h)
        if self.logvar_head is None:
            q = self.regression_cov.expand(len(x), -1, -1)
        else:
            q = torch.diag_embed(self.logvar_head(h).exp() + self.config.min_variance)
        return f, q

    def regression_loss(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """MSE of f (constant Q), or the Gaussian NLL of N(f(x), Q(x)) (learned diagonal Q)."""
        f, q = self.regression(x)
        if self.logvar_head is None:
            return ((f - z) ** 2).mean()
        var = torch.diagonal(q, dim1=-2, dim2=-1)
        return 0.5 * (((f - z) ** 2) / var + var.log()).mean()

    @torch.no_grad()
    def fit_state_model(self, states: torch.Tensor) -> None:
        """A, Gamma by least squares and S = Cov(z) from training state sequences (batch, T, d)."""
        a, gamma, s = fit_linear_dynamics(states)
        self.transition.copy_(a), self.process_cov.copy_(gamma), self.prior_cov.copy_(s)

    @torch.no_grad()
    def calibrate(self, x: torch.Tensor, z: torch.Tensor) -> None:
        """Constant Q: the covariance of f's residuals z - f(x) on held-out pairs (n, obs_dim), (n, d)."""
        residual = (z - self.regression(x)[0]).double()
        q = residual.T @ residual / max(1, len(residual) - 1)
        self.regression_cov.copy_(q.to(self.regression_cov.dtype) + self.config.min_variance * torch.eye(len(q)))

    def filter(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Filtered means (batch, T, d) and covariances (batch, T, d, d) (the DKF recursion)."""
        self._check(x, 3)
        batch, steps, _ = x.shape
        f, q = self.regression(x.reshape(batch * steps, -1))
        d = self.config.state_dim
        f, q = f.view(batch, steps, d), q.reshape(batch, steps, d, d)
        a, gamma, s = self.transition, self.process_cov, self.prior_cov
        s_inv = torch.linalg.inv(s)
        mu, sigma = x.new_zeros(batch, d), s.expand(batch, d, d)
        means, covs = [], []
        for t in range(steps):
            nu, m = mu @ a.T, a @ sigma @ a.T + gamma  # prediction
            mu, sigma = dkf_update(nu, m, f[:, t], q[:, t], s_inv)  # the DKF measurement update
            means.append(mu), covs.append(sigma)
        return torch.stack(means, 1), torch.stack(covs, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.filter(x)[0]

    def training_step(self, batch, step) -> dict:
        """One update of f on (x (b, T, obs), z (b, T, d)) windows: the regression loss on every step."""
        x, z = batch[0], batch[1]
        loss = self.regression_loss(x.reshape(-1, x.shape[-1]), z.reshape(-1, z.shape[-1]))
        step.backward(loss)
        step.step()
        return {"loss": loss.detach()}
