"""Test support for weights and the Hub: an olah mirror server on 127.0.0.1 serving git repos to
the unmodified huggingface_hub client, a pre-filled HF cache, and isolated registries whose
catalog pins kan weights wherever a test wants them."""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import yaml

from zoo.registry import Registry

ROOT = Path(__file__).resolve().parents[1]
KAN_PLUGIN = {"kan": "zoo_plugins.kan"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def dead_endpoint() -> str:
    """An http endpoint on 127.0.0.1 where nothing listens (connection refused at once)."""
    return f"http://127.0.0.1:{free_port()}"


def repo_files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


# --- isolated registries -------------------------------------------------------------------------------


def kan_registry(tmp_path: Path, weights: dict) -> Registry:
    """A registry that sees only the kan plugin, with the catalog's kan entry and `weights`."""
    catalog = yaml.safe_load((ROOT / "registry.yaml").read_text())
    entry = dict(catalog["models"]["kan"])
    entry["weights"] = weights
    path = tmp_path / f"catalog-{len(list(tmp_path.glob('catalog-*.yaml')))}.yaml"
    path.write_text(yaml.safe_dump({"schema": 1, "models": {"kan": entry}}, sort_keys=False))
    return Registry(catalogs=[path], plugins=KAN_PLUGIN, strict=True)


# --- a pre-filled HF cache ------------------------------------------------------------------------------


def populate_hf_cache(cache_dir: Path, repo_id: str, files: dict[str, bytes], refs=("main",)) -> str:
    """Lay files out as the huggingface_hub client does (blobs, relative symlinks, refs/<branch>
    holding the commit with no newline). Returns the commit sha, derived from the content."""
    digest = hashlib.sha1()
    for name in sorted(files):
        digest.update(name.encode() + b"\0" + hashlib.sha256(files[name]).digest())
    commit = digest.hexdigest()
    repo_dir = cache_dir / f"models--{repo_id.replace('/', '--')}"
    snapshot = repo_dir / "snapshots" / commit
    for name, data in files.items():
        target = snapshot / name
        target.parent.mkdir(parents=True, exist_ok=True)
        blob = repo_dir / "blobs" / hashlib.sha256(data).hexdigest()
        blob.parent.mkdir(parents=True, exist_ok=True)
        blob.write_bytes(data)
        target.symlink_to(os.path.relpath(blob, target.parent))
    (repo_dir / "refs").mkdir(parents=True, exist_ok=True)
    for ref in refs:
        (repo_dir / "refs" / ref).write_text(commit)
    return commit


def cached_entries(cache_dir: Path, repo_id: str, filename: str) -> list[Path]:
    """Every snapshot entry of `filename` and every blob in the cache of `repo_id`."""
    repo_dir = cache_dir / f"models--{repo_id.replace('/', '--')}"
    return sorted(list(repo_dir.glob(f"snapshots/*/{filename}")) + list(repo_dir.glob("blobs/*")))


# --- olah: a Hub mirror serving local git repos ------------------------------------------------------------


def _git(*args: str, cwd: Path) -> str:
    env = {**os.environ, "GIT_CONFIG_NOSYSTEM": "1", "HOME": str(cwd)}
    done = subprocess.run(["git", "-c", "user.name=zoo-tests", "-c", "user.email=tests@paperzoo.invalid",
                           "-c", "commit.gpgsign=false", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=60)
    if done.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed: {done.stderr}")
    return done.stdout.strip()


def olah_command() -> list[str] | None:
    """How to run olah from this environment, or None when olah or git is missing."""
    cli = Path(sys.executable).parent / "olah-cli"
    if not cli.exists() or shutil.which("git") is None:
        return None
    return [str(cli)]


class OlahServer:
    """olah (PyPI) in offline mode on 127.0.0.1, serving git repos from its mirrors folder.

    Repos are 'uploaded' by committing into the mirror (olah has no write API); a commit made
    while it runs is served at once. See shared research: offline_hub.md for the recipe."""

    def __init__(self, root: Path):
        self.root = root
        self.mirrors = root / "mirrors"
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def commit(self, repo_id: str, files: dict[str, bytes], message: str = "update") -> str:
        """Commit `files` (replacing the tree) into the mirror of `repo_id`; returns the commit sha."""
        repo = self.mirrors / "models" / repo_id
        if not (repo / ".git").exists():
            repo.mkdir(parents=True)
            _git("init", "-q", "-b", "main", cwd=repo)
        for old in repo.iterdir():
            if old.name != ".git":
                shutil.rmtree(old) if old.is_dir() else old.unlink()
        for name, data in files.items():
            (repo / name).parent.mkdir(parents=True, exist_ok=True)
            (repo / name).write_bytes(data)
        _git("add", "-A", cwd=repo)
        _git("commit", "-q", "--allow-empty", "-m", message, cwd=repo)
        return _git("rev-parse", "HEAD", cwd=repo)

    def start(self, timeout: float = 90) -> OlahServer:
        command = olah_command()
        assert command is not None, "olah and git are needed"
        self.commit("zoo-tests/ready", {"README.md": b"readiness probe\n"})
        for sub in ("repos", "logs"):
            (self.root / sub).mkdir(exist_ok=True)
        dead = f"127.0.0.1:{free_port()}"  # upstream: nothing there, olah runs offline
        config = self.root / "configs.toml"
        config.write_text(
            f'[basic]\nhost = "127.0.0.1"\nport = {self.port}\nrepos-path = "{self.root / "repos"}"\n'
            f'hf-scheme = "http"\nhf-netloc = "{dead}"\nhf-lfs-netloc = "{dead}"\n'
            f'mirror-scheme = "http"\nmirror-netloc = "127.0.0.1:{self.port}"\n'
            f'mirror-lfs-netloc = "127.0.0.1:{self.port}"\nmirrors-path = ["{self.mirrors}"]\n'
            f"[accessibility]\noffline = true\n")
        log = open(self.root / "server.log", "wb")
        self.process = subprocess.Popen([*command, "-c", str(config), "--log-path", str(self.root / "logs")],
                                        cwd=self.root, stdout=log, stderr=subprocess.STDOUT,
                                        start_new_session=True)
        deadline = time.monotonic() + timeout
        probe = f"{self.url}/api/models/zoo-tests/ready/revision/main"
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"olah exited: {(self.root / 'server.log').read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(probe, timeout=2) as response:
                    if response.status == 200:
                        return self
            except (urllib.error.URLError, OSError):
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"olah did not answer within {timeout} s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        self.process = None


HUB_TOKEN = "hf_test_token"  # the token the `hub` fixture's server accepts
