"""The `iggt` command line: version, help, doctor, exit codes."""

from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import ROOT

from app import __version__
from app.cli import EXIT_USER_ERROR, build_parser, main


def _iggt(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout
    )


def test_version_prints_the_package_version() -> None:
    out = _iggt("--version")
    assert out.returncode == 0
    assert out.stdout.strip() == f"iggt-viewer {__version__}"


def test_every_subcommand_module_is_registered() -> None:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    assert "doctor" in sub.choices


def test_no_command_prints_help_and_fails(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == EXIT_USER_ERROR
    assert "usage: iggt" in capsys.readouterr().out


def test_unknown_command_is_a_usage_error() -> None:
    out = _iggt("frobnicate")
    assert out.returncode == EXIT_USER_ERROR  # a user error, not argparse's own exit 2 (internal errors)
    assert "invalid choice" in out.stderr and "Traceback" not in out.stderr


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["reconstruct", "imgs", "-o", "x.iggt", "--preset", "bogus"], "argument --preset: invalid choice"),
        (["reconstruct", "imgs", "-o", "x.iggt", "--views", "many"], "argument --views: invalid int value"),
        (["reconstruct", "imgs"], "the following arguments are required: -o/--output"),
        (["info"], "the following arguments are required"),
        (["query", "scene.iggt", "chair", "--nonsense"], "unrecognized arguments: --nonsense"),
    ],
)
def test_bad_command_lines_are_one_line_user_errors(argv, message, capsys, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(argv) == EXIT_USER_ERROR
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err and err.startswith("error: ")
    assert f"(see: iggt {argv[0]} --help)" in err
    assert not list(tmp_path.iterdir())  # nothing written


def test_doctor_reports_the_environment_and_loads_the_bundled_models() -> None:
    out = _iggt("doctor")
    text = out.stdout
    for key in ("Python", "torch", "CUDA available", "device (auto)", "Qt platform", "settings", "log file",
                "bundled weights", "bundled CLIP"):
        assert key in text, f"doctor output lacks {key!r}:\n{text}"
    assert out.returncode == 0, text + out.stderr
    assert "all checks passed" in text
    assert "iggt-tiny.safetensors loads" in text
    assert "clip-tiny" in text


def test_doctor_reports_a_broken_weights_file(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    from app.commands import doctor

    broken = tmp_path / "iggt-tiny.safetensors"
    broken.write_bytes(b"not a checkpoint")
    monkeypatch.setattr("app.paths.WEIGHTS_DIR", tmp_path)
    check = doctor._weights_check()
    assert not check.ok
    assert "does not load" in check.detail


def test_console_logging_survives_a_closed_stderr(monkeypatch: pytest.MonkeyPatch) -> None:
    """The console handler follows sys.stderr; a swapped-in stream closed by a test runner is not kept."""
    import io
    import logging

    from app.logging_setup import configure_logging

    first = io.StringIO()
    monkeypatch.setattr(sys, "stderr", first)
    configure_logging(console=True)
    logging.getLogger("iggt.test").warning("into the first stream")
    assert "into the first stream" in first.getvalue()
    first.close()
    second = io.StringIO()
    monkeypatch.setattr(sys, "stderr", second)
    logging.getLogger("iggt.test").warning("into the second stream")
    assert "into the second stream" in second.getvalue()
