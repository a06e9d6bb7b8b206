"""The verdict rule: turn a claim's per-seed numbers into "reproduced", "partially reproduced" or
"not reproduced", so that no verdict is typed by hand.

A claim is one or more `Check`s, each comparing a number we measured on every seed (``ours``) with
what the paper says it should beat or match (``versus``: the baseline measured on the same seeds, or
one fixed number such as the paper's own result or a threshold):

    Check("pruned beats dense", ours=[0.97, 0.96, 0.97], versus=[0.95, 0.96, 0.95], better="higher")
    Check("within 1 point of fp32", ours=acc_1bit, versus=acc_fp32, better="higher", margin=-0.01)
    Check("10x lower error", ours=rmse_kan, versus=rmse_mlp, better="lower", factor=10)

A check holds on a seed when ``ours`` is better than ``versus`` by more than ``margin`` (negative:
a tolerance) after scaling ``versus`` by ``factor``. Over the seeds:

- reproduced: it holds on every seed;
- partially reproduced: it holds on some seeds but not on all;
- not reproduced: it holds on no seed.

(The seeds' means need no rule of their own: a check is linear in its numbers, so it holds on the
means only if it holds on at least one seed.)

A claim of several checks is reproduced when all are, not reproduced when none is even partially,
and partially reproduced otherwise.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import Sequence

from .errors import ZooError

__all__ = ["Check", "judge", "judge_check", "failing_seeds", "MIN_SEEDS"]

MIN_SEEDS = 3  # a full record's claim is judged over at least this many seeds
REPRODUCED, PARTIALLY, NOT = "reproduced", "partially reproduced", "not reproduced"


@dataclass(frozen=True)
class Check:
    """One comparison of a claim, with its numbers per seed (see the module docstring)."""

    name: str
    ours: Sequence[float]
    versus: Sequence[float] | float
    better: str = "higher"  # "higher" or "lower": which way is better for this number
    margin: float = 0.0  # how much better ours must be; negative: how much worse it may be
    factor: float = 1.0  # ours must beat versus scaled by this ("10x lower error": factor=10)

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name.strip():
            raise ZooError(f"check name {self.name!r}: expected a short description of the comparison")
        if self.better not in ("higher", "lower"):
            raise ZooError(f"check {self.name!r}: better={self.better!r}, expected 'higher' or 'lower'")
        if not (isinstance(self.factor, (int, float)) and self.factor > 0 and math.isfinite(self.factor)):
            raise ZooError(f"check {self.name!r}: factor={self.factor!r}, expected a positive number")
        if not (isinstance(self.margin, (int, float)) and math.isfinite(self.margin)):
            raise ZooError(f"check {self.name!r}: margin={self.margin!r}, expected a finite number")
        ours = _numbers(self.ours, f"check {self.name!r}: ours")
        if not ours:
            raise ZooError(f"check {self.name!r}: ours is empty, expected one number per seed")
        if isinstance(self.versus, (int, float)):
            _numbers([self.versus], f"check {self.name!r}: versus")
        elif len(_numbers(self.versus, f"check {self.name!r}: versus")) != len(ours):
            raise ZooError(f"check {self.name!r}: versus has {len(self.versus)} numbers and ours "
                           f"{len(ours)}; expected one per seed on both sides, or one fixed number")

    def per_seed(self) -> list[tuple[float, float]]:
        """(ours, versus) for each seed; a fixed `versus` is repeated."""
        ours = [float(v) for v in self.ours]
        versus = ([float(self.versus)] * len(ours) if isinstance(self.versus, (int, float))
                  else [float(v) for v in self.versus])
        return list(zip(ours, versus))

    def holds(self, ours: float, versus: float) -> bool:
        """Whether ``ours`` beats ``versus`` as this check asks."""
        if self.better == "higher":
            return ours > versus * self.factor + self.margin
        return ours < versus / self.factor - self.margin


def _numbers(values, what: str) -> list[float]:
    if isinstance(values, (str, bytes)) or not hasattr(values, "__len__"):
        raise ZooError(f"{what}={values!r}: expected a list of numbers")
    out = []
    for v in values:
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(float(v)):
            raise ZooError(f"{what} holds {v!r}: expected finite numbers (a diverged seed is a "
                           f"result: record it as the worst value the metric can take)")
        out.append(float(v))
    return out


def _spread(values: list[float]) -> dict:
    return {"mean": statistics.fmean(values),
            "std": statistics.stdev(values) if len(values) > 1 else 0.0,
            "min": min(values), "max": max(values)}


def judge_check(check: Check) -> dict:
    """The check's outcome and the numbers behind it, as stored in a record."""
    pairs = check.per_seed()
    held = [check.holds(o, v) for o, v in pairs]
    ours = [o for o, _ in pairs]
    versus = [v for _, v in pairs]
    outcome = REPRODUCED if all(held) else PARTIALLY if any(held) else NOT
    return {"name": check.name, "better": check.better, "margin": check.margin, "factor": check.factor,
            "ours": ours, "versus": (float(check.versus) if isinstance(check.versus, (int, float))
                                     else versus),
            "ours_spread": _spread(ours), "versus_spread": _spread(versus),
            "held": held, "outcome": outcome}


def judge(checks: Sequence[Check]) -> tuple[str, list[dict]]:
    """The claim's verdict from its checks, and each check's judged numbers."""
    if not checks or not all(isinstance(c, Check) for c in checks):
        raise ZooError(f"checks={checks!r}: expected a non-empty list of zoo.verdicts.Check")
    judged = [judge_check(c) for c in checks]
    outcomes = {j["outcome"] for j in judged}
    verdict = REPRODUCED if outcomes == {REPRODUCED} else NOT if outcomes == {NOT} else PARTIALLY
    return verdict, judged


def failing_seeds(seeds: Sequence[int], checks: Sequence[Check]) -> list[int]:
    """The seeds (in order) on which at least one check does not hold: where a reproduction's
    principled experiment looks for its cause."""
    return [seed for i, seed in enumerate(seeds) if not all(c.holds(*c.per_seed()[i]) for c in checks)]
