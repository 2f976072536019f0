"""engine/ is a library: it never imports Qt or pyqtgraph (docs/ARCHITECTURE.md)."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ENGINE = Path(__file__).resolve().parents[2] / "engine"
FORBIDDEN = ("PySide6", "PyQt5", "PyQt6", "pyqtgraph", "app")


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_no_engine_module_imports_qt():
    offenders = {
        str(p.relative_to(ENGINE.parent)): sorted(_imports(p) & set(FORBIDDEN))
        for p in ENGINE.rglob("*.py")
        if _imports(p) & set(FORBIDDEN)
    }
    assert offenders == {}


def test_importing_the_engine_loads_no_qt():
    code = (
        "import sys, pkgutil, importlib, engine\n"
        "for m in pkgutil.walk_packages(engine.__path__, 'engine.'):\n"
        "    if m.name not in ('engine.worker',) and '.migrations' not in m.name:\n"
        "        importlib.import_module(m.name)\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('PySide6', 'pyqtgraph')]\n"
        "print(bad); sys.exit(1 if bad else 0)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=ENGINE.parent)
    assert out.returncode == 0, out.stdout + out.stderr


def test_runner_and_protocol_load_without_torch():
    """The GUI imports the runner (through its bridge) before the window paints;
    torch must wait until a summary or a worker needs it."""
    code = (
        "import sys, engine.runner, engine.protocol, engine.training, engine.blocks, engine.store\n"
        "sys.exit(1 if 'torch' in sys.modules else 0)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ENGINE.parent)
    assert out.returncode == 0, "importing the runner loaded torch\n" + out.stderr
