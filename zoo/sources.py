"""What a model SOURCE string names, wherever one is taken (zoo eval, zoo export, zoo kan, a method's
teacher): a saved model or run directory, 'hf-hub:org/name[@revision]', or a catalog name."""

from __future__ import annotations

import os
from pathlib import Path

from .errors import ConfigError, UnknownNameError
from .limits import shown

__all__ = ["names_a_path", "load_model_source"]


def names_a_path(text: str) -> bool:
    """A saved folder or file rather than a catalog name: it exists, or is written as a path."""
    if text.startswith((".", "~")) or "/" in text or os.sep in text:
        return True
    try:
        return Path(text).exists()
    except (OSError, ValueError):  # a name too long for the file system, a NUL byte: no such file
        return False


def load_model_source(source: str, *, untrained: bool = False, plugin: str | None = None):
    """The model `source` names: a run or model directory, 'hf-hub:org/name[@rev]', or a catalog name
    ('arch.tag', or 'arch' for its first weights; with `untrained`, 'arch' is a fresh model).
    plugin: only catalog models of that plugin are accepted (checked before one is built)."""
    import zoo

    if source.startswith("hf-hub:") or names_a_path(source):
        if not source.startswith("hf-hub:") and not Path(source).exists():
            raise UnknownNameError(f"{shown(source)} names no catalog model (it is a path) and not a directory "
                                   f"either: give a run or model directory (written by 'zoo train' or zoo.save), "
                                   f"hf-hub:org/name[@revision], or a catalog name such as 'kan.<tag>'")
        return zoo.load(source)
    try:
        entry = zoo.info(source)
    except UnknownNameError as exc:
        raise UnknownNameError(f"{exc} ({shown(source)} is not a directory either)") from None
    if plugin is not None and entry.plugin != plugin:
        raise ConfigError(f"{entry.name!r} is a model of plugin {entry.plugin!r}; this command works on models "
                          f"of plugin {plugin!r}")
    if untrained and "." not in source:
        return zoo.create(source)
    if not entry.weights:
        raise UnknownNameError(f"model {source!r} has no pretrained weights to evaluate; give a run "
                               f"directory written by 'zoo train' or a saved model directory")
    return zoo.create(source, pretrained=True)
