"""Imports point one way: viewer -> app -> model, and training -> model. The headless core never pulls in
Qt, and the runtime (app, viewer, model) never pulls in training code: only the app's training and
evaluation entry points reach it, lazily (inside the function that runs the command)."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

from conftest import ROOT

GUI_MODULES = ("PySide6", "shiboken6", "pyvistaqt", "qtawesome", "superqt", "vtk", "pyvista")
FORBIDDEN = {
    "model": ("app", "viewer", "training", "tests", "bench", *GUI_MODULES),
    "app": ("viewer", "training", *GUI_MODULES),
    "viewer": ("training",),
    "training": ("app", "viewer", *GUI_MODULES),
}
# The app modules that may import training, each only inside a function, and the training packages each
# may reach: the training/room-making commands, and the evaluations (which render synthetic rooms).
TRAINING_ENTRY_POINTS: dict[str, tuple[str, ...]] = {
    "app/commands/train.py": ("training.iggt",),
    "app/commands/synth.py": ("training.synthetic",),
    "app/commands/eval.py": ("training.synthetic",),
    "app/commands/eval_vocab.py": ("training.synthetic",),
    "app/eval/runner.py": ("training.synthetic",),
    "app/semantics/evaluate.py": ("training.synthetic",),
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


def _training_imports(path: Path) -> tuple[set[str], set[str]]:
    """(modules imported at module level, modules imported inside functions) under ``training``."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    nested: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            nested.update(id(n) for n in ast.walk(node) if n is not node)
    top: set[str] = set()
    inner: set[str] = set()
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        for name in names:
            if name.split(".")[0] == "training":
                (inner if id(node) in nested else top).add(name)
    return top, inner


def test_packages_import_only_downwards() -> None:
    offenders = []
    for package, forbidden in FORBIDDEN.items():
        files = sorted((ROOT / package).rglob("*.py"))
        assert files, f"{package}/ has no modules"
        for path in files:
            rel = path.relative_to(ROOT).as_posix()
            bad = _imported_roots(path) & set(forbidden)
            if rel in TRAINING_ENTRY_POINTS:
                bad.discard("training")
            if bad:
                offenders.append(f"{rel} imports {sorted(bad)}")
    assert not offenders, "layering violated:\n" + "\n".join(offenders)


def test_training_is_reached_only_lazily_from_its_entry_points() -> None:
    offenders = []
    for rel, allowed in TRAINING_ENTRY_POINTS.items():
        top, inner = _training_imports(ROOT / rel)
        if top:
            offenders.append(f"{rel} imports {sorted(top)} at module level")
        stray = {name for name in inner if not name.startswith(allowed)}
        if stray:
            offenders.append(f"{rel} imports {sorted(stray)} (allowed: {allowed})")
    assert not offenders, "\n".join(offenders)


def test_importing_the_runtime_loads_no_training_module() -> None:
    code = (
        "import importlib, pkgutil, sys\n"
        "import app, model, viewer\n"
        "for pkg in (app, model, viewer):\n"
        "    for info in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + '.'):\n"
        "        importlib.import_module(info.name)\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] == 'training')\n"
        "print('LOADED', len(sys.modules))\n"
        "assert not bad, bad\n"
    )
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300, env=env
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert "LOADED" in out.stdout


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


def test_training_import_checker_tells_module_level_from_lazy(tmp_path: Path) -> None:
    src = tmp_path / "cmd.py"
    src.write_text("import training.clip\n\ndef run():\n    from training.synthetic import render_room\n")
    assert _training_imports(src) == ({"training.clip"}, {"training.synthetic"})
