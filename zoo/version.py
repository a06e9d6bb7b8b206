"""The installed paperzoo distribution's version (what `zoo.__version__` and saved repos report)."""

from __future__ import annotations


def installed_version() -> str:
    # read on first use: parsing the distribution's METADATA costs milliseconds at every `zoo` start
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("paperzoo")
    except PackageNotFoundError:  # running from a source tree that is not installed
        return "0+unknown"
