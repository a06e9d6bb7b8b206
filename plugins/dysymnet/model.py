"""DySymNet (Li et al., "A Neural-Guided Dynamic Symbolic Network for Exploring Mathematical
Expressions from Data", ICML 2024): symbolic regression by searching over the structures of a
symbolic network with an RNN controller.

Symbolic network (Sec. 3.1). Each hidden layer holds operator units (identity, square, sin, cos,
exp: one input; mul: two inputs). Layer l computes the inputs of its units as an affine map of the
previous layer's outputs, g_l = W_l h_{l-1} + b_l, and outputs h_l = [op_u(g_l,u)]_u; the output is
y = w^T h_L + b. The weights are the expression's constants, fitted by gradient descent on the MSE
(with an L1 penalty, then pruning of small weights and a refit of the rest, so that the expression
read off the network is sparse); `expression()` writes the network as a sympy expression.

Controller (Sec. 3.2). An RNN samples a structure token by token: the number of hidden layers, then
for each layer the number of operator units and each unit's operator. Each sampled structure is
built, fitted, and scored with the reward R = 1 / (1 + NRMSE), NRMSE the RMSE over the std of y. The
controller is trained with the risk-seeking policy gradient (Petersen et al. 2021): only the batch's
samples above the (1 - epsilon) quantile R_eps of the rewards contribute,

    loss = -mean_{R_i >= R_eps} (R_i - R_eps) log p(tau_i) - lambda_H H,

which optimises the best-case rather than the average reward: what symbolic regression needs.

Departures (budget and simplest readings): operator library of six functions; layers 1-3 with 2-4
units; each structure fitted briefly (200 Adam steps with the L1 penalty, pruning, then L-BFGS on the
surviving constants, where the paper trains with Adam only for longer); short searches; structures
seen before reuse their reward.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .config import OPERATORS, SymbolicNetworkConfig

__all__ = ["SymbolicNetwork", "Controller", "fit_network", "reward", "search", "equivalent", "risk_seeking_loss",
           "arity", "UNARY"]

UNARY = {
    "identity": (lambda g: g, lambda g: g),
    "square": (lambda g: g ** 2, lambda g: g ** 2),
    "sin": (torch.sin, None),
    "cos": (torch.cos, None),
    "exp": (lambda g: torch.exp(g.clamp(max=20.0)), None),  # clamped: a stray weight must not overflow
}


def arity(op: str) -> int:
    return 2 if op == "mul" else 1


class SymbolicNetwork(nn.Module):
    """Hidden layers of operator units on affine maps of the previous layer, and a linear output."""

    def __init__(self, config: SymbolicNetworkConfig | None = None):
        super().__init__()
        self.config = config = config or SymbolicNetworkConfig()
        width = config.n_inputs
        self.weights, self.biases = nn.ParameterList(), nn.ParameterList()
        for layer in config.layers:
            inputs = sum(arity(op) for op in layer)
            self.weights.append(nn.Parameter(torch.randn(inputs, width) * config.init_std))
            self.biases.append(nn.Parameter(torch.zeros(inputs), requires_grad=config.bias))
            width = len(layer)
        self.out_weight = nn.Parameter(torch.randn(1, width) * config.init_std)
        self.out_bias = nn.Parameter(torch.zeros(1), requires_grad=config.bias)
        for i, p in enumerate(self.masked_parameters()):
            self.register_buffer(f"mask_{i}", torch.ones_like(p))

    def masked_parameters(self) -> list[nn.Parameter]:
        return [*self.weights, *self.biases, self.out_weight, self.out_bias]

    def masks(self) -> list[torch.Tensor]:
        return [getattr(self, f"mask_{i}") for i in range(len(self.masked_parameters()))]

    def effective(self) -> list[torch.Tensor]:
        """The parameters times their pruning masks."""
        return [p * m for p, m in zip(self.masked_parameters(), self.masks())]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(batch, n_inputs) -> (batch, 1)."""
        if not torch.is_tensor(x) or not x.is_floating_point():
            raise TypeError(f"SymbolicNetwork expects a floating-point tensor, got {getattr(x, 'dtype', type(x))}")
        if x.dim() != 2 or x.shape[1] != self.config.n_inputs:
            raise ValueError(f"SymbolicNetwork expects input of shape (batch, {self.config.n_inputs}), got "
                             f"{tuple(x.shape)}")
        params = self.effective()
        n = len(self.config.layers)
        h = x
        for layer, w, b in zip(self.config.layers, params[:n], params[n:2 * n]):
            g = h @ w.T + b
            outs, i = [], 0
            for op in layer:
                if op == "mul":
                    outs.append(g[:, i] * g[:, i + 1])
                    i += 2
                else:
                    outs.append(UNARY[op][0](g[:, i]))
                    i += 1
            h = torch.stack(outs, 1)
        return h @ params[-2].T + params[-1]

    def l1(self) -> torch.Tensor:
        return sum(p.abs().sum() for p in self.effective())

    @torch.no_grad()
    def prune(self, threshold: float) -> None:
        """Zero (and freeze at zero) every weight and bias with |value| < threshold."""
        for p, m in zip(self.masked_parameters(), self.masks()):
            m.mul_((p.abs() >= threshold).to(m.dtype))

    def expression(self, digits: int = 4):
        """The network as a sympy expression in x1..xd, constants rounded to `digits` decimals."""
        import sympy

        params = [p.detach().double().numpy() for p in self.effective()]
        n = len(self.config.layers)
        h = list(sympy.symbols(f"x1:{self.config.n_inputs + 1}"))
        const = lambda v: sympy.Float(round(float(v), digits)) if round(float(v), digits) != 0 else 0  # noqa: E731
        funcs = {"identity": lambda g: g, "square": lambda g: g ** 2, "sin": sympy.sin, "cos": sympy.cos,
                 "exp": sympy.exp}
        for layer, w, b in zip(self.config.layers, params[:n], params[n:2 * n]):
            g = [sum(const(w[r, c]) * h[c] for c in range(len(h))) + const(b[r]) for r in range(len(w))]
            outs, i = [], 0
            for op in layer:
                if op == "mul":
                    outs.append(g[i] * g[i + 1])
                    i += 2
                else:
                    outs.append(funcs[op](g[i]))
                    i += 1
            h = outs
        expr = sum(const(params[-2][0, c]) * h[c] for c in range(len(h))) + const(params[-1][0])
        # expanding a deep network's expression can take minutes; only small ones are put in expanded form
        return sympy.expand(expr) if sympy.count_ops(expr) <= 200 else expr


