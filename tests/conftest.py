"""Shared fixtures: real third-party plugin packages installed with pip into a temporary target,
and helpers to run the `zoo` command in a fresh process."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import huggingface_hub.constants  # noqa: F401  (see below)
import pytest
from hypothesis import settings

# Tests run tiny models, where threads buy nothing and oversubscribed cores (subprocess tests,
# 2-process DDP, a busy machine) make OpenMP spin-waits cost up to 1000x: one thread per process.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

# huggingface_hub reads HF_HUB_OFFLINE once, when its constants module is first imported: imported
# here, before any test sets the variable, so no test's offline setting leaks into later tests.

# The catalog parse cache of the tests' processes lives in a folder of this run, not the user's.
os.environ["PAPERZOO_CACHE"] = tempfile.mkdtemp(prefix="zoo-test-cache-")

# The fuzz tests draw the same examples on every run, so the suite cannot pass or fail by chance;
# `pytest --hypothesis-profile explore` draws new ones (and lists any failure it finds).
settings.register_profile("suite", derandomize=True)
settings.register_profile("explore", derandomize=False)
settings.load_profile("suite")

TESTS = Path(__file__).resolve().parent
FIXTURE_PLUGINS = sorted(p for p in (TESTS / "fixtures" / "plugins").iterdir() if (p / "pyproject.toml").exists())
EXAMPLE_PLUGIN = TESTS / "example_plugin"


def _pip_install_target(target: Path, projects: list[Path]) -> None:
    """Install projects for real (build a wheel, write dist-info and entry points) into `target`,
    offline, with the build backend already in this environment."""
    cmd = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
           "--no-index", "--target", str(target), *map(str, projects)]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"pip install of test plugins failed:\n{done.stdout}\n{done.stderr}")


@pytest.fixture(scope="session")
def example_site(tmp_path_factory) -> Path:
    """A site directory holding only the worked third-party example plugin."""
    target = tmp_path_factory.mktemp("example-site")
    _pip_install_target(target, [EXAMPLE_PLUGIN])
    return target


@pytest.fixture(scope="session")
def broken_site(tmp_path_factory) -> Path:
    """A site directory holding the example plugin and every deliberately broken plugin."""
    target = tmp_path_factory.mktemp("broken-site")
    _pip_install_target(target, [EXAMPLE_PLUGIN, *FIXTURE_PLUGINS])
    return target


def run_zoo(*args: str, site: Path | None = None, env: dict | None = None,
            timeout: float = 120) -> subprocess.CompletedProcess:
    """Run the `zoo` command line in a fresh interpreter, optionally with extra installed packages."""
    full_env = dict(os.environ)
    full_env.pop("PAPERZOO_STRICT_PLUGINS", None)
    full_env["COLUMNS"] = "200"  # rich wraps tables to the terminal; keep rows on one line
    if site is not None:
        full_env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(site), full_env.get("PYTHONPATH")]))
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "zoo.cli", *args], capture_output=True, text=True,
                          env=full_env, timeout=timeout)


def run_python(code: str, site: Path | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    if site is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(site), env.get("PYTHONPATH")]))
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=timeout)


@pytest.fixture
def hub(tmp_path, monkeypatch):
    """A Hub-compatible server on 127.0.0.1 that accepts uploads with HUB_TOKEN; the Hub settings
    point at it, with an empty cache, for this test only."""
    from hub_helpers import HUB_TOKEN
    from hub_server import HubTestServer

    with HubTestServer(tokens=(HUB_TOKEN,)) as server:
        monkeypatch.setenv("HF_ENDPOINT", server.url)
        monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf-cache"))
        monkeypatch.setenv("HF_TOKEN", HUB_TOKEN)
        monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
        yield server
