"""A small Hub-compatible server for tests: enough of the Hugging Face Hub HTTP API for the
unmodified `huggingface_hub` client to create a repo, upload a folder, and read it back.

No server on PyPI accepts uploads (olah is a read-only mirror), so this one exists for
`zoo.push_to_hub` / `zoo push`. It listens on 127.0.0.1 only, on a free port, keeps repos in
memory, and is started and stopped by a pytest fixture.

Endpoints (model repos, `org/name` ids):
    POST /api/repos/create                              create a repo with an empty first commit
    POST /api/validate-yaml                             check a README.md's front matter
    POST /api/models/{id}/preupload/{rev}               every file "regular" (inline in the commit)
    POST /api/models/{id}/commit/{rev}                  ndjson: header, file (base64), deletedFile
    GET  /api/models/{id}[/revision/{rev}]              model info: sha, siblings
    GET  /api/models/{id}/tree/{rev}[/{path}]           file listing (list_repo_files)
    HEAD|GET /{id}/resolve/{rev}/{path}                 file download with X-Repo-Commit and ETag
Writes need an `Authorization: Bearer <token>` header with one of `tokens`; reads are public.
Errors carry the `X-Error-Code` header (RepoNotFound, RevisionNotFound, EntryNotFound) that the
client turns into its typed exceptions.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

import yaml

__all__ = ["HubTestServer"]


def git_blob_sha(data: bytes) -> str:
    """The git object id of a blob: what the Hub sends as the ETag of a regular file."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


@dataclass
class _Repo:
    branches: dict[str, str] = field(default_factory=dict)    # branch -> commit sha
    commits: dict[str, dict[str, bytes]] = field(default_factory=dict)  # commit sha -> {path: bytes}

    def resolve(self, revision: str) -> str | None:
        if revision in self.branches:
            return self.branches[revision]
        return revision if revision in self.commits else None


def _front_matter_errors(readme: str) -> list[str]:
    """The checks the Hub makes on a model card's YAML header that matter here."""
    if not readme.startswith("---\n"):
        return []
    header, sep, _ = readme[4:].partition("\n---")
    if not sep:
        return ["the YAML front matter is not closed by '---'"]
    try:
        meta = yaml.safe_load(header)
    except yaml.YAMLError as exc:
        return [f"invalid YAML: {exc}"]
    if not isinstance(meta, dict):
        return ["the front matter must be a mapping"]
    errors = []
    if "tags" in meta and not (isinstance(meta["tags"], list) and all(isinstance(t, str) for t in meta["tags"])):
        errors.append('"tags" must be a list of strings')
    for key in ("library_name", "license"):
        if key in meta and not isinstance(meta[key], str):
            errors.append(f'"{key}" must be a string')
    return errors


class _HubError(Exception):
    def __init__(self, status: int, message: str, code: str | None = None):
        super().__init__(message)
        self.status, self.message, self.code = status, message, code


class HubTestServer:
    """In-memory Hub on 127.0.0.1. Use as a context manager, or call start() and stop()."""

    def __init__(self, tokens: tuple[str, ...] = ("hf_test_token",)):
        self.tokens = set(tokens)
        self.repos: dict[str, _Repo] = {}
        self.requests: list[tuple[str, str]] = []  # (method, path) of every request, for assertions
        self.cut_downloads_at: int | None = None  # fault injection: GET of a file stops after these bytes
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ---------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        assert self._server is not None, "server not started"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> HubTestServer:
        hub = self

        class Handler(_Handler):
            server_hub = hub

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="hub-test-server", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(timeout=5)
            self._server = None

    def __enter__(self) -> HubTestServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # --- repo operations ----------------------------------------------------------------------------

    def _repo(self, repo_id: str) -> _Repo:
        repo = self.repos.get(repo_id)
        if repo is None:
            raise _HubError(404, f"Repository {repo_id} not found", "RepoNotFound")
        return repo

    def _files_at(self, repo_id: str, revision: str) -> tuple[str, dict[str, bytes]]:
        repo = self._repo(repo_id)
        commit = repo.resolve(revision)
        if commit is None:
            raise _HubError(404, f"Invalid rev id: {revision}", "RevisionNotFound")
        return commit, repo.commits[commit]

    def create(self, repo_id: str) -> bool:
        """Create a repo with an empty first commit on main; False if it already exists."""
        with self._lock:
            if repo_id in self.repos:
                return False
            commit = hashlib.sha1(f"initial commit of {repo_id}".encode()).hexdigest()
            self.repos[repo_id] = _Repo({"main": commit}, {commit: {}})
            return True

    def commit(self, repo_id: str, revision: str, lines: list[dict]) -> str:
        with self._lock:
            repo = self._repo(repo_id)
            if revision not in repo.branches:
                raise _HubError(404, f"Invalid rev id: {revision} (commits go to a branch)", "RevisionNotFound")
            parent = repo.branches[revision]
            files = dict(repo.commits[parent])
            header = None
            for line in lines:
                key, value = line.get("key"), line.get("value", {})
                if key == "header":
                    header = value
                elif key == "file" and value.get("encoding") == "base64":
                    files[value["path"]] = base64.b64decode(value["content"])
                elif key == "deletedFile":
                    files.pop(value["path"], None)
                else:
                    raise _HubError(400, f"this test server accepts inline regular files only, not {key!r}")
            if header is None:
                raise _HubError(400, "commit payload has no header line")
            digest = hashlib.sha1(parent.encode() + json.dumps(header, sort_keys=True).encode())
            for path in sorted(files):
                digest.update(path.encode() + b"\0" + git_blob_sha(files[path]).encode())
            sha = digest.hexdigest()
            repo.commits[sha] = files
            repo.branches[revision] = sha
            return sha


