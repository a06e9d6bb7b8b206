"""Find a catalog checkpoint's weights file, offline first (shipped in a package, then the HF cache
at the pinned commit, then the network), verified against the catalog's sha256, and load it."""

from __future__ import annotations

from pathlib import Path

from .errors import IntegrityError, WeightsError
from .hub import fetch_file, sha256_file
from .repo_files import LoadReport, _check_weights_name, _load_file, _open_weights

__all__ = ["package_file", "resolve_catalog_weights", "load_catalog_weights"]


def package_file(resource: str) -> Path | None:
    """'package:path/in/package' -> the installed file, or None when the package lacks it."""
    import importlib.resources

    package, _, relative = resource.partition(":")
    try:
        path = importlib.resources.files(package).joinpath(relative)
    except ModuleNotFoundError:
        return None
    return Path(str(path)) if path.is_file() else None


def _verify_shipped(path: Path, sha256: str, where: str) -> Path:
    actual = sha256_file(path)
    if actual != sha256:
        raise IntegrityError(f"{where}: shipped file {path} has sha256 {actual}, but the catalog pins {sha256}; "
                             f"refused (reinstall the package that ships it)")
    return path


def resolve_catalog_weights(entry, weights) -> Path:
    """The verified local path of catalog weights, offline first: the file shipped in the package,
    then the HF cache at the pinned commit, then the network (unless HF_HUB_OFFLINE)."""
    where = f"weights {entry.name}.{weights.tag}"
    _check_weights_name(Path(weights.file or weights.filename).name, where)
    if weights.file:
        shipped = package_file(weights.file)
        if shipped is not None:
            return _verify_shipped(shipped, weights.sha256, where)
        if not weights.repo_id:
            raise WeightsError(f"{where}: the shipped file {weights.file!r} is not installed and the catalog names "
                               f"no Hub repo; reinstall the distribution that provides {entry.name!r} ({entry.source})")
    if not weights.repo_id:
        raise WeightsError(f"{where}: the catalog gives neither a shipped file nor a Hub repo")
    return fetch_file(weights.repo_id, weights.filename, weights.revision, sha256=weights.sha256)


def load_catalog_weights(model, entry, weights) -> LoadReport:
    """Load catalog weights into a model built from the same entry (called by zoo.create(pretrained=True))."""
    path = resolve_catalog_weights(entry, weights)
    with _open_weights(path) as file:
        return _load_file(model, file, path, f"weights {entry.name}.{weights.tag} ({path})", strict=True, fresh=True)
