"""`zoo reproduce`: run a paper's reproduction from the installed package and print each verdict
beside the one recorded in the package.

    zoo reproduce --list                           every model with scripts, and its recorded verdicts
    zoo reproduce fan                              all of fan's parts, into runs/reproduce/fan/
    zoo reproduce kan --part repro_toy --quick     one part, at smoke-test size
    zoo reproduce fan --out plugins/fan            refresh the records of a source checkout

Exit 0 when every full-run verdict matches the recorded one, 1 when one differs (a finding, not a
crash); quick runs are never compared.
"""

from __future__ import annotations

from pathlib import Path

from .cli import EXIT_OK, EXIT_PROBLEMS, _add_row, _console, _print_json, say

__all__ = ["register"]


def _weights_line(part, tag: str, folder: Path, sha256: str, quick: bool) -> str:
    import zoo

    from .errors import UnknownNameError

    try:
        listed = zoo.info(part.model).weights.get(tag)
    except UnknownNameError:
        listed = None
    if quick:
        relation = "a quick run's model: not the catalog's"
    elif listed is None:
        relation = "not in the catalog yet"
    elif listed.sha256 == sha256:
        relation = "the same bytes as the catalog's"
    else:
        relation = f"differs from the catalog's sha256 {listed.sha256[:12]} (other software or machine)"
    return f"  kept {part.model}.{tag} in {folder} (sha256 {sha256[:12]}, {relation})"


def cmd_reproduce(args) -> int:
    from .reproduce import DEFAULT_OUT, recorded, run_part, select_parts

    if args.list:
        return _list(args)
    if not args.name:
        from .cli import UsageError

        raise UsageError("zoo reproduce: name a model or a training method (or --list)")
    parts = select_parts(args.name, args.part)
    out = Path(args.out) if args.out else DEFAULT_OUT / args.name
    differ = 0
    for part in parts:
        say(f"{part.command}{' --quick' if args.quick else ''}: running into {out}")
        run = run_part(part, out, quick=args.quick)
        for record in run.records:
            before = recorded(part, record["name"])
            was = before["verdict"] if before and not before.get("quick") else "none"
            same = was == record["verdict"]
            differ += not (same or args.quick or was == "none")
            print(f"{part.model} {record['name']}: {record['verdict']} (recorded: {was})"
                  + (" [quick run: not comparable]" if args.quick else ""))
        for tag, folder, sha256 in run.kept:
            print(_weights_line(part, tag, folder, sha256, args.quick))
        print(f"  {part.name} took {run.seconds:.0f} s; records in {run.results}")
    if differ:
        say(f"zoo reproduce: {differ} verdict(s) differ from the recorded ones")
        return EXIT_PROBLEMS
    return EXIT_OK


def _list(args) -> int:
    import zoo

    from .errors import ZooError
    from .reproduce import find_parts, recorded

    rows = []
    for model in [*zoo.list_models(), *zoo.list_methods()]:
        try:
            parts = find_parts(model)
        except ZooError:
            continue
        if not parts:
            continue
        # a paper's records, read once, then shared out to the parts whose command wrote them
        files = sorted((parts[0].folder / "results").glob("*.json"))
        records = {f.stem: recorded(parts[0], f.stem) or {} for f in files}
        for part in parts:
            verdicts = {name: record.get("verdict", "?") for name, record in records.items()
                        if record.get("command", "").startswith(part.command)}
            rows.append({"model": model, "part": part.name, "records": verdicts})
    if args.json:
        _print_json(rows)
        return EXIT_OK
    from rich.table import Table

    table = Table("model", "part", "recorded verdicts")
    for row in rows:
        _add_row(table, row["model"], row["part"], ", ".join(f"{k}: {v}" for k, v in row["records"].items()) or "-")
    _console().print(table)
    return EXIT_OK


def register(sub) -> None:
    p = sub.add_parser("reproduce", help="run a paper's reproduction; print its verdicts beside the recorded ones")
    p.add_argument("name", nargs="?", help="model or training method whose plugin holds the scripts, e.g. 'fan'")
    p.add_argument("--part", help="run only this script (repro, repro_<x>, perf, ...); default: all")
    p.add_argument("--quick", action="store_true", help="smoke run: the same code at a tiny size")
    p.add_argument("--out", help="folder for results/ and weights/ (default runs/reproduce/<name>)")
    p.add_argument("--list", action="store_true",
                   help="list models and methods with scripts and their recorded verdicts")
    p.add_argument("--json", action="store_true", help="with --list: JSON")
    p.set_defaults(func=cmd_reproduce)
