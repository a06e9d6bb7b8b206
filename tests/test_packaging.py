"""The distribution: the sdist and the wheel built from it hold every module and data file of the
source tree (nothing listed by hand, so nothing to forget), and the wheel's entry points are the
project's. Installing the wheel into a fresh environment and running it outside the source tree
is done by .ci/run (it needs a full dependency install)."""

from __future__ import annotations

import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# where each source folder lands in the wheel
PACKAGE_FOLDERS = {"zoo": "zoo", "plugins": "zoo_plugins"}
# build-time only: the editable-install hook is not part of the installed package
NOT_SHIPPED = {"zoo/_editable.py"}


def _source_files() -> set[str]:
    """Files under zoo/ and plugins/ that a build sees: tracked or new, minus what git ignores."""
    try:
        listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", *PACKAGE_FOLDERS],
                                cwd=ROOT, capture_output=True, text=True, check=True).stdout.split("\n")
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout: cannot tell source files from build leftovers")
    return {f for f in listed if f and (ROOT / f).is_file() and f not in NOT_SHIPPED}


def _in_wheel(source: str) -> str:
    folder, _, rest = source.partition("/")
    return f"{PACKAGE_FOLDERS[folder]}/{rest}"


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> dict[str, Path]:
    """sdist, then the wheel built from that sdist (as pip does from an sdist), offline."""
    out = tmp_path_factory.mktemp("dist")
    done = subprocess.run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(ROOT)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    wheels, sdists = list(out.glob("*.whl")), list(out.glob("*.tar.gz"))
    assert len(wheels) == 1 and len(sdists) == 1, sorted(p.name for p in out.iterdir())
    return {"wheel": wheels[0], "sdist": sdists[0]}


def test_wheel_holds_every_source_file_and_nothing_else(built):
    with zipfile.ZipFile(built["wheel"]) as wheel:
        names = {n for n in wheel.namelist() if ".dist-info/" not in n}
    expected = {_in_wheel(f) for f in _source_files()}
    assert expected - names == set(), "missing from the wheel"
    assert names - expected == set(), "in the wheel but not in the source tree"
    assert "zoo/training/loop.py" in names and "zoo_plugins/kan/native.cpp" in names


def test_wheel_ships_the_catalog_and_reference_weights_byte_for_byte(built):
    with zipfile.ZipFile(built["wheel"]) as wheel:
        assert wheel.read("zoo_plugins/registry.yaml") == (ROOT / "registry.yaml").read_bytes()
        for shipped in (ROOT / "plugins").glob("*/weights/*/model.safetensors"):
            assert wheel.read(_in_wheel(shipped.relative_to(ROOT).as_posix())) == shipped.read_bytes()


def test_wheel_entry_points_are_the_projects(built):
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    with zipfile.ZipFile(built["wheel"]) as wheel:
        text = next(wheel.read(n).decode() for n in wheel.namelist() if n.endswith(".dist-info/entry_points.txt"))
    sections: dict[str, dict[str, str]] = {}
    current = None
    for line in text.splitlines():
        if line.startswith("["):
            current = sections.setdefault(line.strip("[]"), {})
        elif "=" in line and current is not None:
            key, _, value = line.partition("=")
            current[key.strip()] = value.strip()
    assert sections["console_scripts"] == project["scripts"]
    for group, points in project["entry-points"].items():
        assert sections[group] == points
    for target in project["entry-points"]["paperzoo.plugins"].values():
        package = target.split(":")[0]
        assert (ROOT / "plugins" / package.removeprefix("zoo_plugins.").replace(".", "/") / "__init__.py").is_file()


def test_sdist_holds_what_a_rebuild_needs(built):
    import tarfile

    with tarfile.open(built["sdist"]) as sdist:
        names = {n.split("/", 1)[1] for n in sdist.getnames() if "/" in n}
    for needed in ("pyproject.toml", "README.md", "registry.yaml", "zoo/_editable.py", "plugins/registry.yaml"):
        assert needed in names
    assert {f for f in _source_files()} <= names
