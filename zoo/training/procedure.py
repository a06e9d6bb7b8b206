"""Stages: the runs of a procedure made of several `zoo.train` runs, resumable between and inside them.

A procedure (lottery-ticket rounds, a sequence of continual-learning tasks, teacher then student)
names each of its runs. With an out_dir, each run trains in ``<out_dir>/<stage>/`` and a finished
one is recorded in ``<out_dir>/procedure.json``; on resume a finished run is not trained again: its
trained weights are loaded into the model and its result is read back, and an interrupted run
continues from its last checkpoint. What the procedure computes between runs must therefore follow
from the weights (pruning by magnitude) or be kept with `keep` (the weights at initialisation).

    with Stages(out_dir, resume, procedure=self) as stages:
        stages.keep("init", {k: v.clone() for k, v in model.state_dict().items()})
        for r in range(self.config.rounds):
            result = stages.train(f"round-{r}", model, task, methods=[pruning], **train_options)
            ...
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from ..errors import ConfigError
from . import checkpoint as ckpt

__all__ = ["Stages", "PROCEDURE_FILE"]

PROCEDURE_FILE = "procedure.json"
_STAGE_NAME = "abcdefghijklmnopqrstuvwxyz0123456789-_."


class Stages:
    """The runs of one procedure (see the module docstring). out_dir None: nothing is written and
    nothing can resume. resume: continue the procedure recorded in out_dir."""

    def __init__(self, out_dir, resume: bool = False, *, procedure=None, overwrite: bool = False):
        self.out = Path(out_dir) if out_dir is not None else None
        self.resume = bool(resume)
        self.overwrite = overwrite
        self.describe = procedure.describe() if procedure is not None else None
        self.done: dict[str, dict] = {}
        self._lock = None

    def __enter__(self) -> Stages:
        if self.out is None:
            if self.resume:
                raise ConfigError("resume=True continues a procedure in out_dir; pass out_dir")
            return self
        from ..locks import exclusive

        self.out.mkdir(parents=True, exist_ok=True)
        self._lock = exclusive(self.out.resolve(), "procedure directory")
        self._lock.__enter__()
        record = self._read()
        if record is not None and not self.resume and not self.overwrite:
            self.__exit__(None, None, None)
            raise ConfigError(f"{self.out} already holds a procedure's runs: continue it with resume=True (zoo "
                              f"--resume), start over with overwrite=True, or choose another output directory")
        if record is not None and self.resume:
            if self.describe is not None and record.get("procedure") != self.describe:
                self.__exit__(None, None, None)
                raise ConfigError(f"{self.out} holds the runs of {record.get('procedure')}, not of {self.describe}; "
                                  f"resume with the same method and options, or choose another output directory")
            self.done = record.get("done", {})
        elif record is not None:  # overwrite: forget the old runs (their folders are overwritten run by run)
            self._write()
        return self

    def __exit__(self, *exc) -> None:
        if self._lock is not None:
            lock, self._lock = self._lock, None
            lock.__exit__(*exc)

    def _read(self) -> dict | None:
        path = self.out / PROCEDURE_FILE
        if not path.exists():
            return None
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ckpt.CheckpointError(f"cannot read {path} ({exc}); it records which runs of the procedure "
                                       f"finished") from None

    def _write(self) -> None:
        path = self.out / PROCEDURE_FILE
        staging = path.with_name(f".{path.name}.partial")
        staging.write_text(json.dumps({"procedure": self.describe, "done": self.done}, indent=1), encoding="utf-8")
        os.replace(staging, path)

    def _folder(self, stage: str) -> Path:
        if not stage or any(c not in _STAGE_NAME for c in stage) or stage.startswith("."):
            raise ConfigError(f"stage name {stage!r} must be lowercase letters, digits, '-', '_' or '.'")
        return self.out / stage

    def train(self, stage: str, model, task, **train_options):
        """`zoo.train(model, task, **train_options)` as the run named `stage`: skipped when it finished
        before (its weights are loaded into `model`), continued when it was interrupted."""
        from .loop import TrainResult, train

        if self.out is None:
            return train(model, task, **train_options)
        folder = self._folder(stage)
        if stage in self.done:
            _load_weights(model, folder)
            saved = self.done[stage]
            return TrainResult(history=saved["history"], final=saved["final"], epochs=len(saved["history"]),
                               steps=saved["steps"], stopped=saved["stopped"], best_epoch=saved.get("best_epoch"),
                               out_dir=folder)
        partial = self.resume and ckpt.latest_checkpoint(folder) is not None
        result = train(model, task, out_dir=folder, resume=partial, overwrite=not partial, **train_options)
        self.done[stage] = {"history": result.history, "final": result.final, "steps": result.steps,
                            "stopped": result.stopped, "best_epoch": result.best_epoch}
        self._write()
        return result

    def keep(self, name: str, tensors: dict) -> dict:
        """Keep tensors the procedure needs across runs (written once; on resume the kept ones are
        returned instead of `tensors`)."""
        from safetensors.torch import load_file, save_file

        if self.out is None:
            return tensors
        path = self._folder(name).with_suffix(".safetensors")
        if path.exists() and self.resume:
            return load_file(str(path))
        staging = path.with_name(f".{path.name}.partial")
        save_file({k: v.detach().cpu().contiguous() for k, v in tensors.items()}, str(staging))
        os.replace(staging, path)
        return tensors


def _load_weights(model, folder: Path) -> None:
    """The trained weights a finished run saved in its folder, loaded into `model` (strict)."""
    from safetensors.torch import load_model

    path = folder / "model.safetensors"
    if not path.is_file():
        raise ckpt.CheckpointError(f"{folder} is recorded as a finished run but has no model.safetensors; "
                                   f"resume cannot skip it: start the procedure over (overwrite=True)")
    load_model(model, str(path), strict=True)
