"""`camel/pendulum` and `camel/oscillator`: multi-environment regression of a physical system's
acceleration from its state, the setting of CAMEL's experiments (Blanke & Lelarge, ICLR 2024,
its experiments): each environment is the same system with its own physical parameters, and a model must
adapt to unseen environments from a few of their points.

Data come from the shared generator `zoo_plugins.tasks.dynamics`: per environment, parameters drawn
uniformly from the system's ranges, `trajectories` started from random states, and at each
visited state x = (q, q_dot) the target y = q_ddot, the system's exact acceleration plus Gaussian
noise of std `noise`. Both systems are linear in two physical coefficients beta:

    pendulum:          q_ddot = -omega^2 sin q - damping q_dot,    beta = (omega^2, damping)
    damped oscillator: q_ddot = -omega^2 q - 2 zeta omega q_dot,   beta = (omega^2, 2 zeta omega)

so a model affine in task weights can identify beta (`task.coefficients`).

Splits (for `zoo.train`): samples (x, environment index, y) of the training environments, their
points split 70/15/15 at random into train / val / test. The adaptation data of the unseen
environments is in `task.unseen`: per environment `support` points (what a learner adapts on)
and `query` points (where its error is measured), with their coefficients in `task.unseen_coefficients`.
"""

from __future__ import annotations

import numpy as np

from zoo.tasks import ArraySplit, Task, TaskInfo

__all__ = ["MultiEnvironmentTask", "physical_coefficients", "environment_points", "SUPPORTED_SYSTEMS"]

SUPPORTED_SYSTEMS = ("pendulum", "damped-oscillator")


def physical_coefficients(system: str, params: dict[str, float]) -> np.ndarray:
    """beta, the coefficients in which the system's acceleration is linear (see the module docstring)."""
    if system == "pendulum":
        return np.array([params["omega"] ** 2, params["damping"]])
    if system == "damped-oscillator":
        return np.array([params["omega"] ** 2, 2.0 * params["zeta"] * params["omega"]])
    raise ValueError(f"system {system!r} is not supported; expected one of {SUPPORTED_SYSTEMS}")


def environment_points(system: str, params: dict[str, float], points: int, rng: np.random.Generator, *,
                       trajectories_per_env: int = 2, dt: float = 0.1, noise: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """`points` states (points, 2) visited by the system under `params` (along `trajectories_per_env`
    trajectories from random initial states) and their accelerations (points, 1) plus noise."""
    from zoo_plugins.tasks.dynamics import SYSTEMS, trajectories

    length = -(-points // trajectories_per_env)
    paths, _ = trajectories(system, trajectories_per_env, length, dt, rng, params=[params] * trajectories_per_env)
    states = paths.reshape(-1, 2)[:points]
    derivative = SYSTEMS[system].derivative
    acceleration = np.array([derivative(s, **params)[1] for s in states])[:, None]
    return states, acceleration + rng.normal(0.0, noise, acceleration.shape) if noise else acceleration


class MultiEnvironmentTask(Task):
    """Options: system, train_envs, unseen_envs, points (per training environment), support and
    query (per unseen environment), dt, noise, seed."""

    kind = "regression"

    def __init__(self, system: str = "pendulum", train_envs: int = 20, unseen_envs: int = 20, points: int = 100,
                 support: int = 10, query: int = 100, dt: float = 0.1, noise: float = 0.01, seed: int = 0,
                 name: str = "camel/pendulum"):
        if system not in SUPPORTED_SYSTEMS:
            raise ValueError(f"system {system!r} is not supported; expected one of {SUPPORTED_SYSTEMS}")
        for label, value, low in (("train_envs", train_envs, 2), ("unseen_envs", unseen_envs, 1),
                                  ("points", points, 7), ("support", support, 1), ("query", query, 1)):
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= 100_000:
                raise ValueError(f"{label} must be an int in [{low}, 100000], got {value!r}")
        if not (isinstance(noise, (int, float)) and 0 <= noise < 100):
            raise ValueError(f"noise must be a number in [0, 100), got {noise!r}")
        if not (isinstance(dt, (int, float)) and 0 < dt <= 10):
            raise ValueError(f"dt must be a number in (0, 10], got {dt!r}")
        from zoo_plugins.tasks.dynamics import sample_parameters

        self.name, self.system, self.seed = name, system, seed
        rng = np.random.default_rng(seed)
        self.train_params = sample_parameters(system, train_envs, rng)
        self.unseen_params = sample_parameters(system, unseen_envs, rng)
        self.coefficients = np.stack([physical_coefficients(system, p) for p in self.train_params])
        self.unseen_coefficients = np.stack([physical_coefficients(system, p) for p in self.unseen_params])
        xs, ys, envs = [], [], []
        for env, params in enumerate(self.train_params):
            x, y = environment_points(system, params, points, rng, dt=dt, noise=noise)
            xs.append(x), ys.append(y), envs.append(np.full(points, env))
        x, y, env = np.concatenate(xs), np.concatenate(ys), np.concatenate(envs)
        order = rng.permutation(len(x))
        cut_val, cut_test = int(0.7 * len(x)), int(0.85 * len(x))
        parts = {"train": order[:cut_val], "val": order[cut_val:cut_test], "test": order[cut_test:]}
        self._splits = {k: ArraySplit(x[i], env[i], y[i]) for k, i in parts.items()}
        self.unseen = []
        for params in self.unseen_params:
            x, y = environment_points(system, params, support + query, rng, dt=dt, noise=noise)
            pick = rng.permutation(len(x))  # support and query from the same trajectories, disjoint points
            self.unseen.append({"support": (x[pick[:support]], y[pick[:support]]),
                                "query": (x[pick[support:]], y[pick[support:]])})
        self.info = TaskInfo(kind=self.kind, input_shape=(2,), output_dim=1,
                             extra={"environments": train_envs, "system": system, "support": support})

    def splits(self) -> dict:
        return dict(self._splits)

    def inputs(self, batch) -> tuple:
        return (batch[0], batch[1])

    def targets(self, batch):
        return batch[2]

    def loss(self, output, batch):
        from zoo.tasks import mse

        return mse(output, batch[2])

    def metrics(self) -> dict:
        from zoo.tasks import standard_metrics

        return standard_metrics("regression")
