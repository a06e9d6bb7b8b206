"""`mlpst/grid-flow`: predict the next inflow/outflow map of a city grid from its closeness, period
and trend (the ST-ResNet / MLPST setting), on the shared generator `traffic_grid` (daily and weekly
periods, smooth demand, neighbour diffusion).

With s steps a day, the sample for time t reads the `closeness` last steps (t-1, ..., t-lc), the
`period` same-time steps of the previous days (t-s, ..., t-lp s) and the `trend` same-time steps of
the previous weeks (t-7s, ..., t-lt 7s); the target is the map at t. Inputs are one tensor
(lc + lp + lt, 2, H, W), closeness first then period then trend, each part most recent first.
Flows are min-max scaled to [-1, 1] with the training segment's range (as ST-ResNet does);
`info.extra["scale"]` = (max - min) / 2 turns a scaled RMSE back into flow units. Splits are
chronological 70/10/20 over the samples.
"""

from __future__ import annotations

import numpy as np

from zoo.tasks import ArrayTask

__all__ = ["grid_flow_task", "closeness_period_trend"]


def closeness_period_trend(flows: np.ndarray, closeness: int, period: int, trend: int,
                           steps_per_day: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(inputs (n, lc + lp + lt, C, H, W), targets (n, C, H, W), target times (n,)) for every time t
    that has its whole history in `flows` (steps, C, H, W)."""
    lags = ([i for i in range(1, closeness + 1)] + [i * steps_per_day for i in range(1, period + 1)]
            + [i * 7 * steps_per_day for i in range(1, trend + 1)])
    first = max(lags)
    times = np.arange(first, len(flows))
    if len(times) < 1:
        raise ValueError(f"{len(flows)} steps are too few for a history of {first} steps")
    inputs = np.stack([flows[times - lag] for lag in lags], 1)
    return inputs, flows[times], times


def grid_flow_task(name: str = "mlpst/grid-flow", *, height: int = 16, width: int = 8, weeks: int = 6,
                   steps_per_day: int = 48, closeness: int = 3, period: int = 1, trend: int = 1,
                   noise: float = 0.05, seed: int = 0) -> ArrayTask:
    """The task described in the module docstring; the grid and lengths default to BikeNYC's 16 x 8
    grid, half-hour steps and ST-ResNet's closeness 3, period 1, trend 1."""
    from zoo_plugins.tasks.dynamics import chronological_split, traffic_grid

    for label, value, low, high in (("weeks", weeks, 2, 520), ("closeness", closeness, 1, 48),
                                    ("period", period, 0, 14), ("trend", trend, 0, 4)):
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ValueError(f"{label} must be an int in [{low}, {high}], got {value!r}")
    if trend >= weeks:
        raise ValueError(f"trend={trend} needs more than {trend} weeks of data, got weeks={weeks}")
    rng = np.random.default_rng(seed)
    flows = traffic_grid(height, width, weeks * 7 * steps_per_day, rng, steps_per_day=steps_per_day, noise=noise)
    inputs, targets, _ = closeness_period_trend(flows, closeness, period, trend, steps_per_day)
    parts = chronological_split(len(inputs))
    low, high = float(targets[parts["train"]].min()), float(targets[parts["train"]].max())
    scale = (high - low) / 2.0
    scaled = lambda a: (a - low) / scale - 1.0  # noqa: E731
    splits = {k: (scaled(inputs[p]), scaled(targets[p]).reshape(p.stop - p.start, -1)) for k, p in parts.items()}
    return ArrayTask(name, "forecasting", splits, extra={
        "closeness": closeness, "period": period, "trend": trend, "height": height, "width": width, "channels": 2,
        "steps_per_day": steps_per_day, "scale": scale, "minimum": low, "seed": seed})
