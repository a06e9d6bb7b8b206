"""Generated dynamical systems and time series, the one data source of the zoo's time-series and
dynamics plugins: ODE systems with varying physical parameters, irregular sampling and missing
values, coupled multivariate series with a planted relation graph, city-grid traffic flows, and
latent state-space models seen through high-dimensional nonlinear observations.

Everything is numpy and scipy, seeded through a `numpy.random.Generator`, and returns arrays; the
built-in tasks `dynamics/coupled` and `dynamics/irregular` at the bottom are built on them, and
paper plugins build their own tasks the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from zoo.tasks import ArrayTask

__all__ = ["System", "SYSTEMS", "sample_parameters", "simulate", "trajectories", "irregular_times", "missing_mask",
           "coupled_series", "traffic_grid", "state_space", "sliding_windows", "chronological_split",
           "coupled_task", "irregular_task"]

MAX_VALUES = 50_000_000  # largest array any generator here builds (samples x steps x channels)


@dataclass(frozen=True)
class System:
    """An autonomous ODE dy/dt = derivative(y, **params), with its parameters' defaults and the
    ranges `sample_parameters` draws from, and the box initial states are drawn from."""

    name: str
    dim: int
    derivative: Callable[..., np.ndarray]
    defaults: dict[str, float]
    ranges: dict[str, tuple[float, float]]
    initial_range: tuple[float, float] = (-1.0, 1.0)
    state_names: tuple[str, ...] = field(default=())


def _damped_oscillator(y, omega, zeta):
    x, v = y
    return np.array([v, -2.0 * zeta * omega * v - omega ** 2 * x])


def _pendulum(y, omega, damping):
    theta, velocity = y
    return np.array([velocity, -omega ** 2 * np.sin(theta) - damping * velocity])


def _lotka_volterra(y, alpha, beta, gamma, delta):
    prey, predator = y
    return np.array([alpha * prey - beta * prey * predator, delta * prey * predator - gamma * predator])


def _van_der_pol(y, mu):
    x, v = y
    return np.array([v, mu * (1.0 - x ** 2) * v - x])


def _lorenz(y, sigma, rho, beta):
    a, b, c = y
    return np.array([sigma * (b - a), a * (rho - c) - b, a * b - beta * c])


SYSTEMS: dict[str, System] = {s.name: s for s in (
    System("damped-oscillator", 2, _damped_oscillator, {"omega": 1.0, "zeta": 0.1},
           {"omega": (0.5, 2.0), "zeta": (0.0, 0.3)}, state_names=("x", "v")),
    System("pendulum", 2, _pendulum, {"omega": 1.0, "damping": 0.1},
           {"omega": (0.5, 2.0), "damping": (0.0, 0.5)}, state_names=("theta", "omega")),
    System("lotka-volterra", 2, _lotka_volterra, {"alpha": 1.0, "beta": 0.5, "gamma": 1.0, "delta": 0.5},
           {"alpha": (0.5, 1.5), "beta": (0.3, 0.7), "gamma": (0.5, 1.5), "delta": (0.3, 0.7)},
           initial_range=(0.5, 3.0), state_names=("prey", "predator")),
    System("van-der-pol", 2, _van_der_pol, {"mu": 1.0}, {"mu": (0.5, 3.0)}, initial_range=(-2.0, 2.0),
           state_names=("x", "v")),
    System("lorenz", 3, _lorenz, {"sigma": 10.0, "rho": 28.0, "beta": 8.0 / 3.0},
           {"sigma": (8.0, 12.0), "rho": (24.0, 32.0), "beta": (2.0, 3.0)}, initial_range=(-10.0, 10.0),
           state_names=("x", "y", "z")),
)}


def _system(name: str) -> System:
    if name not in SYSTEMS:
        raise ValueError(f"unknown system {name!r}; expected one of {', '.join(SYSTEMS)}")
    return SYSTEMS[name]


def _count(label: str, value, low: int = 1, high: int = MAX_VALUES) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not low <= value <= high:
        raise ValueError(f"{label} must be an int in [{low}, {high}], got {value!r}")
    return int(value)


def _rate(label: str, value, high: float = 1.0) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value < high:
        raise ValueError(f"{label} must be a number in [0, {high:g}), got {value!r}")
    return float(value)


def _check_size(*dims: int) -> None:
    if int(np.prod([int(d) for d in dims], dtype=np.float64)) > MAX_VALUES:
        raise ValueError(f"a generated array of shape {tuple(dims)} exceeds {MAX_VALUES} values")


def sample_parameters(system: str, n: int, rng: np.random.Generator,
                      ranges: dict[str, tuple[float, float]] | None = None) -> list[dict[str, float]]:
    """`n` parameter sets drawn uniformly from `ranges` (default: the system's own ranges); a
    parameter missing from `ranges` keeps its own range, an unknown one is an error."""
    spec = _system(system)
    ranges = {**spec.ranges, **(ranges or {})}
    unknown = set(ranges) - set(spec.defaults)
    if unknown:
        raise ValueError(f"system {system!r} has no parameter(s) {sorted(unknown)}; it has {sorted(spec.defaults)}")
    for name, (low, high) in ranges.items():
        if not (np.isfinite(low) and np.isfinite(high) and low <= high):
            raise ValueError(f"range of {name!r} must be finite with low <= high, got ({low}, {high})")
    _count("n", n)
    return [{name: float(rng.uniform(*ranges[name])) for name in spec.defaults} for _ in range(n)]


def simulate(system: str, params: dict[str, float], y0, times) -> np.ndarray:
    """The system's state at `times` (increasing, starting at the initial time), shape
    (len(times), dim), integrated from `y0` by scipy's adaptive RK45 at rtol 1e-7, atol 1e-9."""
    from scipy.integrate import solve_ivp

    spec = _system(system)
    y0 = np.asarray(y0, dtype=np.float64)
    times = np.asarray(times, dtype=np.float64)
    if y0.shape != (spec.dim,):
        raise ValueError(f"y0 of system {system!r} must have shape ({spec.dim},), got {y0.shape}")
    if times.ndim != 1 or len(times) < 1 or np.any(np.diff(times) <= 0) or not np.all(np.isfinite(times)):
        raise ValueError("times must be a 1-d, finite, strictly increasing array")
    params = {**spec.defaults, **params}
    if len(times) == 1:
        return y0[None].copy()
    solution = solve_ivp(lambda t, y: spec.derivative(y, **params), (times[0], times[-1]), y0, t_eval=times,
                         rtol=1e-7, atol=1e-9)
    if not solution.success:
        raise ValueError(f"integrating {system!r} with {params} failed: {solution.message}")
    return solution.y.T


def trajectories(system: str, n: int, length: int, dt: float, rng: np.random.Generator, *,
                 params: list[dict[str, float]] | None = None, ranges: dict | None = None,
                 noise: float = 0.0) -> tuple[np.ndarray, list[dict[str, float]]]:
    """`n` trajectories of `length` steps `dt` apart, shape (n, length, dim), from initial states
    uniform in the system's initial box, each with its own parameters (given, or drawn from
    `ranges`), plus Gaussian observation noise of std `noise`. Returns (trajectories, parameters)."""
    spec = _system(system)
    _count("n", n), _count("length", length)
    _check_size(n, length, spec.dim)
    if not (isinstance(dt, (int, float)) and 0 < dt <= 1e3):
        raise ValueError(f"dt must be a number in (0, 1000], got {dt!r}")
    _rate("noise", noise, 1e3)
    params = sample_parameters(system, n, rng, ranges) if params is None else list(params)
    if len(params) != n:
        raise ValueError(f"params has {len(params)} entries, expected one per trajectory ({n})")
    times = np.arange(length) * float(dt)
    out = np.empty((n, length, spec.dim))
    for i, p in enumerate(params):
        out[i] = simulate(system, p, rng.uniform(*spec.initial_range, size=spec.dim), times)
    if noise:
        out += rng.normal(0.0, noise, size=out.shape)
    return out, params


def irregular_times(n: int, length: int, t_max: float, rng: np.random.Generator) -> np.ndarray:
    """Sorted sample times, shape (n, length): the first at 0, the rest uniform on (0, t_max]."""
    _count("n", n), _count("length", length, 2)
    _check_size(n, length)
    if not (isinstance(t_max, (int, float)) and 0 < t_max <= 1e6):
        raise ValueError(f"t_max must be a number in (0, 1e6], got {t_max!r}")
    rest = np.sort(rng.uniform(0.0, t_max, size=(n, length - 1)), axis=1)
    return np.concatenate([np.zeros((n, 1)), rest], axis=1)


def missing_mask(shape, missing_rate: float, rng: np.random.Generator) -> np.ndarray:
    """A boolean mask of `shape`, True where a value is observed; each value is missing
    independently with probability `missing_rate`."""
    _rate("missing_rate", missing_rate)
    shape = tuple(int(s) for s in np.atleast_1d(shape))
    _check_size(*shape)
    return rng.random(shape) >= missing_rate


def coupled_series(n_series: int, length: int, rng: np.random.Generator, *, density: float = 0.3,
                   strength: float = 0.5, noise: float = 0.1, nonlinear: bool = True,
                   burn_in: int = 200) -> tuple[np.ndarray, np.ndarray]:
    """A stationary vector autoregression on a random sparse directed graph: shape (length, n_series)
    and the graph's weighted adjacency A (A[i, j] != 0: series j drives series i one step later).

        x_t = 0.5 x_{t-1} + A h(x_{t-1}) + s_t + noise,   h = tanh (nonlinear) or the identity

    with s_t a per-series sine of its own period (so every series also has a pattern of its own).
    A is scaled so its largest absolute row sum is `strength` < 0.5: with the 0.5 self-weight and a
    1-Lipschitz h the map is a contraction, so the process is stationary."""
    _count("n_series", n_series, 1, 10_000), _count("length", length)
    _check_size(length + burn_in, n_series)
    density, noise = _rate("density", density, 1.0 + 1e-12), _rate("noise", noise, 1e3)
    if not (isinstance(strength, (int, float)) and 0 <= strength < 0.5):
        raise ValueError(f"strength must be in [0, 0.5) so the process is stationary, got {strength!r}")
    adjacency = (rng.random((n_series, n_series)) < density) * rng.normal(0.0, 1.0, (n_series, n_series))
    np.fill_diagonal(adjacency, 0.0)
    largest_row = np.abs(adjacency).sum(1).max()
    if largest_row > 0:
        adjacency *= strength / largest_row
    periods = rng.uniform(8.0, 40.0, n_series)
    phases = rng.uniform(0, 2 * np.pi, n_series)
    amplitude = 0.3
    x = np.zeros(n_series)
    out = np.empty((length + burn_in, n_series))
    link = np.tanh if nonlinear else (lambda v: v)
    for t in range(length + burn_in):
        season = amplitude * np.sin(2 * np.pi * t / periods + phases)
        x = 0.5 * x + adjacency @ link(x) + season + rng.normal(0.0, noise, n_series)
        out[t] = x
    return out[burn_in:], adjacency


def traffic_grid(height: int, width: int, steps: int, rng: np.random.Generator, *, steps_per_day: int = 48,
                 noise: float = 0.05) -> np.ndarray:
    """Inflow and outflow of a city grid, shape (steps, 2, height, width), non-negative.

    Each cell has a smooth residential and a business share; demand has a daily period (morning
    peak into business cells, evening peak out of them), a weekly one (weekends at 60%), and each
    step a share of the previous step's flow diffuses to the four neighbours, so a cell depends on
    its recent past, the same time yesterday and last week, and its neighbours: the closeness,
    period and trend that spatio-temporal models read."""
    _count("height", height, 1, 1000), _count("width", width, 1, 1000), _count("steps", steps)
    _count("steps_per_day", steps_per_day, 2, 10_000)
    _check_size(steps, 2, height, width)
    noise = _rate("noise", noise, 10.0)
    yy, xx = np.meshgrid(np.linspace(0, 1, height), np.linspace(0, 1, width), indexing="ij")
    business = np.zeros((height, width))
    for _ in range(3):  # a few business districts: smooth bumps
        cy, cx, w = rng.uniform(0, 1), rng.uniform(0, 1), rng.uniform(0.1, 0.3)
        business += np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * w ** 2))
    business /= business.max()
    residential = 1.0 - 0.7 * business
    hours = np.arange(steps) * 24.0 / steps_per_day
    hour, day = hours % 24.0, (hours // 24.0).astype(int)
    morning = np.exp(-((hour - 8.5) ** 2) / 2.0)
    evening = np.exp(-((hour - 18.0) ** 2) / 3.0)
    base = 0.2 + 0.1 * np.sin(2 * np.pi * (hour - 6) / 24).clip(0)
    weekly = np.where(day % 7 >= 5, 0.6, 1.0)
    out = np.empty((steps, 2, height, width))
    previous = np.zeros((2, height, width))
    for t in range(steps):
        inflow = base[t] + morning[t] * business + evening[t] * residential
        outflow = base[t] + morning[t] * residential + evening[t] * business
        flow = weekly[t] * np.stack([inflow, outflow])
        neighbours = (np.roll(previous, 1, 1) + np.roll(previous, -1, 1) + np.roll(previous, 1, 2)
                      + np.roll(previous, -1, 2)) / 4.0
        flow = 0.8 * flow + 0.2 * neighbours
        flow = flow * (1.0 + rng.normal(0.0, noise, flow.shape))
        out[t] = previous = flow.clip(0.0)
    return out


def state_space(length: int, rng: np.random.Generator, *, state_dim: int = 2, obs_dim: int = 20,
                process_noise: float = 0.1, obs_noise: float = 0.1, nonlinear: bool = True,
                hidden: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """A latent linear-Gaussian state seen through high-dimensional observations (neural decoding):

        z_t = F z_{t-1} + N(0, process_noise^2 I),   x_t = g(z_t) + N(0, obs_noise^2 I)

    F is a slow rotation with decay 0.98 (state_dim 2; a random stable matrix otherwise), and g a
    fixed random two-layer tanh network from state to observations (`nonlinear`) or a random linear
    map. Returns (states (length, state_dim), observations (length, obs_dim)); the map and F are
    drawn from `rng` first, so one seed fixes the whole model."""
    _count("length", length), _count("state_dim", state_dim, 1, 1000), _count("obs_dim", obs_dim, 1, 100_000)
    _count("hidden", hidden, 1, 100_000)
    _check_size(length, state_dim + obs_dim)
    process_noise, obs_noise = _rate("process_noise", process_noise, 1e3), _rate("obs_noise", obs_noise, 1e3)
    transition = _transition(state_dim, rng)
    w1, b1 = rng.normal(0.0, 1.5, (hidden, state_dim)), rng.normal(0.0, 0.5, hidden)
    w2 = rng.normal(0.0, 1.0 / np.sqrt(hidden), (obs_dim, hidden))
    linear = rng.normal(0.0, 1.0, (obs_dim, state_dim))
    z = rng.normal(0.0, 1.0, state_dim)
    states = np.empty((length, state_dim))
    for t in range(length):
        z = transition @ z + rng.normal(0.0, process_noise, state_dim)
        states[t] = z
    clean = np.tanh(states @ w1.T + b1) @ w2.T if nonlinear else states @ linear.T
    return states, clean + rng.normal(0.0, obs_noise, clean.shape)


def _transition(state_dim: int, rng: np.random.Generator) -> np.ndarray:
    if state_dim == 2:
        angle = 2 * np.pi / 50
        return 0.98 * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    q, _ = np.linalg.qr(rng.normal(size=(state_dim, state_dim)))
    return 0.98 * q


def sliding_windows(series, lookback: int, horizon: int) -> tuple[np.ndarray, np.ndarray]:
    """Every window of a series along axis 0: inputs (n, lookback, ...) and the `horizon` values
    that follow each (n, horizon, ...), n = len(series) - lookback - horizon + 1 (copies)."""
    series = np.asarray(series)
    _count("lookback", lookback, 1, 100_000), _count("horizon", horizon, 1, 100_000)
    n = len(series) - lookback - horizon + 1
    if n < 1:
        raise ValueError(f"a series of length {len(series)} is too short for lookback {lookback} + horizon {horizon}")
    _check_size(n, lookback + horizon, *series.shape[1:])
    windows = np.lib.stride_tricks.sliding_window_view(series, lookback + horizon, axis=0)
    windows = np.moveaxis(windows, -1, 1)  # (n, lookback + horizon, ...)
    return windows[:, :lookback].copy(), windows[:, lookback:].copy()


def chronological_split(n: int, fractions=(0.7, 0.1, 0.2)) -> dict[str, slice]:
    """Consecutive train / val / test slices of `n` time-ordered samples."""
    _count("n", n, 3)
    if len(fractions) != 3 or any(f <= 0 for f in fractions) or abs(sum(fractions) - 1.0) > 1e-9:
        raise ValueError(f"fractions must be three positive numbers summing to 1, got {fractions!r}")
    cut_val, cut_test = int(round(fractions[0] * n)), int(round((fractions[0] + fractions[1]) * n))
    return {"train": slice(0, cut_val), "val": slice(cut_val, cut_test), "test": slice(cut_test, n)}


def coupled_task(name: str = "dynamics/coupled", *, n_series: int = 8, length: int = 4000, lookback: int = 24,
                 horizon: int = 1, density: float = 0.3, strength: float = 0.45, noise: float = 0.1,
                 seed: int = 0) -> ArrayTask:
    """Forecast the next `horizon` steps of `n_series` coupled series from the last `lookback`.

    Inputs (lookback, n_series), targets (horizon * n_series,) flattened step-major; standardised
    with the training segment's mean and std. Chronological 70/10/20 split. The planted graph is in
    ``info.extra["adjacency"]`` and the test MSE of the no-change forecast in ``extra["naive_mse"]``."""
    rng = np.random.default_rng(seed)
    series, adjacency = coupled_series(n_series, length, rng, density=density, strength=strength, noise=noise)
    parts = chronological_split(length)
    mean, std = series[parts["train"]].mean(0), series[parts["train"]].std(0)
    series = (series - mean) / std
    x, y = sliding_windows(series, lookback, horizon)
    target_index = np.arange(len(x)) + lookback  # the first target step of each window
    splits = {}
    for split, part in parts.items():
        keep = (target_index >= part.start) & (target_index + horizon <= part.stop)
        splits[split] = (x[keep], y[keep].reshape(int(keep.sum()), -1))
    naive = np.repeat(splits["test"][0][:, -1:], horizon, axis=1).reshape(len(splits["test"][0]), -1)
    return ArrayTask(name, "forecasting", splits, extra={
        "n_series": n_series, "lookback": lookback, "horizon": horizon, "adjacency": adjacency.tolist(),
        "naive_mse": float(((naive - splits["test"][1]) ** 2).mean()), "seed": seed})


IRREGULAR_SYSTEMS = ("damped-oscillator", "pendulum", "lotka-volterra", "van-der-pol")


def irregular_task(name: str = "dynamics/irregular", *, n_train: int = 1200, n_val: int = 200, n_test: int = 400,
                   length: int = 50, t_max: float = 10.0, missing_rate: float = 0.3, noise: float = 0.05,
                   seed: int = 0) -> ArrayTask:
    """Which of four systems (damped oscillator, pendulum, Lotka-Volterra, Van der Pol; random
    parameters and initial states) produced an irregularly sampled, partly missing series.

    Each sample has `length` observation times uniform on [0, t_max]; the first state coordinate is
    observed with noise, and each value is then missing with probability `missing_rate`. Inputs
    (length, 3): time, value (0 where missing), observed flag (1/0); classes in IRREGULAR_SYSTEMS
    order, balanced."""
    _count("n_train", n_train, 4), _count("n_val", n_val, 0), _count("n_test", n_test, 4)
    _count("length", length, 2, 10_000)
    _rate("missing_rate", missing_rate)
    rng = np.random.default_rng(seed)
    total = n_train + n_val + n_test
    _check_size(total, length, 3)
    labels = np.arange(total) % len(IRREGULAR_SYSTEMS)
    rng.shuffle(labels)
    times = irregular_times(total, length, t_max, rng)
    values = np.empty((total, length))
    for i, label in enumerate(labels):
        system = IRREGULAR_SYSTEMS[label]
        params = sample_parameters(system, 1, rng)[0]
        y0 = rng.uniform(*SYSTEMS[system].initial_range, size=SYSTEMS[system].dim)
        first = simulate(system, params, y0, np.unique(times[i]))[:, 0]
        values[i] = np.interp(times[i], np.unique(times[i]), first)  # repeated times share a value
    values = (values - values.mean(1, keepdims=True)) / (values.std(1, keepdims=True) + 1e-8)
    values += rng.normal(0.0, noise, values.shape)
    observed = missing_mask(values.shape, missing_rate, rng)
    observed[:, 0] = True  # every series has a start value, so the observations define an initial state
    x = np.stack([times / t_max, np.where(observed, values, 0.0), observed.astype(np.float64)], axis=-1)
    cuts = np.cumsum([n_train, n_val])
    parts = {"train": slice(0, cuts[0]), "val": slice(cuts[0], cuts[1]), "test": slice(cuts[1], total)}
    splits = {split: (x[part], labels[part]) for split, part in parts.items() if part.stop > part.start}
    return ArrayTask(name, "classification", splits, num_classes=len(IRREGULAR_SYSTEMS), extra={
        "class_names": list(IRREGULAR_SYSTEMS), "missing_rate": missing_rate, "t_max": t_max,
        "channels": ["time / t_max", "value (0 if missing)", "observed"], "seed": seed})
