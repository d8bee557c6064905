"""Known vulnerabilities in the installed Python packages, from PyPI's advisory data.

``make audit``. pip-audit asks PyPI for each installed release's JSON, which carries the
advisories (OSV) for that release. Where that per-release JSON cannot be reached (only the
registry's index and the per-project JSON are, as on the development and CI machines),
this asks the per-project JSON instead: it carries the advisories of the project's latest
release, which are the installed release's own when the installed release is the latest.
A package that can be checked neither way is listed as not checked.

Exit status: 1 if any installed release has a known vulnerability (withdrawn advisories
aside), 2 with ``--strict`` if a package could not be checked, else 0.

    python scripts/audit.py [--strict] [--index https://pypi.org/pypi] [--skip NAME ...]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import importlib.metadata
import json
import re
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any

PYPI = "https://pypi.org/pypi"
PROJECT = "thuisplus"  # this project itself: not a dependency


@dataclass
class Finding:
    name: str
    version: str
    how: str = ""  # "release" or "latest" (how it was checked); "" if it was not
    vulns: list[dict[str, Any]] = field(default_factory=list)
    why: str = ""  # why it could not be checked


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _get(url: str, timeout: float) -> dict[str, Any] | None:
    """The JSON at ``url``; ``None`` if it is not there (404)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as reply:  # noqa: S310 (https)
            data: dict[str, Any] = json.load(reply)
            return data
    except urllib.error.HTTPError as err:
        if err.code == 404:
            return None
        raise


def check(name: str, version: str, index: str = PYPI, timeout: float = 30.0) -> Finding:
    """One installed release: its advisories, or why they could not be had."""
    found = Finding(name, version)
    try:
        release = _get(f"{index}/{name}/{version}/json", timeout)
        if release is not None:
            found.how = "release"
            found.vulns = list(release.get("vulnerabilities") or [])
        else:
            project = _get(f"{index}/{name}/json", timeout)
            if project is None:
                found.why = "not on the index"
                return found
            latest = str(project.get("info", {}).get("version", ""))
            if latest != version:
                found.why = (
                    f"installed {version}, latest {latest}: the advisories of an older "
                    "release are only in its own JSON, which is not reachable here"
                )
                return found
            found.how = "latest"
            found.vulns = list(project.get("vulnerabilities") or [])
    except (OSError, ValueError) as err:
        found.why = f"index not reachable: {err}"
        return found
    found.vulns = [v for v in found.vulns if not v.get("withdrawn")]
    return found


def installed(skip: set[str]) -> list[tuple[str, str]]:
    """(name, version) of every installed distribution but ``skip``, this project and
    editable installs."""
    out: dict[str, str] = {}
    for dist in importlib.metadata.distributions():
        name = dist.metadata["Name"]
        if not name or _canonical(name) in skip or _canonical(name) == PROJECT:
            continue
        direct = dist.read_text("direct_url.json")
        if direct and json.loads(direct).get("dir_info", {}).get("editable"):
            continue  # this project itself, installed for development
        out[_canonical(name)] = dist.version
    return sorted(out.items())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--strict", action="store_true", help="a package not checked fails")
    parser.add_argument("--index", default=PYPI, help="PyPI's JSON API (default: %(default)s)")
    parser.add_argument("--skip", nargs="*", default=[], help="package names to leave out")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per request")
    args = parser.parse_args(argv)
    packages = installed({_canonical(n) for n in args.skip})
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        results = list(
            pool.map(lambda p: check(p[0], p[1], args.index.rstrip("/"), args.timeout), packages)
        )
    vulnerable = [r for r in results if r.vulns]
    unchecked = [r for r in results if not r.how]
    by_release = sum(1 for r in results if r.how == "release")
    by_latest = sum(1 for r in results if r.how == "latest")
    print(
        f"{len(results)} packages: {by_release} checked by their release's advisories, "
        f"{by_latest} by the advisories of the latest release (installed = latest), "
        f"{len(unchecked)} not checked"
    )
    for r in vulnerable:
        for v in r.vulns:
            ids = ", ".join([v.get("id", "?"), *v.get("aliases", [])])
            fixed = ", ".join(v.get("fixed_in") or []) or "no fixed release"
            print(f"VULNERABLE {r.name} {r.version}: {ids} (fixed in {fixed})")
    for r in unchecked:
        print(f"not checked {r.name} {r.version}: {r.why}")
    if vulnerable:
        return 1
    if unchecked and args.strict:
        return 2
    print("no known vulnerability in the packages checked")
    return 0


if __name__ == "__main__":
    sys.exit(main())
