"""PaperZoo plugin: the built-in tasks, on data that ships inside installed packages or is
generated in code (nothing downloads).

- `digits`, `iris`, `wine`, `breast-cancer` (classification), `diabetes` (regression): scikit-learn's
  bundled sets (tabular.py).
- `toy/*`: the KAN paper's toy functions (functions.py).
- `feynman/<id>`: the AI Feynman equations, ranges from physo's CSV (feynman.py; extra `data`).
- `forecast/goog`: a real daily price series bundled with matplotlib (forecasting.py).
- `seq/sort`, `seq/copy`, `seq/modular-add`: algorithmic sequence tasks (sequences.py).
- `ctr/planted`, `tabular/interactions`: generated tabular data with planted interactions
  (synthetic_tabular.py).
- `dynamics/coupled`, `dynamics/irregular`: generated time series (dynamics.py, the generator the
  time-series plugins share).

The task names are those the catalog (registry.yaml, "built-in tasks" section) gives this plugin;
`build_task` maps each to its builder. Importing this module is cheap: no torch, no data.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

from zoo import TaskSpec, hookimpl

__all__ = ["build_task", "builtin_task_names"]

PLUGIN = "tasks"
CATALOG = Path(__file__).resolve().parent.parent / "registry.yaml"


def build_task(name: str, **options):
    """Build the built-in task `name` with its options (seed, sizes...; see each builder)."""
    if name.startswith("toy/"):
        from .functions import toy_task as builder
    elif name.startswith("feynman/"):
        from .feynman import feynman_task as builder
    elif name == "forecast/goog":
        from .forecasting import goog_task as builder
    elif name.startswith("seq/"):
        from . import sequences

        builder = {"seq/sort": sequences.sort_task, "seq/copy": sequences.copy_task,
                   "seq/modular-add": sequences.modular_add_task}.get(name)
    elif name in ("ctr/planted", "tabular/interactions"):
        from . import synthetic_tabular

        builder = synthetic_tabular.ctr_task if name == "ctr/planted" else synthetic_tabular.interactions_task
    elif name.startswith("dynamics/"):
        from . import dynamics

        builder = {"dynamics/coupled": dynamics.coupled_task, "dynamics/irregular": dynamics.irregular_task}.get(name)
    else:
        from .tabular import SKLEARN_SETS, load_sklearn_task

        builder = load_sklearn_task if name in SKLEARN_SETS else None
    if builder is None:
        raise ValueError(f"the built-in tasks plugin has no builder for task {name!r}")
    return builder(name, **options)


def builtin_task_names() -> list[str]:
    """The task names the catalog gives this plugin."""
    from zoo.catalog import load_catalog

    return [t.name for t in load_catalog(CATALOG).tasks if t.plugin == PLUGIN]


@hookimpl
def zoo_tasks() -> list[TaskSpec]:
    return [TaskSpec(name, partial(build_task, name)) for name in builtin_task_names()]
