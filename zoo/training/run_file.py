"""The run file: every run directory's ``run.yaml``, its fully resolved settings (model and config,
task and options, methods, every training option), which ``zoo train --config FILE`` reads back to
replay the run or to start one from a file someone wrote.

    model: kan                    # catalog name; `weights: TAG` starts from that catalog checkpoint
    config: {width: [2, 5, 1], grid: 5}
    task: toy/exp-sin
    task_options: {}
    methods: {}                   # {name: {option: value}}
    train: {epochs: 10, optimizer: lbfgs, lr: 1, batch_size: 1000, seed: 0}

A file may give any subset; command-line flags override it. ``zoo train`` seeds with ``train.seed``
before it builds the model, so a run it started replays bit for bit on the same machine and
software; a model built in Python before ``zoo.train`` replays only if it was built under that seed.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import ConfigError, did_you_mean

__all__ = ["RUN_FILE", "HEADER", "MAX_RUN_FILE_BYTES", "KEYS", "write_run_file", "read_run_file",
           "resolved_settings"]

RUN_FILE = "run.yaml"
MAX_RUN_FILE_BYTES = 1 << 20  # a run file is a page of settings; anything larger is not one
KEYS = ("model", "variant", "weights", "config", "task", "task_options", "methods", "train")
_MAPPINGS = ("config", "task_options", "methods", "train")
HEADER = ("# The fully resolved settings of this run. `zoo train --config run.yaml --out NEW_DIR` replays it\n"
           "# (command-line flags override what is here).\n")


def resolved_settings(model, task, config, methods, task_options) -> dict | None:
    """The run file's settings for a run of `model` (a zoo model) on `task`, or None where the run
    cannot be written as a file: a model the zoo did not build, or a task or method option that is
    an object (arrays, a teacher model) rather than a plain value."""
    identity = getattr(model, "zoo_identity", None)
    if identity is None or task_options is None:
        return None
    settings = {
        "model": identity.architecture, "variant": identity.variant, "weights": identity.weights,
        "config": identity.config.to_dict(), "task": task.name, "task_options": dict(task_options),
        "methods": {m.name: m.config.to_dict() for m in methods}, "train": config.to_dict(),
    }
    return settings if _plain(settings) else None


def _plain(value) -> bool:
    """Whether YAML writes `value` and reads it back unchanged (no objects, no tuples)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return True
    if isinstance(value, list):
        return all(_plain(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v) for k, v in value.items())
    return False


def write_run_file(out_dir: Path, settings: dict) -> Path:
    """Write `settings` as out_dir/run.yaml (atomically: an interrupted write leaves the old file)."""
    import yaml

    path = Path(out_dir) / RUN_FILE
    tmp = path.with_name(f".{RUN_FILE}.partial-{os.getpid()}")
    tmp.write_text(HEADER + yaml.safe_dump(settings, sort_keys=False, default_flow_style=False), encoding="utf-8")
    os.replace(tmp, path)
    return path


def read_run_file(path: str | Path) -> dict:
    """The settings of a run file, checked for shape (ConfigError naming the file and the key);
    the values themselves are validated where they are used, like command-line values."""
    import yaml

    path = Path(path)
    where = f"run file {str(path)[:200]!r}"
    try:
        if path.is_dir():
            raise ConfigError(f"{where} is a folder; expected a YAML file (a run directory's {RUN_FILE})")
        size = path.stat().st_size
        if size > MAX_RUN_FILE_BYTES:
            raise ConfigError(f"{where} is {size} bytes; a run file is at most {MAX_RUN_FILE_BYTES} bytes")
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{where} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{where} cannot be read: {getattr(exc, 'strerror', None) or exc}") from None
    try:
        settings = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" at line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{where} is not valid YAML{line}: {getattr(exc, 'problem', None) or exc}") from None
    if settings is None:
        return {}
    if not isinstance(settings, dict):
        raise ConfigError(f"{where} holds a {type(settings).__name__}; expected a mapping of "
                          f"{', '.join(KEYS)}")
    for key, value in settings.items():
        if key not in KEYS:
            raise ConfigError(f"{where}: unknown key {str(key)[:80]!r}; expected some of {', '.join(KEYS)}."
                              + did_you_mean(str(key), KEYS))
        if key in _MAPPINGS and value is not None and not isinstance(value, dict):
            raise ConfigError(f"{where}: {key} is a {type(value).__name__}; expected a mapping of names to values")
        if key in ("model", "task") and value is not None and not isinstance(value, str):
            raise ConfigError(f"{where}: {key}={value!r:.80}; expected a name")
        if key in ("variant", "weights") and value is not None and not isinstance(value, str):
            raise ConfigError(f"{where}: {key}={value!r:.80}; expected a name or null")
    for name, options in (settings.get("methods") or {}).items():
        if not isinstance(options, dict) and options is not None:
            raise ConfigError(f"{where}: methods.{name} is a {type(options).__name__}; expected a mapping of options")
    return {k: (dict(v) if k in _MAPPINGS and v is not None else v) for k, v in settings.items()}
