"""Remember what reading a catalog file produced, as JSON keyed by everything it depends on (the
file's bytes, its path and distribution, and the source of the code that validates it), so listing
does not parse and validate an unchanged catalog again (YAML alone is ten times slower than JSON).

Any change to the file or to the catalog code misses the cache. A cache that cannot be read or
written is skipped silently; it only ever saves time.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Callable

__all__ = ["CACHE_ENV", "cache_dir", "cached"]

CACHE_ENV = "PAPERZOO_CACHE"


def cache_dir() -> Path | None:
    """$PAPERZOO_CACHE, else $XDG_CACHE_HOME/paperzoo, else ~/.cache/paperzoo; None when disabled
    (PAPERZOO_CACHE set to an empty string)."""
    explicit = os.environ.get(CACHE_ENV)
    if explicit is not None:
        return Path(explicit) if explicit.strip() else None
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "paperzoo"


def _same_as_json(value: Any) -> bool:
    """JSON keeps this value exactly: str keys, and only str/int/float/bool/None/list/dict inside."""
    if isinstance(value, dict):
        return all(isinstance(k, str) and _same_as_json(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_same_as_json(v) for v in value)
    return value is None or isinstance(value, (str, int, float, bool)) and value == value  # NaN != NaN


def cached(key: list[bytes | str], compute: Callable[[], Any]) -> Any:
    """`compute()`, or the JSON kept from an earlier call with the same key. Values JSON cannot keep
    exactly (tuples, int keys, NaN) are computed every time."""
    folder = cache_dir()
    if folder is None:
        return compute()
    digest = hashlib.sha256()
    for part in key:
        part = part.encode("utf-8", "surrogatepass") if isinstance(part, str) else part
        digest.update(len(part).to_bytes(8, "little") + part)
    path = folder / "catalogs" / f"{digest.hexdigest()}.json"
    try:
        return json.loads(path.read_bytes())
    except (OSError, ValueError):
        pass
    value = compute()
    if _same_as_json(value):
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
            partial.write_text(json.dumps(value, allow_nan=False), encoding="utf-8")
            partial.replace(path)
        except (OSError, ValueError):
            pass
    return value
