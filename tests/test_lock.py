"""The lock (`requirements.lock`, made by `make lock` with pip-tools) and `pyproject.toml` agree, and
the environment the tests run in is exactly the lock's.

- every dependency and extra of pyproject.toml is pinned in the lock, at a version its range admits;
- every package the lock says comes from pyproject.toml is still named there (one removed from
  pyproject and not re-locked fails here);
- every pin carries hashes (`pip install --require-hashes`);
- each locked package is installed at the locked version (a venv made by hand, or a stale one, fails).
"""

from __future__ import annotations

import re
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "requirements.lock"
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)")


def _lock() -> dict[str, dict]:
    """name → {version, hashes, via}: the lock's entries, with pip-compile's `# via` lines."""
    entries: dict[str, dict] = {}
    current = None
    in_via = False
    for line in LOCK.read_text(encoding="utf-8").splitlines():
        if m := PIN.match(line):
            current = entries.setdefault(canonicalize_name(m[1]), {"version": m[2], "hashes": 0, "via": []})
            in_via = False
        elif current is not None and line.strip().startswith("--hash=sha256:"):
            current["hashes"] += 1
        elif current is not None and line.strip().startswith("# via"):
            in_via = True
            rest = line.strip()[len("# via") :].strip()
            if rest:
                current["via"].append(rest)
        elif current is not None and in_via and line.strip().startswith("#   "):
            current["via"].append(line.strip()[1:].strip())
        elif not line.strip().startswith("#"):
            in_via = False
    return entries


def _declared() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    reqs = [Requirement(r) for r in project["dependencies"]]
    for extra in project.get("optional-dependencies", {}).values():
        reqs += [Requirement(r) for r in extra]
    groups = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8")).get("dependency-groups", {})
    for group in groups.values():
        reqs += [Requirement(r) for r in group if isinstance(r, str)]
    return reqs


def test_every_declared_dependency_is_locked_within_its_range():
    lock = _lock()
    assert lock, f"{LOCK} has no pins: run `make lock`"
    missing, outside = [], []
    for req in _declared():
        entry = lock.get(canonicalize_name(req.name))
        if entry is None:
            missing.append(req.name)
        elif not req.specifier.contains(Version(entry["version"]), prereleases=True):
            outside.append(f"{req.name} {entry['version']} not in {req.specifier}")
    assert not missing, f"in pyproject.toml, not in the lock (run `make lock`): {missing}"
    assert not outside, f"the lock pins versions pyproject.toml no longer admits (run `make lock`): {outside}"


def test_nothing_locked_for_pyproject_that_it_no_longer_names():
    declared = {canonicalize_name(r.name) for r in _declared()}
    stale = [
        name
        for name, entry in _lock().items()
        if any("pyproject.toml" in via for via in entry["via"]) and name not in declared
    ]
    assert not stale, f"locked as from pyproject.toml but no longer named there (run `make lock`): {stale}"


def test_every_pin_has_hashes():
    unhashed = [name for name, entry in _lock().items() if entry["hashes"] == 0]
    assert not unhashed, f"pins without --hash (pip install --require-hashes refuses them): {unhashed}"


def test_the_environment_is_the_lock():
    wrong = []
    for name, entry in _lock().items():
        try:
            have = metadata.version(name)
        except metadata.PackageNotFoundError:
            wrong.append(f"{name}: locked {entry['version']}, not installed")
            continue
        if Version(have) != Version(entry["version"]):
            wrong.append(f"{name}: locked {entry['version']}, installed {have}")
    assert not wrong, "the venv differs from the lock (run `make setup`): " + "; ".join(wrong)
