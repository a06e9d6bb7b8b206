"""`zoo download`, `zoo push` and `zoo cache`: the command-line side of weights and the Hub.

    zoo download kan.<tag> hf-hub:org/name@<sha>   fetch and verify into the HF cache (or find them shipped)
    zoo push out/my-kan org/my-kan                   upload a folder written by zoo.save
    zoo cache                                        what the HF cache holds, and how big it is

Authentication for pushes comes from HF_TOKEN or `hf auth login`, as for the huggingface_hub client.
"""

from __future__ import annotations

from .cli import EXIT_BAD_INPUT, EXIT_OK, _add_row, _console, _print_json, say
from .errors import ZooError

__all__ = ["register"]


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    raise AssertionError("unreachable")


def _download_one(name: str) -> dict:
    """Fetch and verify one catalog checkpoint ('arch.tag' or 'arch') or Hub repo ('hf-hub:...')."""
    from .hub import HUB_PREFIX
    from .catalog_weights import package_file, resolve_catalog_weights
    from .weights import catalog_weights, fetch_hub_repo

    if name.startswith(HUB_PREFIX):
        repo, path, where = fetch_hub_repo(name)
        return {"name": name, "where": where, "path": str(path.parent), "sha256": repo.weights_sha256}
    entry, weights = catalog_weights(name)
    path = resolve_catalog_weights(entry, weights)
    shipped = weights.file is not None and package_file(weights.file) == path
    return {"name": f"{entry.name}.{weights.tag}", "path": str(path), "sha256": weights.sha256,
            "where": "shipped in the package" if shipped else f"{weights.repo_id}@{weights.revision}"}


def cmd_download(args) -> int:
    done, failed = [], []
    for name in args.names:
        try:
            done.append(_download_one(name))
        except ZooError as exc:
            failed.append({"name": name, "error": str(exc)})
    if args.json:
        _print_json({"downloaded": done, "failed": failed})
    else:
        from rich.markup import escape

        console = _console()
        for item in done:
            console.print(f"[green]ok[/green] {escape(item['name'])}: {escape(item['where'])}\n   {escape(item['path'])}"
                          + (f"\n   sha256 {item['sha256']} verified" if item["sha256"] else ""))
    if failed:  # one line for all of them: every failure stays one line on stderr
        say("error: " + "; ".join(f"{item['name']!r}: {item['error'].rstrip('.')}" for item in failed)
            + (f" ({len(failed)} of {len(args.names)} failed)" if len(args.names) > 1 else ""))
    return EXIT_BAD_INPUT if failed else EXIT_OK


def cmd_push(args) -> int:
    from .hub import push_folder

    result = push_folder(args.directory, args.repo_id, revision=args.revision, private=args.private or None,
                         commit_message=args.message)
    if args.json:
        _print_json({"repo_id": result.repo_id, "commit": result.commit, "url": result.url, "uri": result.uri})
    else:
        _console().print(f"pushed {args.directory} to {result.repo_id} at commit {result.commit}\n"
                         f"   {result.url}\n   load it with zoo.load(\"{result.uri}\")", markup=False)
    return EXIT_OK


def _catalog_index() -> dict[tuple[str, str], str]:
    """(repo_id, commit) -> 'arch.tag' for every catalog checkpoint on the Hub."""
    from .registry import default_registry

    registry = default_registry()
    index = {}
    for name in registry.list_models(pretrained=True):
        arch, tag = name.split(".", 1)
        weights = registry.info(arch).weights[tag]
        if weights.repo_id:
            index[(weights.repo_id, weights.revision)] = name
    return index


def cmd_cache(args) -> int:
    from .hub import cached_repos

    cache_dir, repos = cached_repos()
    index = _catalog_index()
    rows = [{"repo_id": r.repo_id, "type": r.repo_type, "size": r.size_on_disk, "files": r.files,
             "revisions": [{"commit": sha, "refs": list(refs), "catalog": index.get((r.repo_id, sha))}
                           for sha, refs in r.revisions], "path": r.path} for r in repos]
    total = sum(r.size_on_disk for r in repos)
    if args.json:
        _print_json({"cache_dir": str(cache_dir), "size": total, "repos": rows})
        return EXIT_OK
    console = _console()
    if not repos:
        console.print(f"the cache at {cache_dir} is empty", markup=False)
        return EXIT_OK
    from rich.table import Table

    table = Table(title=f"{len(repos)} repo(s), {_size(total)} in {cache_dir}", title_justify="left")
    for column in ("repo", "type", "revisions", "catalog weights", "files", "size"):
        table.add_column(column)
    for row in rows:
        revisions = ", ".join(rev["commit"][:10] + (f" ({', '.join(rev['refs'])})" if rev["refs"] else "")
                              for rev in row["revisions"])
        catalog = ", ".join(rev["catalog"] for rev in row["revisions"] if rev["catalog"])
        _add_row(table, row["repo_id"], row["type"], revisions, catalog or "-", str(row["files"]), _size(row["size"]))
    console.print(table)
    return EXIT_OK


def register(sub) -> None:
    p = sub.add_parser("download", help="fetch and verify catalog weights or Hub repos into the local cache")
    p.add_argument("names", nargs="+", metavar="NAME", help="'arch.tag', 'arch' (its first weights) or "
                                                              "'hf-hub:org/name[@revision]'")
    p.add_argument("--json", action="store_true", help="print what was fetched (and what failed) as JSON")
    p.set_defaults(func=cmd_download)

    p = sub.add_parser("push", help="upload a folder written by zoo.save to a Hub repo (token: HF_TOKEN)")
    p.add_argument("directory", metavar="DIR", help="a folder written by zoo.save (a zoo.train out_dir is one)")
    p.add_argument("repo_id", metavar="REPO", help="org/name; created if it does not exist")
    p.add_argument("--revision", help="branch to commit to (default: main)")
    p.add_argument("--private", action="store_true", help="create the repo private")
    p.add_argument("--message", help="commit message")
    p.add_argument("--json", action="store_true", help="print repo, commit and the hf-hub: reference as JSON")
    p.set_defaults(func=cmd_push)

    p = sub.add_parser("cache", help="what the Hugging Face cache holds, and how big it is")
    p.add_argument("--json", action="store_true", help="print the cache directory, total size and repos as JSON")
    p.set_defaults(func=cmd_cache)
