"""N-body tasks of Cranmer et al. (2020): 2D particle systems simulated in numpy, deterministic from a seed.

Each sample is the state of n bodies, (n, 6) rows [x, y, vx, vy, charge, mass], and the target the
accelerations of the bodies, flattened to (2n,). The pairwise forces (on body i from body j, with
delta = x_i - x_j, r = |delta|, r_hat = delta / r) follow the paper's potentials:

    spring   U = (r - 1)^2          F = -2 (r - 1) r_hat
    r1       U = m_i m_j log r      F = -m_i m_j / r r_hat
    r2       U = -m_i m_j / r       F = -m_i m_j / r^2 r_hat
    charge   U = q_i q_j / r        F = q_i q_j / r^2 r_hat

States are taken along trajectories (leapfrog integration from random starts), as in the paper,
so that the bodies' configurations are those the dynamics visit.
"""

from __future__ import annotations

import numpy as np

__all__ = ["SYSTEMS", "pair_forces", "radial_force", "accelerations", "simulate", "nbody_arrays", "nbody_task"]

SYSTEMS = ("spring", "r1", "r2", "charge")
SOFTENING = 1e-2  # added to r in the singular laws, so that close encounters stay finite


def _distance(delta: np.ndarray) -> np.ndarray:
    return np.sqrt((delta ** 2).sum(-1))


def radial_force(system: str, r: np.ndarray, q_i, q_j, m_i, m_j) -> np.ndarray:
    """The force along r_hat (positive: repulsive) of the system's law at distance r."""
    if system == "spring":
        return -2.0 * (r - 1.0)
    soft = r + SOFTENING
    if system == "r1":
        return -m_i * m_j / soft
    if system == "r2":
        return -m_i * m_j / soft ** 2
    if system == "charge":
        return q_i * q_j / soft ** 2
    raise ValueError(f"unknown n-body system {system!r}; expected one of {SYSTEMS}")


def pair_forces(system: str, receiver: np.ndarray, sender: np.ndarray) -> np.ndarray:
    """F on each receiver from its sender: rows of [x, y, vx, vy, q, m] in, (..., 2) forces out."""
    delta = receiver[..., :2] - sender[..., :2]
    r = _distance(delta)
    magnitude = radial_force(system, r, receiver[..., 4], sender[..., 4], receiver[..., 5], sender[..., 5])
    return magnitude[..., None] * delta / np.maximum(r, 1e-12)[..., None]


def accelerations(system: str, state: np.ndarray) -> np.ndarray:
    """(..., n, 2) accelerations a_i = sum_j F_ij / m_i of states (..., n, 6)."""
    n = state.shape[-2]
    receiver = np.repeat(state[..., :, None, :], n, axis=-2)
    sender = np.repeat(state[..., None, :, :], n, axis=-3)
    forces = pair_forces(system, receiver, sender)
    forces[..., np.arange(n), np.arange(n), :] = 0.0  # no self-force
    return forces.sum(-2) / state[..., :, 5:6]


def simulate(system: str, n_bodies: int, n_sims: int, steps: int, dt: float, seed: int) -> np.ndarray:
    """States (n_sims, steps, n_bodies, 6) along leapfrog trajectories from random starts: positions
    and velocities N(0, 1), charges uniform in {-1, 1}, masses exp(U(-1, 1))."""
    rng = np.random.default_rng(seed)
    state = np.zeros((n_sims, n_bodies, 6))
    state[..., :4] = rng.normal(size=(n_sims, n_bodies, 4))
    state[..., 4] = rng.choice([-1.0, 1.0], size=(n_sims, n_bodies))
    state[..., 5] = np.exp(rng.uniform(-1, 1, size=(n_sims, n_bodies)))
    states = np.empty((n_sims, steps, n_bodies, 6))
    for t in range(steps):
        states[:, t] = state
        acc = accelerations(system, state)
        half = state[..., 2:4] + 0.5 * dt * acc  # kick, drift, kick
        state[..., :2] += dt * half
        state[..., 2:4] = half + 0.5 * dt * accelerations(system, state)
    return states


def nbody_arrays(system: str = "spring", n_bodies: int = 4, n_sims: int = 200, steps: int = 50, every: int = 5,
                 dt: float = 0.01, seed: int = 0) -> dict:
    """{split: (states (N, n, 6) float32, accelerations (N, 2n) float32)}: whole simulations go to one
    split (70% train, 15% val, 15% test), every `every`-th step of each is kept."""
    states = simulate(system, n_bodies, n_sims, steps, dt, seed)[:, ::every]
    targets = accelerations(system, states)
    n_train, n_val = int(0.7 * n_sims), int(0.15 * n_sims)
    bounds = {"train": (0, n_train), "val": (n_train, n_train + n_val), "test": (n_train + n_val, n_sims)}
    out = {}
    for split, (lo, hi) in bounds.items():
        x = states[lo:hi].reshape(-1, n_bodies, 6).astype(np.float32)
        y = targets[lo:hi].reshape(-1, n_bodies * 2).astype(np.float32)
        out[split] = (x, y)
    return out


def nbody_task(system: str, **options):
    """The task nbody/<system>: regression of the bodies' accelerations (L1 loss, the paper's)."""
    import torch

    from zoo.tasks import ArrayTask

    n_bodies = options.get("n_bodies", 4)
    return ArrayTask(f"nbody/{system}", "regression", nbody_arrays(system, **options),
                     loss=lambda output, target: torch.nn.functional.l1_loss(output, target),
                     extra={"system": system, "n_bodies": n_bodies, "node_features": 6, "dimensions": 2})
