"""Imports point one way: viewer -> app -> model. The headless core never pulls in Qt."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from conftest import ROOT

GUI_MODULES = ("PySide6", "shiboken6", "pyvistaqt", "qtawesome", "superqt", "vtk", "pyvista")
FORBIDDEN = {
    "model": ("app", "viewer", *GUI_MODULES),
    "app": ("viewer", *GUI_MODULES),
}


def _imported_roots(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    roots: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


def test_packages_import_only_downwards() -> None:
    offenders = []
    for package, forbidden in FORBIDDEN.items():
        files = sorted((ROOT / package).rglob("*.py"))
        assert files, f"{package}/ has no modules"
        for path in files:
            bad = _imported_roots(path) & set(forbidden)
            if bad:
                offenders.append(f"{path.relative_to(ROOT)} imports {sorted(bad)}")
    assert not offenders, "layering violated:\n" + "\n".join(offenders)


def test_importing_every_core_module_loads_no_gui_library() -> None:
    code = (
        "import importlib, pkgutil, sys\n"
        "import app, model\n"
        "for pkg in (app, model):\n"
        "    for info in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + '.'):\n"
        "        importlib.import_module(info.name)\n"
        f"bad = sorted(m for m in sys.modules if m.split('.')[0] in {GUI_MODULES!r})\n"
        "print('LOADED', len(sys.modules))\n"
        "assert not bad, bad\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "LOADED" in out.stdout


def test_layering_checker_catches_a_violation(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("from PySide6.QtWidgets import QWidget\nimport viewer.main\n", encoding="utf-8")
    assert {"PySide6", "viewer"} <= _imported_roots(bad)
