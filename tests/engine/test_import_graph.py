"""engine.model and engine.codegen import one way: model -> codegen ->
model_summary. Lazy (in-function) imports count too: a cycle there still
ties the two modules together."""
from __future__ import annotations

import ast
from pathlib import Path

ENGINE = Path(__file__).resolve().parents[2] / "engine"


def engine_imports(module: str) -> set[str]:
    """Every engine.* module that `module` imports, at the top or inside a function."""
    tree = ast.parse((ENGINE.parent / (module.replace(".", "/") + ".py")).read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("engine"):
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("engine")}
    return found


def reachable(start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        for dep in engine_imports(todo.pop()):
            path = ENGINE.parent / (dep.replace(".", "/") + ".py")
            if dep not in seen and path.exists():  # packages (__init__) are left out: they only re-export
                seen.add(dep)
                todo.append(dep)
    return seen


def test_codegen_does_not_import_model():
    assert "engine.model" not in reachable("engine.codegen")


def test_public_names_stay_where_callers_import_them():
    from engine.codegen import python_source  # noqa: F401
    from engine.model import BlockRow, ModelError, ModelSummary, build_model, export_python, summarize, summarize_spec  # noqa: F401
