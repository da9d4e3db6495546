"""Every public module, function, class and method of the packages has a docstring (issue #12)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("gigmatch", "features", "models", "matcher", "service")


def public_definitions(path: Path):
    """(qualified name, node) of every public def/class, methods included, and the module itself."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    yield "<module>", tree

    def walk(node, prefix):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                if child.name.startswith("_"):
                    continue
                name = f"{prefix}{child.name}"
                yield name, child
                if isinstance(child, ast.ClassDef):
                    yield from walk(child, name + ".")

    yield from walk(tree, "")


def modules():
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if path.name == "__main__.py" or "/data/" in str(path):
                continue
            yield path


@pytest.mark.parametrize("path", list(modules()), ids=lambda p: str(p.relative_to(ROOT)))
def test_public_definitions_have_docstrings(path):
    missing = []
    for name, node in public_definitions(path):
        if isinstance(node, ast.Module) and path.name == "__init__.py" and not node.body:
            continue  # an empty package marker
        if ast.get_docstring(node) is None:
            missing.append(name)
    assert not missing, f"{path.relative_to(ROOT)}: no docstring for {', '.join(missing)}"
