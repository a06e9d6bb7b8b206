"""`dkf/state-space`: decode a hidden linear-Gaussian state from high-dimensional nonlinear
observations (the neural-decoding setting of the DKF paper, Burkhart et al. 2020, with
generated data in place of recorded neurons).

One long sequence from the shared generator `zoo_plugins.tasks.dynamics.state_space`: a 2-D state
rotating slowly with decay 0.98 (z_t = F z_{t-1} + N(0, process_noise^2 I)) seen through a fixed
random two-layer tanh network into `obs_dim` channels plus noise (x_t = g(z_t) + N(0,
obs_noise^2 I)). It is split in time 70/10/20 into train / val / test segments, each cut into
windows of `window` steps: samples (x (window, obs_dim), z (window, state_dim)). The whole segments
are in `task.segments` (the reproduction filters the test segment in one pass).
"""

from __future__ import annotations

import numpy as np

from zoo.tasks import ArraySplit, Task, TaskInfo

__all__ = ["StateSpaceTask"]


class StateSpaceTask(Task):
    """Options: length, window, state_dim, obs_dim, process_noise, obs_noise, nonlinear, seed."""

    kind = "regression"

    def __init__(self, length: int = 6000, window: int = 50, state_dim: int = 2, obs_dim: int = 20,
                 process_noise: float = 0.1, obs_noise: float = 0.1, nonlinear: bool = True, seed: int = 0,
                 name: str = "dkf/state-space"):
        if isinstance(window, bool) or not isinstance(window, int) or not 2 <= window <= 10_000:
            raise ValueError(f"window must be an int in [2, 10000], got {window!r}")
        if isinstance(length, bool) or not isinstance(length, int) or length < 10 * window:
            raise ValueError(f"length must be an int of at least 10 windows ({10 * window}), got {length!r}")
        from zoo_plugins.tasks.dynamics import chronological_split, state_space

        self.name, self.seed, self.window = name, seed, window
        states, observations = state_space(length, np.random.default_rng(seed), state_dim=state_dim, obs_dim=obs_dim,
                                           process_noise=process_noise, obs_noise=obs_noise, nonlinear=nonlinear)
        parts = chronological_split(length)
        self.segments = {k: (observations[p].astype(np.float32), states[p].astype(np.float32)) for k, p in parts.items()}
        self._splits = {}
        for k, (x, z) in self.segments.items():
            n = len(x) // window
            self._splits[k] = ArraySplit(x[: n * window].reshape(n, window, obs_dim),
                                         z[: n * window].reshape(n, window, state_dim))
        self.info = TaskInfo(kind=self.kind, input_shape=(window, obs_dim), output_dim=state_dim,
                             extra={"state_dim": state_dim, "obs_dim": obs_dim, "window": window})

    def splits(self) -> dict:
        return dict(self._splits)

    def loss(self, output, batch):
        from zoo.tasks import mse

        return mse(output, batch[1])

    def metrics(self) -> dict:
        from zoo.tasks import standard_metrics

        return standard_metrics("regression")
