"""A corpus of broken inputs: every bad file is named with a clear reason and skipped; when nothing usable
remains (or an option is wrong) the CLI exits 1 with a one-line message and writes nothing."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from conftest import placeholder_weights
from PIL import Image

from app.cli import main
from app.errors import UserError
from app.images import load_images


def _png_bytes(h: int = 40, w: int = 60) -> bytes:
    buf = io.BytesIO()
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)).save(buf, "PNG")
    return buf.getvalue()


def _encoded(fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    rng = np.random.default_rng(1)
    Image.fromarray(rng.integers(0, 255, (64, 96, 3), dtype=np.uint8)).save(buf, fmt, **kw)
    return buf.getvalue()


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _bomb_png() -> bytes:
    """A valid PNG header claiming 40000 x 40000 pixels (1.6 gigapixels)."""
    ihdr = struct.pack(">IIBBBBB", 40000, 40000, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\0" * 100)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", idat)
        + _png_chunk(b"IEND", b"")
    )


def _bad_crc_png() -> bytes:
    data = bytearray(_png_bytes())
    at = data.index(b"IDAT") + 20
    data[at] ^= 0xFF
    return bytes(data)


def _tiff_bad_ifd() -> bytes:
    data = bytearray(_encoded("TIFF"))
    data[4:8] = struct.pack("<I", len(data) + 1000)  # first IFD offset past the end
    return bytes(data)


def _bmp_bad_header() -> bytes:
    data = bytearray(_encoded("BMP"))
    data[14:18] = struct.pack("<I", 7)  # impossible DIB header size
    return bytes(data)


# (file name, content or None for special kinds, expected reason fragment)
CORPUS: list[tuple[str, bytes | None, str]] = [
    ("01_empty.jpg", b"", "empty file (0 bytes)"),
    ("02_truncated.jpg", _encoded("JPEG", quality=90)[:600], "truncated"),
    ("03_truncated.png", _png_bytes()[:300], "truncated"),
    ("04_text.png", b"hello, I am a text file pretending to be a PNG\n" * 10, "not an image"),
    (
        "05_random.jpg",
        np.random.default_rng(2).integers(0, 256, 5000, dtype=np.uint8).tobytes(),
        "not an image",
    ),
    ("06_one_pixel.png", None, "too small (1x1 pixels"),
    ("07_html.jpeg", b"<!DOCTYPE html><html><body>404 Not Found</body></html>", "not an image"),
    ("08_bad_crc.png", _bad_crc_png(), "damaged"),
    ("09_gif.png", _encoded("GIF"), "unsupported image format GIF"),
    ("10_bomb.png", _bomb_png(), "too large"),
    ("11_jpeg_header_garbage.jpg", b"\xff\xd8\xff\xe0" + b"\x13" * 3000, "image data"),
    ("12_truncated.webp", _encoded("WEBP", quality=80)[:200], "image"),
    ("13_bad_ifd.tif", _tiff_bad_ifd(), "image"),
    ("14_bad_header.bmp", _bmp_bad_header(), "image"),
    ("15_broken_link.png", None, "broken link"),
    ("16_tiny_strip.png", None, "too small (2000x3 pixels"),
    ("17_pdf.tiff", b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\n", "not an image"),
]


def _make_corpus(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, data, _ in CORPUS:
        path = folder / name
        if name.startswith("06"):
            Image.new("RGB", (1, 1), "red").save(path)
        elif name.startswith("15"):
            path.symlink_to(folder / "does_not_exist.png")
        elif name.startswith("16"):
            Image.new("RGB", (2000, 3), "red").save(path)
        else:
            path.write_bytes(data)


def _listing(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): (p.read_bytes() if p.is_file() else b"")
        for p in sorted(folder.rglob("*"))
    }


def test_corpus_has_at_least_15_kinds() -> None:
    assert len(CORPUS) >= 15


def test_each_bad_file_is_named_with_its_reason_and_the_run_continues(tmp_path: Path) -> None:
    folder = tmp_path / "imgs"
    _make_corpus(folder)
    Image.fromarray(np.full((50, 70, 3), 90, np.uint8)).save(folder / "99_good.png")
    (folder / "notes.txt").write_text("my notes")
    out = load_images([folder])
    assert [v.name for v in out.views] == ["99_good.png"]
    reasons = {s.path.name: s.reason for s in out.bad_files}
    for name, _, fragment in CORPUS:
        assert name in reasons, f"{name} was not reported"
        assert fragment in reasons[name], f"{name}: {reasons[name]!r} lacks {fragment!r}"
    notes = [s for s in out.skipped if not s.bad]
    assert [(s.path.name, s.reason) for s in notes] == [("notes.txt", "not an image file type")]


def test_nothing_usable_names_the_bad_files(tmp_path: Path) -> None:
    folder = tmp_path / "imgs"
    _make_corpus(folder)
    with pytest.raises(UserError) as info:
        load_images([folder])
    msg = str(info.value)
    assert f"none of the {len(CORPUS)} image file(s) could be used" in msg
    assert "01_empty.jpg: empty file (0 bytes)" in msg and "more" in msg


class _NoNetwork:
    """Fails the test if the pipeline gets as far as the network for an input that is already bad."""

    model_id = "none"

    def load(self) -> None:
        raise AssertionError("the network must not be loaded for bad inputs")

    def max_views(self, height, width):
        raise AssertionError("unreachable")

    def predict(self, images, progress, cancel):
        raise AssertionError("unreachable")


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    weights = placeholder_weights(tmp_path_factory.mktemp("weights") / "iggt-tiny.safetensors")
    monkeypatch.setattr("app.inference.BUNDLED_WEIGHTS", weights)
    monkeypatch.setattr("app.reconstruct.get_predictor", lambda config: _NoNetwork())


def _setup_case(case: str, tmp: Path) -> tuple[list[str], str]:
    """Build the inputs of one failing CLI case; return (argv, expected message fragment)."""
    good = tmp / "good"
    good.mkdir()
    Image.fromarray(np.full((50, 70, 3), 90, np.uint8)).save(good / "a.png")
    out = str(tmp / "out" / "scene.iggt")
    (tmp / "out").mkdir()
    if case == "all_broken":
        _make_corpus(tmp / "broken")
        return ["reconstruct", str(tmp / "broken"), "-o", out], "could be used"
    if case == "empty_folder":
        (tmp / "empty").mkdir()
        return ["reconstruct", str(tmp / "empty"), "-o", out], "no images found"
    if case == "only_non_images":
        (tmp / "docs").mkdir()
        (tmp / "docs" / "a.txt").write_text("x")
        (tmp / "docs" / "b.pdf").write_bytes(b"%PDF")
        return ["reconstruct", str(tmp / "docs"), "-o", out], "no images found"
    if case == "missing_input":
        return ["reconstruct", str(tmp / "nope"), "-o", out], "no such file or folder"
    if case == "single_bad_file":
        (tmp / "one.jpg").write_bytes(b"")
        return ["reconstruct", str(tmp / "one.jpg"), "-o", out], "empty file"
    if case == "output_folder_missing":
        return ["reconstruct", str(good), "-o", str(tmp / "out" / "missing" / "s.iggt")], "does not exist"
    if case == "output_is_folder":
        return ["reconstruct", str(good), "-o", str(tmp / "out")], "is a folder"
    if case == "bad_width":
        return ["reconstruct", str(good), "-o", out, "--width", "10"], "width must be between"
    if case == "zero_views":
        return ["reconstruct", str(good), "-o", out, "--views", "0"], "--views must be at least 1"
    if case == "bad_percentile":
        return ["reconstruct", str(good), "-o", out, "--conf-percentile", "150"], "percentile"
    if case == "missing_weights":
        return [
            "reconstruct",
            str(good),
            "-o",
            out,
            "--weights",
            str(tmp / "w.safetensors"),
        ], "weights file not found"
    if case == "bad_cluster_size":
        return ["reconstruct", str(good), "-o", out, "--min-cluster-size", "1"], "min cluster size"
    if case == "cuda_without_gpu":
        return ["reconstruct", str(good), "-o", out, "--device", "cuda"], "no CUDA GPU is available"
    if case == "missing_mask_dir":
        return [
            "reconstruct",
            str(good),
            "-o",
            out,
            "--mask-dir",
            str(tmp / "masks"),
        ], "mask folder not found"
    raise AssertionError(case)


CLI_CASES = [
    "all_broken", "empty_folder", "only_non_images", "missing_input", "single_bad_file",
    "output_folder_missing", "output_is_folder", "bad_width", "zero_views", "bad_percentile",
    "missing_weights", "bad_cluster_size", "missing_mask_dir", "cuda_without_gpu",
]  # fmt: skip


@pytest.mark.parametrize("case", CLI_CASES)
def test_cli_fails_cleanly_and_writes_nothing(
    case: str, tmp_path: Path, no_network, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    if case == "cuda_without_gpu":
        import torch

        monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    argv, fragment = _setup_case(case, tmp_path)
    before = _listing(tmp_path)
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 1, err
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and fragment in lines[0], err
    assert "Traceback" not in err
    assert _listing(tmp_path) == before  # nothing written, nothing changed


def test_scene_file_errors_are_one_line(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "bad.iggt"
    bad.write_bytes(b"PK\x03\x04 this is not really a zip")
    assert main(["info", str(bad)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: cannot open scene bad.iggt") and "Traceback" not in err
