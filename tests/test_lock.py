"""The hashed locks agree with pyproject.toml, and every package the tests import is declared.

`make install` installs requirements/dev.lock with --require-hashes; a dependency added to
pyproject.toml but not to the lock would be missing on a fresh machine (and present on ours, where
it was installed by hand). This check is offline; `make lock-check` (CI) also re-resolves.
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
# Installed before the lock, per machine (CPU or CUDA build): README "Installs".
NOT_LOCKED = {"torch"}
SUPPORTED_PYTHONS = ("3.11", "3.12")


class Pin:
    def __init__(self, name: str, version: str, marker: str | None, via: list[str]) -> None:
        self.name, self.version, self.via = canonicalize_name(name), Version(version), via
        self.marker = Marker(marker) if marker else None

    def applies(self, python: str) -> bool:
        env = {"python_version": python, "python_full_version": f"{python}.0", "sys_platform": "linux"}
        env |= {"platform_system": "Linux", "platform_machine": "x86_64", "implementation_name": "cpython"}
        env |= {"platform_python_implementation": "CPython", "os_name": "posix"}
        return self.marker is None or self.marker.evaluate(env)


def read_lock(name: str) -> list[Pin]:
    pins: list[Pin] = []
    line_re = re.compile(r"^([A-Za-z0-9_.\-]+)==([^ ;\\]+)\s*(?:;\s*(.*?))?\s*\\?$")
    for line in (ROOT / "requirements" / name).read_text().splitlines():
        found = line_re.match(line)
        if found:
            pins.append(Pin(found[1], found[2], found[3], []))
        elif pins and line.strip().startswith("#") and "via" not in line:
            pins[-1].via.append(line.strip("# ").strip())
        elif pins and line.strip().startswith("# via "):
            pins[-1].via.append(line.strip().removeprefix("# via ").strip())
    return pins


def declared(extra: str | None) -> list[Requirement]:
    reqs = [Requirement(r) for r in PYPROJECT["project"]["dependencies"]]
    if extra:
        reqs += [Requirement(r) for r in PYPROJECT["project"]["optional-dependencies"][extra]]
    return [r for r in reqs if canonicalize_name(r.name) not in NOT_LOCKED]


@pytest.mark.parametrize(("lock", "extra"), [("runtime.lock", None), ("dev.lock", "dev")])
@pytest.mark.parametrize("python", SUPPORTED_PYTHONS)
def test_every_declared_dependency_is_locked_within_its_range(
    lock: str, extra: str | None, python: str
) -> None:
    pins = {p.name: p for p in read_lock(lock) if p.applies(python)}
    for req in declared(extra):
        pin = pins.get(canonicalize_name(req.name))
        assert pin is not None, f"{req.name} is in pyproject.toml, not in requirements/{lock}: run make lock"
        assert req.specifier.contains(pin.version, prereleases=True), (
            f"requirements/{lock} pins {req.name}=={pin.version} on Python {python}, outside "
            f"pyproject.toml's {req.specifier}: run make lock"
        )


@pytest.mark.parametrize(("lock", "extra"), [("runtime.lock", None), ("dev.lock", "dev")])
def test_the_lock_holds_nothing_pyproject_dropped(lock: str, extra: str | None) -> None:
    names = {canonicalize_name(r.name) for r in declared(extra)}
    for pin in read_lock(lock):
        direct = any(v.startswith("nemo-backend") for v in pin.via)
        assert not direct or pin.name in names, (
            f"requirements/{lock} still locks {pin.name} for pyproject.toml, which no longer asks for it: "
            "run make lock"
        )
        assert pin.name not in NOT_LOCKED, f"{pin.name} must stay out of the lock (README 'Installs')"


def test_both_supported_pythons_get_a_pyav_they_can_open_files_with() -> None:
    # PyAV 19's wheels need Python 3.12; 3.11 keeps 18. renderer/media/probe.py works with both.
    pins = read_lock("runtime.lock")
    for python, major in (("3.11", 18), ("3.12", 19)):
        av = [p for p in pins if p.name == "av" and p.applies(python)]
        assert len(av) == 1 and av[0].version.major == major, (python, [str(p.version) for p in av])


def _third_party_imports(folder: Path) -> set[str]:
    local = {p.stem for p in folder.rglob("*.py")} | {p.name for p in folder.rglob("*") if p.is_dir()}
    local |= {"tests"} | {p.name for p in ROOT.iterdir() if (p / "__init__.py").exists()}  # ours
    local |= {p.stem for p in (ROOT / "scripts").glob("*.py")}  # scripts the tests import
    found: set[str] = set()
    for path in folder.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                found.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.add(node.module.split(".")[0])
    return {m for m in found if m not in local and m not in sys.stdlib_module_names}


def test_every_package_the_tests_import_is_declared() -> None:
    by_module = packages_distributions()
    names = {canonicalize_name(r.name) for r in declared("dev")} | NOT_LOCKED
    names |= {canonicalize_name(extra) for r in declared("dev") for extra in r.extras}  # celery[redis]
    missing = []
    for module in sorted(_third_party_imports(ROOT / "tests")):
        dists = {canonicalize_name(d) for d in by_module.get(module, [module])}
        if not dists & names:
            missing.append(f"{module} ({', '.join(sorted(dists))})")
    assert not missing, f"tests import packages pyproject.toml does not declare: {missing}"