def nrmse(prediction: torch.Tensor, y: torch.Tensor) -> float:
    return float(((prediction - y) ** 2).mean().sqrt() / (y.std() + 1e-12))


def reward(model: SymbolicNetwork, x: torch.Tensor, y: torch.Tensor) -> float:
    """R = 1 / (1 + NRMSE) of the fitted network on (x, y); 0 when the fit is not finite."""
    with torch.no_grad():
        value = nrmse(model(x), y)
    return 1.0 / (1.0 + value) if math.isfinite(value) else 0.0


def fit_network(model: SymbolicNetwork, x: torch.Tensor, y: torch.Tensor, *, steps: int = 200, lr: float = 5e-2,
                l1: float = 1e-4, threshold: float = 0.01, lbfgs_iterations: int = 30) -> SymbolicNetwork:
    """Fit the constants by gradient descent: Adam on the MSE plus l1 * |weights|, prune |w| < threshold,
    then refine the surviving constants with L-BFGS on the MSE alone. A non-finite loss ends a phase
    (the reward then scores what is there)."""
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=lr)
    for _ in range(steps):
        loss = ((model(x) - y) ** 2).mean() + l1 * model.l1()
        if not torch.isfinite(loss):
            break
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 10.0)
        optimizer.step()
    model.prune(threshold)
    if lbfgs_iterations:
        refine = torch.optim.LBFGS([p for p in model.parameters() if p.requires_grad], lr=1.0,
                                   max_iter=lbfgs_iterations, line_search_fn="strong_wolfe")

        def closure():
            refine.zero_grad()
            mse = ((model(x) - y) ** 2).mean()
            if torch.isfinite(mse):
                mse.backward()
            return mse

        before = [p.detach().clone() for p in model.parameters()]
        try:
            refine.step(closure)
        except RuntimeError:  # a line search that met a non-finite value: keep the Adam fit
            pass
        if not all(torch.isfinite(p).all() for p in model.parameters()):
            with torch.no_grad():
                for p, old in zip(model.parameters(), before):
                    p.copy_(old)
    return model


class Controller(nn.Module):
    """GRU that samples a structure: layer count, then per layer a unit count and each unit's operator."""

    def __init__(self, layer_choices=(1, 2, 3), unit_choices=(2, 3, 4), operators=OPERATORS, hidden: int = 32):
        super().__init__()
        self.layer_choices, self.unit_choices, self.operators = list(layer_choices), list(unit_choices), list(operators)
        self.vocab = len(self.layer_choices) + len(self.unit_choices) + len(self.operators)
        self.embed = nn.Embedding(self.vocab + 1, hidden)  # + a start token
        self.cell = nn.GRUCell(hidden, hidden)
        self.heads = nn.ModuleDict({"layers": nn.Linear(hidden, len(self.layer_choices)),
                                    "units": nn.Linear(hidden, len(self.unit_choices)),
                                    "op": nn.Linear(hidden, len(self.operators))})
        self.offsets = {"layers": 0, "units": len(self.layer_choices),
                        "op": len(self.layer_choices) + len(self.unit_choices)}
        self.hidden = hidden

    def sample(self, generator: torch.Generator | None = None, forced: list[list[str]] | None = None):
        """One structure (list of layers of operator names), its log-probability and entropy; with
        `forced`, the log-probability and entropy of that structure instead of a new draw."""
        h = torch.zeros(1, self.hidden)
        token = torch.tensor([self.vocab])
        log_prob, entropy = torch.zeros(()), torch.zeros(())

        def draw(kind: str, value: int | None):
            nonlocal h, token, log_prob, entropy
            h = self.cell(self.embed(token), h)
            dist = torch.distributions.Categorical(logits=self.heads[kind](h)[0])
            choice = torch.multinomial(dist.probs, 1, generator=generator)[0] if value is None else torch.tensor(value)
            log_prob = log_prob + dist.log_prob(choice)
            entropy = entropy + dist.entropy()
            token = (choice + self.offsets[kind]).reshape(1)
            return int(choice)

        structure = []
        n_layers = self.layer_choices[draw("layers", None if forced is None else self.layer_choices.index(len(forced)))]
        for l in range(n_layers):
            units = self.unit_choices[draw("units", None if forced is None else self.unit_choices.index(len(forced[l])))]
            structure.append([self.operators[draw("op", None if forced is None else self.operators.index(forced[l][u]))]
                              for u in range(units)])
        return structure, log_prob, entropy


