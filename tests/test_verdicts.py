"""The verdict rule: per-seed checks decide a claim's verdict, records keep the numbers behind it,
and no recorded verdict disagrees with its own numbers."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from zoo.errors import ZooError
from zoo.reproduce import write_record
from zoo.verdicts import Check, failing_seeds, judge

ROOT = Path(__file__).resolve().parents[1]


def verdict_of(**check) -> str:
    return judge([Check("claim", **check)])[0]


def test_holds_on_every_seed_is_reproduced_on_some_partially_on_none_not():
    assert verdict_of(ours=[0.9, 0.91, 0.92], versus=[0.8, 0.8, 0.8]) == "reproduced"
    assert verdict_of(ours=[0.9, 0.7, 0.92], versus=[0.8, 0.8, 0.8]) == "partially reproduced"
    assert verdict_of(ours=[0.7, 0.7, 0.75], versus=[0.8, 0.8, 0.8]) == "not reproduced"


def test_per_seed_baselines_pair_with_ours_seed_by_seed():
    # pooled, ours beats versus by 0.043 > 0.03; seed by seed it holds only where the baseline was weak
    check = Check("claim", ours=[0.95, 0.80, 0.80], versus=[0.92, 0.80, 0.70], margin=0.03)
    judged = judge([check])[1][0]
    assert judged["held"] == [False, False, True] and judged["outcome"] == "partially reproduced"


def test_lower_is_better_with_a_factor_and_a_tolerance():
    # "ten times lower error": 1e-3 < 2e-2 / 10 holds, 3e-3 does not
    assert judge([Check("10x", ours=[1e-3], versus=2e-2, better="lower", factor=10)])[1][0]["held"] == [True]
    assert judge([Check("10x", ours=[3e-3], versus=2e-2, better="lower", factor=10)])[1][0]["held"] == [False]
    # "no more than 0.01 worse": a negative margin is a tolerance on either side
    assert verdict_of(ours=[0.945], versus=[0.95], margin=-0.01) == "reproduced"
    assert verdict_of(ours=[0.935], versus=[0.95], margin=-0.01) == "not reproduced"
    assert verdict_of(ours=[0.105], versus=[0.1], better="lower", margin=-0.01) == "reproduced"
    assert verdict_of(ours=[0.115], versus=[0.1], better="lower", margin=-0.01) == "not reproduced"


def test_a_claim_of_several_checks():
    yes = Check("a", ours=[2, 2, 2], versus=1)
    some = Check("b", ours=[2, 0, 0], versus=1)
    no = Check("c", ours=[0, 0, 0], versus=1)
    assert judge([yes, yes])[0] == "reproduced"
    assert judge([yes, no])[0] == "partially reproduced"
    assert judge([some, no])[0] == "partially reproduced"
    assert judge([no, no])[0] == "not reproduced"


@pytest.mark.parametrize("bad, says", [
    (dict(ours=[1.0, 2.0], versus=[1.0]), "one per seed"),
    (dict(ours=[1.0, math.nan], versus=1.0), "finite"),
    (dict(ours=[], versus=1.0), "empty"),
    (dict(ours=[1.0], versus=1.0, better="up"), "'higher' or 'lower'"),
    (dict(ours=[1.0], versus=1.0, factor=0), "positive"),
    (dict(ours="0.9", versus=1.0), "list of numbers"),
])
def test_malformed_checks_are_refused_by_name(bad, says):
    with pytest.raises(ZooError, match=says):
        Check("claim", **bad)


def record(tmp_path, **fields):
    base = dict(claim="c", summary="s", setup="x", command="zoo reproduce m")
    path = write_record(tmp_path, "m", "r", **{**base, **fields})
    return json.loads(path.read_text())


def test_a_record_computes_its_verdict_and_keeps_the_numbers(tmp_path):
    out = record(tmp_path, seeds=[0, 1, 2], checks=[Check("beats", ours=[3, 3, 0], versus=[1, 1, 1])])
    assert out["verdict"] == "partially reproduced" and out["seeds"] == [0, 1, 2]
    (check,) = out["checks"]
    assert check["ours"] == [3, 3, 0] and check["held"] == [True, True, False]
    assert check["ours_spread"]["mean"] == 2 and check["versus_spread"]["std"] == 0


@pytest.mark.parametrize("fields, says", [
    (dict(seeds=[0, 1, 2], checks=[Check("x", ours=[1, 1, 1], versus=0)], verdict="reproduced"),
     "computed from the checks"),
    (dict(seeds=[0, 1], checks=[Check("x", ours=[1, 1], versus=0)]), "at least 3"),
    (dict(seeds=[0, 1, 2, 3], checks=[Check("x", ours=[1, 1, 1], versus=0)]), "3 numbers for 4 seeds"),
    (dict(seeds=[0, 0, 1], checks=[Check("x", ours=[1, 1, 1], versus=0)]), "distinct integers"),
    (dict(seeds=[0, 1, 2], verdict="reproduced"), "seeds given without checks"),
    (dict(seeds=[0, 1, 2], checks=[]), "non-empty list"),
])
def test_records_refuse_typed_or_underpowered_verdicts(tmp_path, fields, says):
    with pytest.raises(ZooError, match=says):
        record(tmp_path, **fields)
    assert not list(tmp_path.iterdir())  # nothing half-written


def test_a_quick_run_may_judge_one_seed(tmp_path):
    out = record(tmp_path, seeds=[0], checks=[Check("x", ours=[1], versus=0)], quick=True)
    assert out["verdict"] == "reproduced" and out["quick"] is True


def recorded_with_checks():
    for path in sorted(ROOT.glob("plugins/*/results/*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("checks"):
            yield path, data


def test_every_judged_record_agrees_with_its_own_numbers():
    """A verdict edited by hand, or numbers edited after judging, disagree with the rule here."""
    for path, data in recorded_with_checks():
        checks = [Check(c["name"], ours=c["ours"], versus=c["versus"], better=c["better"],
                        margin=c["margin"], factor=c["factor"]) for c in data["checks"]]
        verdict, judged = judge(checks)
        where = path.relative_to(ROOT)
        assert data["verdict"] == verdict, f"{where}: recorded {data['verdict']!r}, its numbers say {verdict!r}"
        assert [c["held"] for c in data["checks"]] == [c["held"] for c in judged], where
        assert len(data["seeds"]) >= 3 or data.get("quick"), f"{where}: fewer than 3 seeds"
        assert not data.get("quick"), f"{where}: a --quick run's record in the source tree"


def test_failing_seeds_are_those_where_any_check_misses():
    checks = [Check("beats baseline", ours=[0.9, 0.5, 0.9], versus=[0.8, 0.8, 0.8]),
              Check("below threshold", ours=[0.1, 0.1, 0.3], versus=0.2, better="lower")]
    assert failing_seeds([4, 7, 9], checks) == [7, 9]
    assert failing_seeds([4], [Check("one seed", ours=[1.0], versus=0.5)]) == []


def test_no_paper_record_carries_a_verdict_typed_by_hand():
    """A paper's claim is judged by the rule or recorded as "measured"; a pass/fail verdict without
    the per-seed checks behind it is the old, hand-typed kind."""
    typed = []
    for path in sorted(ROOT.glob("plugins/*/results/*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(data, dict) and data.get("verdict") not in (None, "measured") and not data.get("checks"):
            typed.append(f"{path.relative_to(ROOT)}: {data['verdict']!r}")
    assert not typed, "verdicts without checks: " + "; ".join(typed)


def test_a_rejudged_record_is_judged_by_its_scripts_check_function(tmp_path, monkeypatch):
    import sys
    import types

    from zoo.reproduce import rejudge_record

    module = types.ModuleType("zoo_plugins.fake_paper_repro")
    module.claim_checks = lambda data: (data["seeds"], [Check("ours beats base", ours=data["ours"],
                                                              versus=data["base"])])
    monkeypatch.setitem(sys.modules, module.__name__, module)
    record(tmp_path, verdict="reproduced",
           data={"seeds": [0, 1, 2], "ours": [0.9, 0.8, 0.7], "base": [0.5, 0.85, 0.5]})
    path = tmp_path / "r.json"
    before = path.read_text(encoding="utf-8")
    out = rejudge_record(path, by=f"{module.__name__}:claim_checks", why="the run stored all three seeds")
    assert out["verdict"] == "partially reproduced" and out["seeds"] == [0, 1, 2]
    assert out["judged"]["verdict_before"] == "reproduced" and out["judged"]["by"].endswith(":claim_checks")
    assert json.loads(path.read_text(encoding="utf-8")) == out
    with pytest.raises(ZooError, match="already judged"):
        rejudge_record(path, by=f"{module.__name__}:claim_checks", why="again")
    path.write_text(before, encoding="utf-8")
    with pytest.raises(ZooError, match="expected 'zoo_plugins"):
        rejudge_record(path, by="os:system", why="hostile")
    with pytest.raises(ZooError, match="has no function"):
        rejudge_record(path, by=f"{module.__name__}:missing", why="typo")
    assert path.read_text(encoding="utf-8") == before


def test_every_rejudged_record_follows_from_its_stored_numbers():
    """A record judged without a re-run must give the same checks when its script's check function
    is applied to its stored data again: the stored numbers and the rule have not drifted apart."""
    from zoo.reproduce import stored_checks

    for path, data in recorded_with_checks():
        if "judged" not in data:
            continue
        seeds, checks = stored_checks(data["judged"]["by"], data["data"])
        _, judged = judge(checks)
        where = path.relative_to(ROOT)
        assert list(seeds) == data["seeds"], where
        assert [(c["name"], c["ours"], c["versus"]) for c in judged] == \
            [(c["name"], c["ours"], c["versus"]) for c in data["checks"]], where
