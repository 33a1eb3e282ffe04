"""The package layout's rules (architecture.md): import direction, a light draft module, config."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

from settings_doc import env_example, readme_table  # noqa: E402

# What agent may take from renderer: the pure schema modules and the music catalogue.
AGENT_MAY_IMPORT = {"renderer.schema.draft", "renderer.schema.output", "renderer.music.catalogue"}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("path", _modules("renderer"), ids=lambda p: p.name)
def test_renderer_imports_neither_agent_nor_server(path: Path) -> None:
    bad = {n for n in _imports(path) if n.split(".")[0] in ("agent", "server")}
    assert not bad, f"{path.name} imports {sorted(bad)}"


@pytest.mark.parametrize("path", _modules("agent"), ids=lambda p: p.name)
def test_agent_imports_only_the_pure_parts_of_renderer(path: Path) -> None:
    names = _imports(path)
    assert not {n for n in names if n.split(".")[0] == "server"}, f"{path.name} imports server"
    renderer = {n for n in names if n.startswith("renderer.") and n.count(".") == 1}
    assert renderer <= AGENT_MAY_IMPORT, f"{path.name} imports {sorted(renderer - AGENT_MAY_IMPORT)}"
    assert not {n for n in names if n.split(".")[0] in ("torch", "av", "cv2")}


@pytest.mark.parametrize("package", ["agent", "renderer"])
def test_only_the_server_reads_the_environment(package: str) -> None:
    for path in _modules(package):
        text = path.read_text()
        assert "os.environ" not in text and "getenv" not in text, f"{path} reads the environment"


def test_renderer_package_init_is_empty() -> None:
    assert (ROOT / "renderer" / "__init__.py").read_text().strip() == ""


def test_draft_and_agent_load_without_torch_or_pyav() -> None:
    code = (
        "import sys, renderer.schema.draft, renderer.schema.output, agent.state, agent.runner;"
        "heavy = {'torch', 'av', 'cv2'} & set(sys.modules); assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_every_setting_is_in_env_example_and_readme() -> None:
    assert (ROOT / ".env.example").read_text() == env_example(), "run scripts/settings_doc.py"
    assert readme_table() in (ROOT / "README.md").read_text(), "run scripts/settings_doc.py"