def risk_seeking_loss(rewards: torch.Tensor, log_probs: torch.Tensor, entropies: torch.Tensor, quantile: float,
                      entropy_weight: float) -> torch.Tensor:
    """-mean_{R_i >= R_eps} (R_i - R_eps) log p(tau_i) - entropy_weight * mean H, R_eps the `quantile` of R."""
    threshold = torch.quantile(rewards, quantile)
    keep = rewards >= threshold
    return -((rewards - threshold)[keep] * log_probs[keep]).mean() - entropy_weight * entropies.mean()


def search(x: torch.Tensor, y: torch.Tensor, *, epochs: int = 4, batch: int = 6, quantile: float = 0.5,
           entropy_weight: float = 0.01, lr: float = 3e-3, seed: int = 0, fit_options: dict | None = None,
           stop_reward: float = 0.9999, log=None) -> dict:
    """DySymNet's search: sample `batch` structures per epoch, fit each, update the controller with the
    risk-seeking policy gradient on the top (1 - quantile) of the rewards; return the best network."""
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    controller = Controller()
    optimizer = torch.optim.Adam(controller.parameters(), lr=lr)
    cache: dict[str, tuple[float, SymbolicNetwork]] = {}
    best = {"reward": -1.0}
    history = []
    for epoch in range(epochs):
        samples = [controller.sample(generator) for _ in range(batch)]
        rewards = []
        for structure, _, _ in samples:
            key = repr(structure)
            if key not in cache:
                torch.manual_seed(seed * 1000 + len(cache))
                net = SymbolicNetwork(SymbolicNetworkConfig(n_inputs=x.shape[1], layers=structure))
                fit_network(net, x, y, **(fit_options or {}))
                cache[key] = (reward(net, x, y), net)
            r, net = cache[key]
            rewards.append(r)
            if r > best["reward"]:
                best = {"reward": r, "structure": structure, "network": net, "epoch": epoch}
        values = torch.tensor(rewards)
        loss = risk_seeking_loss(values, torch.stack([lp for _, lp, _ in samples]),
                                 torch.stack([e for _, _, e in samples]), quantile, entropy_weight)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        history.append({"epoch": epoch, "max_reward": float(values.max()), "mean_reward": float(values.mean())})
        if log:
            log(f"epoch {epoch}: max reward {values.max():.4f}, mean {values.mean():.4f}, best {best['reward']:.5f}")
        if best["reward"] >= stop_reward:
            break
    best["history"], best["evaluated"] = history, len(cache)
    return best


def equivalent(found, truth, digits: int = 2, max_ops: int = 400) -> bool:
    """Exact recovery: `found` with its constants rounded to `digits` decimals (then made rational) is
    symbolically equal to `truth` (sympy: expand, expand_trig, simplify of the difference). A numeric
    comparison at random points rejects non-equal candidates first (simplify can take minutes on a large
    expression); expressions of more than `max_ops` operations are not compared (an exact recovery of a
    Nguyen equation is small)."""
    import numpy as np
    import sympy

    if found is None or sympy.count_ops(found) > max_ops:
        return False
    rounded = found.xreplace({f: sympy.Float(round(float(f), digits)) for f in found.atoms(sympy.Float)})
    rational = sympy.nsimplify(rounded, rational=True)
    variables = sorted(rational.free_symbols | truth.free_symbols, key=lambda v: v.name)
    if variables:
        points = np.random.default_rng(0).uniform(0.1, 0.9, (len(variables), 16))
        with np.errstate(all="ignore"):
            a = np.asarray(sympy.lambdify(variables, rational, "numpy")(*points), dtype=float) * np.ones(16)
            b = np.asarray(sympy.lambdify(variables, truth, "numpy")(*points), dtype=float) * np.ones(16)
        if not np.allclose(a, b, rtol=1e-9, atol=1e-9):
            return False
    difference = sympy.expand_trig(sympy.expand(rational - truth))
    return sympy.simplify(difference) == 0
