"""LTC neurons with biophysical synapses (Farsang, Lechner, Lung, Hasani, Rus & Grosu, "On the
Benefits of Biophysical Synapses"), built on the liquid time-constant network of Hasani et al. (2021).

Each neuron i is a leaky membrane with potential v_i,

    C_i dv_i/dt = g_leak,i (E_leak,i - v_i) + sum_j I_ji,

and each synapse j -> i is conductance-based (biophysical): a maximum conductance w_ji, opened by a
sigmoid of the presynaptic potential, driving the postsynaptic potential towards the synapse's
reversal potential E_ji,

    I_ji = w_ji sigmoid(sigma_ji (v_j - mu_ji)) (E_ji - v_i).

Inputs reach the neurons through sensory synapses of the same form (v_j replaced by the affinely
mapped input u_k = a_k x_k + b_k). A synapse thus holds four parameters (w, sigma, mu, E) where a
standard RNN's holds one weight: the paper's first point, more parameters per neuron and synapse.
Its second point: collecting the currents gives a linear system with state-dependent coefficients,

    dv/dt = A(v, u) v + b(v, u),   A = -diag((g_leak + sum_j G_ji) / C),
                                    b = (g_leak E_leak + sum_j G_ji E_ji) / C,   G_ji = w_ji sigmoid(...),

(`state_dependent_coefficients`). The ODE is solved as in LTC by the fused semi-implicit Euler step
(the conductances at the current state, the potential implicit), with step dt = elapsed_time / unfolds:

    v <- (C/dt v + g_leak E_leak + sum_j G_ji E_ji) / (C/dt + g_leak + sum_j G_ji),

which is an implicit Euler step of that linear system; since every coefficient is positive, the new
potential is a convex combination of the old one, E_leak and the reversal potentials, so the solver
is stable at any step size (tests pin both). Outputs are a linear map of all N potentials after the
last step, as in the authors' ncps library for a fully connected LTC with a projection (proj_size).

Departures: positivity of w, g_leak and C is kept by a softplus of free parameters (the "implicit
constraints" option of the authors' ncps library) rather than clipping after each optimizer step;
the network is fully connected (the paper also uses sparse NCP wirings); reversal potentials start
at +-1 with equal chance. Initial ranges follow LTC: g_leak in [0.001, 1], E_leak in [-0.2, 0.2],
C in [0.4, 0.6], w in [0.001, 1], sigma in [3, 8], mu in [0.3, 0.8] (those of the authors' ncps
library; LTC's original code starts C at 0.5 and g_leak at 1, and ncps makes 2/3 of the synapses
excitatory). At these ranges, with one time unit per input step, a neuron's time constant
C / (g_leak + sum_j G_ji) is about 0.2 input steps: the network starts with almost no memory of
earlier steps (a test pins this; the reproduction's controls measure what it costs).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .config import LTCBiophysicalConfig

__all__ = ["LTCBiophysical", "synapse_conductance", "inverse_softplus"]


def inverse_softplus(x: torch.Tensor) -> torch.Tensor:
    """The raw value whose softplus is x (x > 0)."""
    return x + torch.log(-torch.expm1(-x))


def synapse_conductance(v_pre: torch.Tensor, w: torch.Tensor, sigma: torch.Tensor, mu: torch.Tensor) -> torch.Tensor:
    """G_ji = w_ji sigmoid(sigma_ji (v_j - mu_ji)): v_pre (batch, pre) -> (batch, pre, post); w is already positive."""
    return w * torch.sigmoid(sigma * (v_pre.unsqueeze(-1) - mu))


class LTCBiophysical(nn.Module):
    """A fully connected LTC network with biophysical synapses and a linear readout of its N
    potentials; (batch, T, input_dim) -> (batch, output_dim)."""

    def __init__(self, config: LTCBiophysicalConfig | None = None):
        super().__init__()
        self.config = config = config or LTCBiophysicalConfig()
        n, k = config.neurons, config.input_dim

        def parameter(*shape):
            return nn.Parameter(torch.empty(*shape))

        # neurons: leak conductance, leak potential, membrane capacitance (softplus keeps g and C positive)
        self.gleak_raw, self.vleak, self.cm_raw = parameter(n), parameter(n), parameter(n)
        # recurrent synapses j -> i, indexed [j, i]: four parameters each
        self.w_raw, self.sigma, self.mu, self.erev = parameter(n, n), parameter(n, n), parameter(n, n), parameter(n, n)
        # sensory synapses input k -> neuron i, indexed [k, i]
        self.sensory_w_raw, self.sensory_sigma = parameter(k, n), parameter(k, n)
        self.sensory_mu, self.sensory_erev = parameter(k, n), parameter(k, n)
        self.input_w, self.input_b = parameter(k), parameter(k)
        self.readout = nn.Linear(n, config.output_dim)  # initialised by nn.Linear's default
        self.reset_parameters()

    @torch.no_grad()
    def reset_parameters(self) -> None:
        """LTC's initial ranges (module docstring); reversal potentials +-1."""
        self.gleak_raw.uniform_(0.001, 1.0).copy_(inverse_softplus(self.gleak_raw))
        self.vleak.uniform_(-0.2, 0.2)
        self.cm_raw.uniform_(0.4, 0.6).copy_(inverse_softplus(self.cm_raw))
        for w, sigma, mu, erev in ((self.w_raw, self.sigma, self.mu, self.erev),
                                   (self.sensory_w_raw, self.sensory_sigma, self.sensory_mu, self.sensory_erev)):
            w.uniform_(0.001, 1.0).copy_(inverse_softplus(w))
            sigma.uniform_(3.0, 8.0)
            mu.uniform_(0.3, 0.8)
            erev.bernoulli_(0.5).mul_(2.0).sub_(1.0)
        self.input_w.fill_(1.0)
        self.input_b.fill_(0.0)

    # --- the positive parameters ------------------------------------------------------------------------
    @property
    def gleak(self) -> torch.Tensor:
        return F.softplus(self.gleak_raw)

    @property
    def cm(self) -> torch.Tensor:
        return F.softplus(self.cm_raw)

    @property
    def w(self) -> torch.Tensor:
        return F.softplus(self.w_raw)

    @property
    def sensory_w(self) -> torch.Tensor:
        return F.softplus(self.sensory_w_raw)

    # --- the maths -----------------------------------------------------------------------------------------
    def sensory_drive(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """sum_k G_ki and sum_k G_ki E_ki of the sensory synapses for one input step x (batch, input_dim)."""
        u = x * self.input_w + self.input_b
        g = synapse_conductance(u, self.sensory_w, self.sensory_sigma, self.sensory_mu)
        return g.sum(1), (g * self.sensory_erev).sum(1)

    def state_dependent_coefficients(self, v: torch.Tensor, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(A, b) of dv/dt = A v + b at state v (batch, N) and input x: A's diagonal (batch, N) and b (batch, N)."""
        g_in, ge_in = self.sensory_drive(x)
        g = synapse_conductance(v, self.w, self.sigma, self.mu)
        total = self.gleak + g.sum(1) + g_in
        drive = self.gleak * self.vleak + (g * self.erev).sum(1) + ge_in
        return -total / self.cm, drive / self.cm

    def derivative(self, v: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """dv/dt of the membrane ODE at state v and input x."""
        a, b = self.state_dependent_coefficients(v, x)
        return a * v + b

    def step(self, v: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """One input step: `ode_unfolds` fused semi-implicit Euler steps of dt = elapsed_time / ode_unfolds."""
        cfg = self.config
        g_in, ge_in = self.sensory_drive(x)  # the input is held for the whole step
        cm_over_dt = self.cm * (cfg.ode_unfolds / cfg.elapsed_time)
        leak, leak_drive = self.gleak, self.gleak * self.vleak
        w, erev = self.w, self.erev
        for _ in range(cfg.ode_unfolds):
            g = synapse_conductance(v, w, self.sigma, self.mu)  # (batch, pre, post)
            numerator = cm_over_dt * v + leak_drive + (g * erev).sum(1) + ge_in
            denominator = cm_over_dt + leak + g.sum(1) + g_in
            v = numerator / (denominator + cfg.epsilon)
        return v

    def states(self, x: torch.Tensor) -> torch.Tensor:
        """Membrane potentials after every input step: (batch, T, input_dim) -> (batch, T, N), from v = 0."""
        v = x.new_zeros(x.shape[0], self.config.neurons)
        out = []
        for t in range(x.shape[1]):
            v = self.step(v, x[:, t])
            out.append(v)
        return torch.stack(out, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(batch, T, input_dim) sequence -> (batch, output_dim), read after the last step."""
        cfg = self.config
        if not torch.is_tensor(x) or not x.is_floating_point():
            raise TypeError(f"ltc-biophysical-synapses expects a floating-point tensor (batch, T, {cfg.input_dim}), "
                            f"got {getattr(x, 'dtype', type(x).__name__)}")
        if x.dim() != 3 or x.shape[-1] != cfg.input_dim or x.shape[1] < 1:
            raise ValueError(f"ltc-biophysical-synapses expects input of shape (batch, T >= 1, {cfg.input_dim}), "
                             f"got {tuple(x.shape)}")
        v = x.new_zeros(x.shape[0], cfg.neurons)
        for t in range(x.shape[1]):
            v = self.step(v, x[:, t])
        return self.readout(v)

    def synapse_parameters(self) -> int:
        """Trainable parameters held by synapses (4 per recurrent or sensory synapse)."""
        return sum(p.numel() for p in (self.w_raw, self.sigma, self.mu, self.erev, self.sensory_w_raw,
                                       self.sensory_sigma, self.sensory_mu, self.sensory_erev))
