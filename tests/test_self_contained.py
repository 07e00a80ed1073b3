"""The repository stands on its own: no test, benchmark or script reads data from beside the checkout."""

from __future__ import annotations

import re
from pathlib import Path

from conftest import ROOT

_OUTSIDE = re.compile(
    r"\.\.[/\\]+shared\b"  # ../shared, ..\shared
    r"|parent\s*/\s*[\"']shared[\"']"  # ROOT.parent / "shared"
    r"|[\"']\.\.[\"']\s*,\s*[\"']shared[\"']"  # os.path.join("..", "shared")
)
_CHECKED = ("tests", "bench", "scripts", ".ci", "Makefile")


def _files() -> list[Path]:
    files: list[Path] = []
    for name in _CHECKED:
        path = ROOT / name
        if path.is_file():
            files.append(path)
        elif path.is_dir():
            files += [p for p in path.rglob("*") if p.is_file() and p.suffix in ("", ".py", ".sh", ".toml")]
    return [p for p in files if p.resolve() != Path(__file__).resolve() and "__pycache__" not in p.parts]


def offenders(files: list[Path]) -> list[str]:
    found = []
    for path in files:
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        for n, line in enumerate(text.splitlines(), 1):
            if _OUTSIDE.search(line):
                shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
                found.append(f"{shown}:{n}: {line.strip()}")
    return found


def test_no_test_bench_or_script_reads_the_shared_folder() -> None:
    files = _files()
    assert any(p.name == "conftest.py" for p in files) and any(p.parent.name == "bench" for p in files)
    found = offenders(files)
    assert not found, "keep data in the repository (tests/reference, resources/photos):\n" + "\n".join(found)


def test_the_check_catches_each_spelling(tmp_path: Path) -> None:
    spellings = [
        'REFERENCE = ROOT.parent / "shared" / "reference"',
        "DATA = Path('../shared/samples')",
        'cp -r ..\\\\shared\\\\x y',
        'os.path.join("..", "shared", "reference")',
    ]
    files = []
    for k, line in enumerate(spellings):
        path = tmp_path / f"f{k}.py"
        path.write_text(f"x = 1\n{line}\n", encoding="utf-8")
        files.append(path)
    (tmp_path / "fine.py").write_text('SHARED = "shared memory"  # tests/shared_fixtures\n', encoding="utf-8")
    found = offenders([*files, tmp_path / "fine.py"])
    assert len(found) == len(spellings) and all(":2:" in f for f in found), found
