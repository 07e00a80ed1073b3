"""Structural rules of the redesign (#15): small modules, no raw threads in the GUI, one cancel exception."""

from __future__ import annotations

import ast
from pathlib import Path

from conftest import ROOT

RUNTIME = ("model", "app", "viewer")
MAX_LINES = 600


def _modules(*packages: str) -> list[Path]:
    return sorted(p for pkg in packages for p in (ROOT / pkg).rglob("*.py"))


def test_no_runtime_module_is_over_600_lines() -> None:
    long = {str(p.relative_to(ROOT)): n for p in _modules(*RUNTIME)
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert long == {}


def test_the_viewer_starts_no_thread_of_its_own() -> None:
    """Background work runs in Qt's thread pool through viewer.workers (superqt workers)."""
    offenders = []
    for path in _modules("viewer"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute) and node.attr == "Thread":
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
            if isinstance(node, ast.ImportFrom) and node.module == "threading":
                where = f"{path.relative_to(ROOT)}:{node.lineno}"
                offenders += [where for alias in node.names if alias.name == "Thread"]
    assert offenders == []


def test_one_cancel_exception() -> None:
    """Every cancel exception is model.errors.Cancelled or a subclass of it."""
    found = []
    for path in _modules(*RUNTIME, "training"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef) and "Cancel" in node.name:
                bases = [ast.unparse(b) for b in node.bases]
                found.append((str(path.relative_to(ROOT)), node.name, bases))
    roots = [f for f in found if not any("Cancelled" in b for b in f[2])]
    assert [(p, n) for p, n, _ in roots] == [("model/errors.py", "Cancelled")]


def test_test_files_have_unique_names() -> None:
    """tests/ and tests/viewer/ are rootdir-imported modules without packages: two test files with one
    name stop the whole run at collection ("import file mismatch")."""
    seen: dict[str, list[str]] = {}
    for path in (ROOT / "tests").rglob("test_*.py"):
        seen.setdefault(path.name, []).append(str(path.relative_to(ROOT)))
    assert {name: paths for name, paths in seen.items() if len(paths) > 1} == {}
