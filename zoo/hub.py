"""The Hugging Face Hub, through the real `huggingface_hub` client: offline-first file fetching
with sha256 pinning, uploads of zoo repos, and a view of the local cache.

Settings are read from the environment at call time (`HF_ENDPOINT`, `HF_HUB_OFFLINE`,
`HF_HUB_CACHE` / `HF_HOME`), so changing them after `import huggingface_hub` takes effect; where
`HF_ENDPOINT` or the cache variables are unset, what the client read at import is used, and an
unset `HF_HUB_OFFLINE` means online.

Every repo id, revision and file name is checked before any cache or network access: the Hub
client writes the cache's refs/<revision> file under the name it is given, so a revision such as
`../../x` or `/tmp/x` would otherwise write outside the cache.

Order of resolution for a file: the HF cache (at once when the revision is a pinned commit sha, or
when offline), then the network. Before any download one HEAD request without retries checks that
the endpoint answers, so an unreachable endpoint fails in seconds instead of after the client's
retry schedule. Errors name the repo, revision, file, endpoint and cache directory.
"""

from __future__ import annotations

import hashlib
import os
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

from .errors import HubError, IntegrityError

__all__ = [
    "HUB_PREFIX",
    "HubSettings",
    "hub_settings",
    "parse_hub_uri",
    "is_commit_sha",
    "check_repo_id",
    "check_revision",
    "check_filename",
    "sha256_file",
    "fetch_file",
    "snapshot_commit",
    "list_repo_files",
    "push_folder",
    "PushResult",
    "cached_repos",
    "CachedRepo",
]

