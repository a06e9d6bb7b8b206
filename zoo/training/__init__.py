"""Training and evaluation for every zoo model: `train`, `evaluate`, and what they are made of.

    import zoo
    model = zoo.create("kan", task="toy/exp-sin")
    result = zoo.train(model, "toy/exp-sin", epochs=20, out_dir="runs/kan")
    zoo.evaluate(model, "toy/exp-sin")            # {"loss": ..., "rmse": ..., "mae": ...}

See docs/training.md for devices, distribution, resume, callbacks and the training-step override.
Names resolve on first use, so that the CLI (zoo.training.cli) can register its commands without
importing torch.
"""

from __future__ import annotations

import importlib

# public name -> submodule that defines it
_LAZY = {
    "train": "loop", "evaluate": "loop", "TrainResult": "loop", "NonFiniteLossError": "loop",
    "TaskMismatchError": "loop", "TrainConfig": "config", "StepContext": "step", "as_task": "data",
    "CallbackWarning": "callbacks", "Method": "method", "MethodConfig": "method",
    "MethodMismatchError": "method", "MethodConflictError": "method", "Stages": "procedure", "CheckpointError": "checkpoint", "latest_checkpoint": "checkpoint",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str):
    if name not in _LAZY:
        raise AttributeError(f"module 'zoo.training' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
