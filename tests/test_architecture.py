"""The layout's rules (docs/architecture.md): which package may import which, no import cycles, light
schema modules, and settings documented.

Imports are read from the source (ast), every one of them: module level, inside functions, and under
TYPE_CHECKING, so a function-level import cannot hide a cycle or a forbidden dependency.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

from settings_doc import env_example, readme_table  # noqa: E402

PACKAGES = ("server", "agent", "render_jobs", "renderer", "database")

# Who may import whom, by top-level package (docs/architecture.md draws the same arrows). Third-party
# imports are checked separately below, for the packages whose users rely on them staying light.
MAY_IMPORT: dict[str, set[str]] = {
    "server": {"server", "agent", "render_jobs", "renderer", "database"},
    "agent": {"agent", "renderer"},
    "render_jobs": {"render_jobs", "renderer", "database"},
    "renderer": {"renderer"},
    "database": {"database"},
}
# What agent may take from renderer: the pure schema and the music catalogue (no numpy, no audio).
AGENT_MAY_IMPORT_FROM_RENDERER = ("renderer.schema.", "renderer.music.catalogue")
# The renderer is a library: no database, no queue, no web framework.
RENDERER_MUST_NOT_IMPORT = {"sqlmodel", "sqlalchemy", "celery", "kombu", "fastapi", "starlette", "httpx"}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> set[str]:
    """Every module `path` imports, wherever the import statement is; `from a import b` gives `a`,
    and `a.b` too when b is a module of ours."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = _module_name(path).rpartition(".")[0] if path.name != "__init__.py" else _module_name(path)
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def _modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


ALL_MODULES = {_module_name(p): p for package in PACKAGES for p in _modules(package)}


def _internal_imports(path: Path) -> set[str]:
    """The modules of ours that `path` imports (a name like `a.b.C` counts as module `a.b`)."""
    found = set()
    for name in _imports(path):
        while name and name not in ALL_MODULES:
            name = name.rpartition(".")[0]
        if name:
            found.add(name)
    return found


@pytest.mark.parametrize("package", PACKAGES)
def test_each_package_imports_only_the_packages_below_it(package: str) -> None:
    allowed = MAY_IMPORT[package]
    for path in _modules(package):
        ours = {name.split(".")[0] for name in _imports(path)} & set(PACKAGES)
        assert ours <= allowed, f"{path.relative_to(ROOT)} imports {sorted(ours - allowed)}"


def test_agent_takes_only_the_schema_and_the_catalogue_from_renderer() -> None:
    for path in _modules("agent"):
        for name in _internal_imports(path):
            if name.startswith("renderer."):
                assert name.startswith(AGENT_MAY_IMPORT_FROM_RENDERER), (
                    f"{path.relative_to(ROOT)} imports {name}"
                )
        heavy = {n.split(".")[0] for n in _imports(path)} & {"torch", "av", "cv2", "numpy"}
        assert not heavy, f"{path.relative_to(ROOT)} imports {sorted(heavy)}"


def test_the_renderer_imports_no_database_queue_or_web_module() -> None:
    for path in _modules("renderer"):
        bad = {n.split(".")[0] for n in _imports(path)} & RENDERER_MUST_NOT_IMPORT
        assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}"


def test_no_import_cycles() -> None:
    graph = {name: _internal_imports(path) - {name} for name, path in ALL_MODULES.items()}
    # Tarjan's strongly connected components: any component with two or more modules is a cycle.
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for node in sorted(graph):
        if node not in index:
            visit(node)
    assert not cycles, f"import cycles: {cycles}"


def test_the_cycle_check_sees_function_level_and_type_checking_imports() -> None:
    # render_jobs.celery_app names Worker under TYPE_CHECKING; the child loads ensure_track in a function
    assert "render_jobs.worker" in _internal_imports(ROOT / "render_jobs" / "celery_app.py")
    assert "renderer.music.synth" in _internal_imports(ROOT / "render_jobs" / "child.py")


@pytest.mark.parametrize("package", ["agent", "renderer", "render_jobs", "database"])
def test_only_the_server_reads_the_environment(package: str) -> None:
    for path in _modules(package):
        text = path.read_text()
        assert "os.environ" not in text and "getenv" not in text, f"{path} reads the environment"


@pytest.mark.parametrize("package", ["renderer", "render_jobs", "database"])
def test_package_inits_are_empty(package: str) -> None:
    """So importing a light module (renderer.schema.draft) never runs a heavy package __init__."""
    for init in (ROOT / package).rglob("__init__.py"):
        assert init.read_text().strip() == "", f"{init.relative_to(ROOT)} is not empty"


def test_schema_catalogue_and_agent_load_without_torch_pyav_or_numpy() -> None:
    code = (
        "import sys, renderer.schema.draft, renderer.schema.output, renderer.music.catalogue,"
        " agent.state, agent.runner;"
        "heavy = {'torch', 'av', 'cv2', 'numpy'} & set(sys.modules); assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_the_render_worker_parent_loads_no_torch_or_pyav() -> None:
    """The server imports the worker module to run embedded workers; renders load torch and PyAV
    in their child process only."""
    code = (
        "import sys, render_jobs.worker, render_jobs.cli, server.renders.service;"
        "heavy = {'torch', 'av', 'cv2'} & set(sys.modules); assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_every_setting_is_in_env_example_and_readme() -> None:
    assert (ROOT / ".env.example").read_text() == env_example(), "run scripts/settings_doc.py"
    assert readme_table() in (ROOT / "README.md").read_text(), "run scripts/settings_doc.py"
