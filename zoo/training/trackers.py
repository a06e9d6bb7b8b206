"""Experiment trackers of a training run (``log_with``), through Accelerate's own trackers.

A run's trackers write inside its out_dir: TensorBoard event files under ``<out_dir>/logs/<run>``,
MLflow's file store under ``<out_dir>/mlruns`` (a ``file:`` tracking URI, never a server). The
names are checked, and their packages found, before any training starts.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
from pathlib import Path

from ..errors import ConfigError, did_you_mean

__all__ = ["TRACKERS", "EXTRA", "tracker_names", "check_trackers", "Trackers"]

# tracker name -> the module it needs
TRACKERS = {"tensorboard": "tensorboard", "mlflow": "mlflow"}
EXTRA = "trackers"  # the pip extra that installs every tracker above
LOGS, MLRUNS = "logs", "mlruns"


def tracker_names(value) -> list[str]:
    """log_with as a list of names: None, a name, "a,b", or a list of names (each may hold commas)."""
    if value is None:
        return []
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)) or not all(isinstance(v, str) for v in items):
        raise ValueError(f"log_with must be a tracker name, comma-separated names or a list of names, got {value!r:.80}")
    names = [n.strip().lower() for item in items for n in item.split(",") if n.strip()]
    return list(dict.fromkeys(names))  # each once, in the order given


def check_trackers(names: list[str], out_dir) -> None:
    """ConfigError for an unknown tracker, one whose package is missing, or trackers without out_dir."""
    for name in names:
        if name not in TRACKERS:
            raise ConfigError(f"log_with: unknown tracker {name!r}; known trackers: {', '.join(TRACKERS)}."
                              + did_you_mean(name, TRACKERS))
        if importlib.util.find_spec(TRACKERS[name]) is None:
            raise ConfigError(f"log_with: tracker {name!r} needs the {TRACKERS[name]!r} package, which is not "
                              f"installed; install it with: pip install 'paperzoo[{EXTRA}]'")
    if names and out_dir is None:
        raise ConfigError(f"log_with={names} writes the trackers' logs into the run directory; pass out_dir "
                          f"(zoo train --out)")


def _hyperparameters(config: dict) -> dict:
    """The run's config as trackers take hyperparameters: scalars and text (lists as text, None left out)."""
    return {k: (v if isinstance(v, (bool, int, float, str)) else str(v)) for k, v in config.items() if v is not None}


class Trackers:
    """The trackers of one run around an Accelerator built with ``log_with`` and ``project_dir``:
    `start` when training starts, `log` with the optimizer step, `close` always at the end."""

    def __init__(self, accelerator, names: list[str], out: Path, config: dict):
        self.accelerator, self.names, self.out, self.config = accelerator, names, out, config
        self.active = False
        self._mlflow_restore = None

    def start(self) -> None:
        if not self.names or self.active:
            return
        kwargs = {}
        if "mlflow" in self.names:
            self._mlflow_restore = _use_mlflow_file_store(self.out / MLRUNS)
            kwargs["mlflow"] = {"logging_dir": (self.out / MLRUNS).resolve().as_uri()}
        self.active = True  # from here on, close() ends whatever init_trackers started
        self.accelerator.init_trackers(self.out.name or "run", config=_hyperparameters(self.config),
                                       init_kwargs=kwargs)

    def log(self, values: dict, step: int) -> None:
        if self.active:
            self.accelerator.log(values, step=step)

    def close(self) -> None:
        try:
            if self.active:
                self.accelerator.end_training()
        finally:
            self.active = False
            if self._mlflow_restore is not None:
                self._mlflow_restore()
                self._mlflow_restore = None


def _use_mlflow_file_store(root: Path):
    """Point MLflow (process-wide, as its fluent API and Accelerate's tracker need) at a file store in
    `root` for this run; returns the function that restores the previous tracking URI."""
    import mlflow
    from mlflow.tracking import is_tracking_uri_set

    had_uri = is_tracking_uri_set()
    previous_uri = mlflow.get_tracking_uri() if had_uri else None
    # MLflow 3 keeps its file store behind this switch; the run sets it only while it logs
    previous_allow = os.environ.get("MLFLOW_ALLOW_FILE_STORE")
    os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"
    root.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(root.resolve().as_uri())

    def restore() -> None:
        with contextlib.suppress(Exception):
            mlflow.set_tracking_uri(previous_uri)
        if previous_allow is None:
            os.environ.pop("MLFLOW_ALLOW_FILE_STORE", None)
        else:
            os.environ["MLFLOW_ALLOW_FILE_STORE"] = previous_allow

    return restore
