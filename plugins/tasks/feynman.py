"""Feynman equations (the AI Feynman database, Udrescu & Tegmark 2020) as regression tasks.

Formulas and variable ranges come from `FeynmanEquations.csv`, shipped inside the `physo`
package (MIT licence), read with the csv module so physo itself is never imported. Data is
generated: each variable is drawn uniformly in its [low, high] range, 1000 training and 1000 test
points by default (as the toy tasks), and the target is the formula's value, shape (n, 1).

The CSV's "# variables" column is wrong for six equations (e.g. II.37.1); the variable columns
that are filled in are used instead, which is what physo's own loader corrects them to.
"""

from __future__ import annotations

import csv
import importlib.util
from functools import lru_cache
from pathlib import Path

from zoo.errors import ZooError
from zoo.tasks import ArrayTask

__all__ = ["feynman_equations", "feynman_task", "INSTALL_HINT", "MissingDataError"]

INSTALL_HINT = 'pip install "paperzoo[data]"  (or: pip install --no-deps physo)'
CSV_IN_PHYSO = "benchmark/FeynmanDataset/FeynmanEquations.csv"


class MissingDataError(ZooError, ModuleNotFoundError):
    """The optional package that holds a task's data is not installed (the message says how to)."""


def _csv_path() -> Path:
    spec = importlib.util.find_spec("physo")
    if spec is None or not spec.submodule_search_locations:
        raise MissingDataError(f"the Feynman tasks read their equations from the 'physo' package, "
                                  f"which is not installed; install it with: {INSTALL_HINT}")
    path = Path(list(spec.submodule_search_locations)[0]) / CSV_IN_PHYSO
    if not path.is_file():
        raise MissingDataError(f"physo is installed but has no {CSV_IN_PHYSO}; reinstall it with: {INSTALL_HINT}")
    return path


@lru_cache(maxsize=1)
def feynman_equations() -> dict[str, dict]:
    """{equation id: {"output", "formula", "variables": [(name, low, high), ...]}} from physo's CSV."""
    equations = {}
    with open(_csv_path(), encoding="utf-8-sig", newline="") as handle:
        for row in csv.DictReader(handle):
            if not row.get("Filename"):
                continue
            variables = [(row[f"v{i}_name"], float(row[f"v{i}_low"]), float(row[f"v{i}_high"]))
                         for i in range(1, 11) if row.get(f"v{i}_name")]
            equations[row["Filename"]] = {"output": row["Output"], "formula": row["Formula"], "variables": variables}
    return equations


def _compile(formula: str, names: list[str]):
    """A numpy function of the variables, parsed by sympy with every name bound to a plain symbol
    (so that e.g. 'gamma', 'beta' or 'I' are variables, not sympy functions or constants)."""
    import sympy

    symbols = [sympy.Symbol(n, real=True) for n in names]
    expr = sympy.sympify(formula, locals=dict(zip(names, symbols)))
    unknown = expr.free_symbols - set(symbols)
    if unknown:
        raise ValueError(f"formula {formula!r} uses {sorted(map(str, unknown))}, which are not among its variables {names}")
    return sympy.lambdify(symbols, expr, modules="numpy")


def feynman_task(name: str, *, n_train: int = 1000, n_test: int = 1000, seed: int = 0) -> ArrayTask:
    """`feynman/<id>`: the equation's value on points uniform in its variables' ranges."""
    import numpy as np

    for label, value in (("n_train", n_train), ("n_test", n_test)):
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"{label} must be a positive int, got {value!r}")
    equation_id = name.split("/", 1)[1]
    equations = feynman_equations()
    if equation_id not in equations:
        raise ValueError(f"equation {equation_id!r} is not in physo's {CSV_IN_PHYSO}")
    eq = equations[equation_id]
    names = [v[0] for v in eq["variables"]]
    function = _compile(eq["formula"], names)
    low = np.array([v[1] for v in eq["variables"]])
    high = np.array([v[2] for v in eq["variables"]])
    rng = np.random.default_rng(seed)
    splits = {}
    for split, count in (("train", n_train), ("test", n_test)):
        x = rng.uniform(low, high, size=(count, len(names)))
        y = np.broadcast_to(np.asarray(function(*x.T), dtype=np.float64), (count,)).reshape(-1, 1)
        if not np.isfinite(y).all():
            raise ValueError(f"feynman/{equation_id}: formula gives non-finite values on its ranges")
        splits[split] = (x, y)
    return ArrayTask(name, "regression", splits, extra={
        "formula": eq["formula"], "output": eq["output"], "variables": names,
        "ranges": [[float(a), float(b)] for a, b in zip(low, high)], "seed": seed})