class _Handler(BaseHTTPRequestHandler):
    server_hub: HubTestServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args) -> None:  # keep test output quiet
        pass

    # --- plumbing ------------------------------------------------------------------------------------

    def _send(self, status: int, body: bytes = b"", headers: dict | None = None, head: bool = False) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def _json(self, status: int, data, head: bool = False) -> None:
        self._send(status, json.dumps(data).encode(), {"Content-Type": "application/json"}, head)

    def _body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _authorised(self) -> None:
        auth = self.headers.get("Authorization", "")
        if not auth.startswith("Bearer ") or auth[len("Bearer "):] not in self.server_hub.tokens:
            raise _HubError(401, "Invalid credentials in Authorization header")

    def _dispatch(self, method: str) -> None:
        hub = self.server_hub
        path = urlsplit(self.path).path
        hub.requests.append((method, path))
        parts = [unquote(p) for p in path.strip("/").split("/")]
        try:
            if method == "POST" and parts == ["api", "repos", "create"]:
                self._authorised()
                data = json.loads(self._body() or b"{}")
                if data.get("type", "model") != "model" or not data.get("organization"):
                    raise _HubError(400, "this test server hosts model repos named org/name only")
                repo_id = f"{data['organization']}/{data['name']}"
                created = hub.create(repo_id)
                body = {"url": f"{hub.url}/{repo_id}", "name": repo_id, "id": repo_id}
                if not created:  # the Hub answers 409 with the url; create_repo(exist_ok=True) reads it
                    return self._json(409, {**body, "error": "You already created this model repo"})
                return self._json(200, body)
            if method == "POST" and parts == ["api", "validate-yaml"]:
                errors = _front_matter_errors(json.loads(self._body() or b"{}").get("content", ""))
                return self._json(400 if errors else 200, {"errors": [{"message": e} for e in errors],
                                                           "warnings": []})
            if parts[:2] == ["api", "models"] and len(parts) >= 4:
                return self._api(method, f"{parts[2]}/{parts[3]}", parts[4:])
            if len(parts) >= 5 and parts[2] == "resolve" and method in ("GET", "HEAD"):
                return self._resolve(f"{parts[0]}/{parts[1]}", parts[3], "/".join(parts[4:]), method == "HEAD")
            raise _HubError(404, f"no route for {method} {path}")
        except _HubError as err:
            headers = {"Content-Type": "application/json", "X-Error-Message": err.message}
            if err.code:
                headers["X-Error-Code"] = err.code
            self._send(err.status, json.dumps({"error": err.message}).encode(), headers, method == "HEAD")

    def _api(self, method: str, repo_id: str, rest: list[str]) -> None:
        hub = self.server_hub
        if method == "POST" and len(rest) == 2 and rest[0] == "preupload":
            self._authorised()
            _, files = hub._files_at(repo_id, rest[1])
            wanted = json.loads(self._body()).get("files", [])
            return self._json(200, {"files": [
                {"path": f["path"], "uploadMode": "regular", "shouldIgnore": False,
                 "oid": git_blob_sha(files[f["path"]]) if f["path"] in files else None} for f in wanted]})
        if method == "POST" and len(rest) == 2 and rest[0] == "commit":
            self._authorised()
            lines = [json.loads(line) for line in self._body().splitlines() if line.strip()]
            sha = hub.commit(repo_id, rest[1], lines)
            return self._json(200, {"commitUrl": f"{hub.url}/{repo_id}/commit/{sha}", "commitOid": sha,
                                    "success": True, "pullRequestUrl": None})
        if method == "GET" and (not rest or (len(rest) == 2 and rest[0] == "revision")):
            commit, files = hub._files_at(repo_id, rest[1] if rest else "main")
            return self._json(200, {"id": repo_id, "modelId": repo_id, "sha": commit, "private": False,
                                    "siblings": [{"rfilename": p} for p in sorted(files)]})
        if method == "GET" and len(rest) >= 2 and rest[0] == "tree":
            _, files = hub._files_at(repo_id, rest[1])
            prefix = "/".join(rest[2:])
            listed = [p for p in sorted(files) if not prefix or p.startswith(prefix.rstrip("/") + "/")]
            return self._json(200, [{"type": "file", "path": p, "size": len(files[p]),
                                     "oid": git_blob_sha(files[p])} for p in listed])
        raise _HubError(404, f"no route for {method} /api/models/{repo_id}/{'/'.join(rest)}")

    def _resolve(self, repo_id: str, revision: str, filename: str, head: bool) -> None:
        commit, files = self.server_hub._files_at(repo_id, revision)
        if filename not in files:
            raise _HubError(404, f"Entry not found: {filename}", "EntryNotFound")
        data = files[filename]
        headers = {"X-Repo-Commit": commit, "ETag": f'"{git_blob_sha(data)}"', "Content-Type": "application/octet-stream"}
        cut = self.server_hub.cut_downloads_at
        if cut is not None and not head:  # announce the whole file, send part of it, hang up
            self.send_response(HTTPStatus.OK)
            for name, value in {**headers, "Content-Length": str(len(data))}.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data[:cut])
            self.wfile.flush()
            self.close_connection = True
            return
        self._send(HTTPStatus.OK, data, headers, head)

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_HEAD(self) -> None:
        self._dispatch("HEAD")

    def do_POST(self) -> None:
        self._dispatch("POST")