HUB_PREFIX = "hf-hub:"
_COMMIT_SHA = re.compile(r"^[0-9a-f]{40}$")
# what git (check-ref-format) and the Hub refuse in a branch or tag name: control characters, space,
# ~ ^ : ? * [ \, and the sequences "..", "@{" and "//"
_REF_FORBIDDEN = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]|\.\.|@\{|//")
_MAX_REF = 255
_TRUE = {"1", "ON", "YES", "TRUE"}
DEFAULT_ENDPOINT = "https://huggingface.co"


@dataclass(frozen=True)
class HubSettings:
    endpoint: str
    offline: bool
    cache_dir: Path


def hub_settings() -> HubSettings:
    """Endpoint, offline flag and cache directory as the environment says now."""
    from huggingface_hub import constants

    env = os.environ
    # the variables as they are now: huggingface_hub's own constant is frozen at its first import,
    # which made the offline flag depend on what had imported it first
    offline = (env.get("HF_HUB_OFFLINE") or env.get("TRANSFORMERS_OFFLINE") or "").upper() in _TRUE
    endpoint = (env.get("HF_ENDPOINT") or constants.ENDPOINT or DEFAULT_ENDPOINT).rstrip("/")
    if env.get("HF_HUB_CACHE"):
        cache = env["HF_HUB_CACHE"]
    elif env.get("HUGGINGFACE_HUB_CACHE"):
        cache = env["HUGGINGFACE_HUB_CACHE"]
    elif env.get("HF_HOME"):
        cache = os.path.join(env["HF_HOME"], "hub")
    else:
        cache = constants.HF_HUB_CACHE
    return HubSettings(endpoint, offline, Path(os.path.expanduser(os.path.expandvars(cache))))


def is_commit_sha(revision: str | None) -> bool:
    return bool(revision) and bool(_COMMIT_SHA.match(revision))


def check_repo_id(repo_id, where: str = "") -> str:
    """A repo id the Hub accepts ('name' or 'org/name': letters, digits, '-', '_', '.'; no '--' or
    '..'; at most 96 characters), else HubError naming it and the rule."""
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    prefix = f"{where}: " if where else ""
    if not isinstance(repo_id, str):
        raise HubError(f"{prefix}repo id must be a string like 'org/name', got {type(repo_id).__name__} {repo_id!r}")
    try:
        validate_repo_id(repo_id)
    except HFValidationError as exc:
        raise HubError(f"{prefix}invalid repo id {repo_id[:200]!r}: {exc}") from None
    return repo_id


def check_revision(revision, where: str = "") -> str:
    """A 40-hex commit sha, or a branch or tag name as git and the Hub accept it (never a path: no
    leading or trailing '/', no component that starts with '.' or ends with '.lock', no '..', no
    '//', no '@{', no control characters, space or ~ ^ : ? * [ \\, at most 255 characters),
    else HubError naming it and the rule broken."""
    prefix = f"{where}: " if where else ""
    if not isinstance(revision, str):
        raise HubError(f"{prefix}revision must be a string (a branch, tag or 40-hex commit sha), got "
                       f"{type(revision).__name__} {revision!r}")
    if is_commit_sha(revision):
        return revision
    shown = repr(revision[:200]) + ("..." if len(revision) > 200 else "")
    rule = None
    if not revision:
        rule = "it is empty"
    elif len(revision) > _MAX_REF:
        rule = f"it is longer than {_MAX_REF} characters"
    elif (bad := _REF_FORBIDDEN.search(revision)) is not None:
        rule = f"it contains {bad.group()!r} (no control characters, space, ~ ^ : ? * [ \\, '..', '//' or '@{{')"
    elif revision.startswith("/") or revision.endswith("/"):
        rule = "it starts or ends with '/' (a revision is a name, never a path)"
    elif revision == "@" or revision.endswith("."):
        rule = "it is '@' or ends with '.'"
    elif any(part.startswith(".") or part.endswith(".lock") for part in revision.split("/")):
        rule = "a part of it starts with '.' or ends with '.lock'"
    if rule:
        raise HubError(f"{prefix}invalid revision {shown}: {rule}; give a branch or tag name, or a 40-hex commit sha")
    return revision


def check_filename(filename, where: str = "") -> str:
    """A file path inside a repo: relative, '/'-separated, no empty, '.' or '..' part, no backslash
    or control characters, at most 1024 characters; else HubError naming it and the rule."""
    prefix = f"{where}: " if where else ""
    if not isinstance(filename, str):
        raise HubError(f"{prefix}file name must be a string, got {type(filename).__name__} {filename!r}")
    rule = None
    if not filename or len(filename) > 1024:
        rule = "it must have 1 to 1024 characters"
    elif re.search(r"[\x00-\x1f\x7f\\]", filename):
        rule = "it contains a control character or a backslash"
    elif filename.startswith("/") or any(part in ("", ".", "..") for part in filename.split("/")):
        rule = "it must be a relative path inside the repo, without empty, '.' or '..' parts"
    if rule:
        raise HubError(f"{prefix}invalid file name {filename[:200]!r}: {rule}")
    return filename


def parse_hub_uri(uri: str) -> tuple[str, str | None]:
    """'hf-hub:org/name@rev' -> ('org/name', 'rev'); the revision is optional. Both parts are checked
    (check_repo_id, check_revision) before anything touches the cache or the network."""
    if not isinstance(uri, str) or not uri.startswith(HUB_PREFIX):
        raise HubError(f"{uri!r} is not a Hub reference; expected '{HUB_PREFIX}org/name' or '{HUB_PREFIX}org/name@revision'")
    repo_id, at, revision = uri[len(HUB_PREFIX):].partition("@")
    check_repo_id(repo_id, repr(uri[:300]))
    if at:
        check_revision(revision, repr(uri[:300]))
    return repo_id, revision or None


def sha256_file(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _where(repo_id: str, revision: str | None, filename: str, settings: HubSettings) -> str:
    return (f"repo {repo_id!r}, revision {revision or 'main'!r}, file {filename!r} "
            f"(endpoint {settings.endpoint}, cache {settings.cache_dir})")


def _remove_cached(path: Path) -> None:
    """Delete a cached file: the snapshot entry and, when it is a symlink, the blob behind it."""
    blob = path.resolve() if path.is_symlink() else None
    path.unlink(missing_ok=True)
    if blob is not None:
        blob.unlink(missing_ok=True)


def _verified(path: Path, sha256: str | None, where: str) -> Path:
    if sha256 is None:
        return path
    actual = sha256_file(path)
    if actual != sha256:
        _remove_cached(path)
        raise IntegrityError(
            f"{where}: sha256 is {actual}, but {sha256} is pinned; the file was refused and removed "
            f"from the cache. The Hub copy or the pin is wrong; nothing was loaded."
        )
    return path


def _is_transport_error(exc: BaseException) -> bool:
    """Connection refused, DNS failure, timeout: from whichever HTTP library the client uses."""
    root = type(exc).__module__.split(".")[0]
    return isinstance(exc, (ConnectionError, TimeoutError)) or root in {"httpx2", "httpx", "httpcore", "httpcore2",
                                                                          "requests", "urllib3"}


def _hub_error(exc: BaseException, where: str, settings: HubSettings, *, upload: bool = False) -> HubError:
    """Translate a client error into one that says what was asked and what to do."""
    from huggingface_hub import errors as hf

    if isinstance(exc, hf.OfflineModeIsEnabled):
        return HubError(f"{where}: huggingface_hub is in offline mode (HF_HUB_OFFLINE was set when it was "
                        f"imported) and the file is not in the cache")
    if isinstance(exc, hf.GatedRepoError):
        return HubError(f"{where}: the repo is gated; accept its terms on the Hub and set HF_TOKEN")
    if isinstance(exc, hf.RevisionNotFoundError):
        return HubError(f"{where}: the revision does not exist in this repo")
    if isinstance(exc, hf.RemoteEntryNotFoundError):
        return HubError(f"{where}: the repo has no such file")
    if isinstance(exc, hf.RepositoryNotFoundError):
        return HubError(f"{where}: the repo, revision or file was not found (or the repo is private and "
                        f"no valid HF_TOKEN was given)")
    if isinstance(exc, hf.HfHubHTTPError):
        status = exc.response.status_code if exc.response is not None else None
        hint = "; check the token (HF_TOKEN or `hf auth login`)" if status in (401, 403) else ""
        return HubError(f"{where}: the Hub answered HTTP {status or '?'}: {str(exc).splitlines()[0]}{hint}")
    if _is_transport_error(exc):
        failure = ("cannot reach" if "connect" in type(exc).__name__.lower() or isinstance(exc, ConnectionError)
                   else "the connection broke off with")
        return HubError(f"{where}: {failure} {settings.endpoint} ({type(exc).__name__}: {exc}). Check the "
                        f"network or HF_ENDPOINT" + ("" if upload else ", or set HF_HUB_OFFLINE=1 to use only the cache"))
    return HubError(f"{where}: {type(exc).__name__}: {exc}")


def _probe(repo_id: str, filename: str, revision: str, settings: HubSettings, token) -> None:
    """One HEAD request, no retries: fails fast when the endpoint is unreachable or the file absent.
    (The client's own download retries connection errors for about 25 s before giving up.)"""
    from huggingface_hub import get_hf_file_metadata, hf_hub_url

    url = hf_hub_url(repo_id, filename, revision=revision, endpoint=settings.endpoint)
    get_hf_file_metadata(url, token=token)


def fetch_file(repo_id: str, filename: str, revision: str | None = None, *, sha256: str | None = None,
               token: str | bool | None = None) -> Path:
    """Path of `filename` from `repo_id` at `revision`, from the cache when possible, else downloaded.

    With `sha256`, the bytes must hash to it: a mismatch is refused, removed from the cache, and
    raised as IntegrityError. A pinned commit sha is answered from the cache without any network;
    a branch is re-resolved online (the cache is used offline).
    """
    from huggingface_hub import hf_hub_download, try_to_load_from_cache

    check_repo_id(repo_id)
    revision = check_revision(revision or "main", f"repo {repo_id!r}")
    check_filename(filename, f"repo {repo_id!r}")
    settings = hub_settings()
    where = _where(repo_id, revision, filename, settings)
    cached = try_to_load_from_cache(repo_id, filename, cache_dir=str(settings.cache_dir), revision=revision)
    if isinstance(cached, str) and (is_commit_sha(revision) or settings.offline):
        return _verified(Path(cached), sha256, where)
    if settings.offline:
        raise HubError(f"{where}: not in the cache, and HF_HUB_OFFLINE is set so nothing is downloaded. "
                       f"Fetch it once online (zoo download), or copy a cache that has it")
    try:
        _probe(repo_id, filename, revision, settings, token)
        path = hf_hub_download(repo_id, filename, revision=revision, cache_dir=str(settings.cache_dir),
                               endpoint=settings.endpoint, token=token)
    except Exception as exc:
        if isinstance(cached, str) and _is_transport_error(exc):
            # the branch cannot be re-resolved: use the commit it pointed to when last online
            warnings.warn(f"{where}: {settings.endpoint} is unreachable ({type(exc).__name__}); using the cached "
                          f"copy from commit {snapshot_commit(Path(cached), filename)}", stacklevel=3)
            return _verified(Path(cached), sha256, where)
        raise _hub_error(exc, where, settings) from exc
    return _verified(Path(path), sha256, where)


def snapshot_commit(path: Path, filename: str) -> str | None:
    """The commit sha of a cached file, read from its snapshot folder (snapshots/<sha>/<filename>)."""
    folder = path
    for _ in Path(filename).parts:
        folder = folder.parent
    return folder.name if is_commit_sha(folder.name) else None


def list_repo_files(repo_id: str, revision: str | None = None, *, token: str | bool | None = None) -> list[str]:
    """Files of a repo at a revision (online only)."""
    from huggingface_hub import HfApi

    check_repo_id(repo_id)
    if revision is not None:
        check_revision(revision, f"repo {repo_id!r}")
    settings = hub_settings()
    if settings.offline:
        raise HubError(f"cannot list repo {repo_id!r}: HF_HUB_OFFLINE is set")
    try:
        return HfApi(endpoint=settings.endpoint).list_repo_files(repo_id, revision=revision, token=token)
    except Exception as exc:
        raise _hub_error(exc, f"repo {repo_id!r}, revision {revision or 'main'!r} (endpoint {settings.endpoint})",
                         settings) from exc


# --- uploads ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PushResult:
    """Where a push landed: load it back with ``zoo.load(result.uri)``."""

    repo_id: str
    commit: str
    url: str

    @property
    def uri(self) -> str:
        return f"{HUB_PREFIX}{self.repo_id}@{self.commit}"


def push_folder(folder: str | Path, repo_id: str, *, revision: str | None = None, private: bool | None = None,
                token: str | bool | None = None, commit_message: str | None = None) -> PushResult:
    """Upload a zoo repo folder (written by `zoo.save`) to `repo_id`, creating the repo if needed.

    The folder is checked first: a readable zoo config.json, a valid model.safetensors, and no
    pickle files (those are never uploaded).
    """
    from huggingface_hub import HfApi

    from .repo_files import check_repo_folder

    check_repo_id(repo_id)
    if revision is not None:
        check_revision(revision, f"repo {repo_id!r}")
    folder = Path(folder)
    check_repo_folder(folder)
    settings = hub_settings()
    where = f"push of {folder} to repo {repo_id!r}, revision {revision or 'main'!r} (endpoint {settings.endpoint})"
    if settings.offline:
        raise HubError(f"{where}: HF_HUB_OFFLINE is set, so nothing is uploaded")
    api = HfApi(endpoint=settings.endpoint, token=token)
    try:
        api.create_repo(repo_id, private=private, exist_ok=True)
        info = api.upload_folder(folder_path=str(folder), repo_id=repo_id, revision=revision,
                                 commit_message=commit_message or f"Upload {folder.name} with PaperZoo")
    except Exception as exc:
        raise _hub_error(exc, where, settings, upload=True) from exc
    return PushResult(repo_id, info.oid, info.commit_url)


# --- the local cache -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CachedRepo:
    repo_id: str
    repo_type: str
    size_on_disk: int
    files: int
    revisions: tuple[tuple[str, tuple[str, ...]], ...]  # (commit sha, refs pointing at it)
    path: str


def cached_repos() -> tuple[Path, list[CachedRepo]]:
    """The cache directory and every repo in it, largest first (empty when there is no cache)."""
    from huggingface_hub import scan_cache_dir
    from huggingface_hub.errors import CacheNotFound

    cache_dir = hub_settings().cache_dir
    try:
        info = scan_cache_dir(cache_dir)
    except CacheNotFound:
        return cache_dir, []
    repos = [
        CachedRepo(r.repo_id, r.repo_type, r.size_on_disk, r.nb_files,
                   tuple(sorted((rev.commit_hash, tuple(sorted(rev.refs))) for rev in r.revisions)), str(r.repo_path))
        for r in info.repos
    ]
    return cache_dir, sorted(repos, key=lambda r: (-r.size_on_disk, r.repo_id))
