"""Image loading and preprocessing: formats, orientation, modes, sorting, demo-identical resizing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import SAMPLES
from PIL import Image

from app.errors import UserError
from app.images import (
    PreprocessConfig,
    collect_image_paths,
    evenly_spaced,
    load_images,
    natural_key,
    read_image,
)


def _gradient(h: int = 60, w: int = 90) -> np.ndarray:
    r, c = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    return np.stack([r * 255 // h, c * 255 // w, (r + c) % 256], -1).astype(np.uint8)


def test_preprocessing_matches_the_official_demo_exactly() -> None:
    """Official: PIL open -> convert RGB -> resize((504, 336), BICUBIC) -> ToTensor (/255)."""
    folder = SAMPLES / "room_scan_10"
    files = sorted(folder.iterdir())[:2]
    imgs = load_images(files)
    assert imgs.images.shape == (2, 336, 504, 3)
    for i, f in enumerate(files):
        with Image.open(f) as im:
            ref = np.asarray(im.convert("RGB").resize((504, 336), Image.Resampling.BICUBIC))
        np.testing.assert_array_equal(imgs.images[i], ref)
    x = imgs.as_float()
    assert x.shape == (2, 3, 336, 504) and x.dtype == np.float32
    np.testing.assert_allclose(x[0, :, 5, 7], imgs.images[0, 5, 7] / 255.0)
    view = imgs.views[0]
    assert (
        view.original_size == (480, 640) and view.path == str(files[0].absolute()) and len(view.sha256) == 64
    )


def test_target_width_keeps_demo_ratio_and_multiples_of_28(tmp_path: Path) -> None:
    Image.fromarray(_gradient(100, 300)).save(tmp_path / "wide.png")
    Image.fromarray(_gradient(300, 100)).save(tmp_path / "tall.png")
    out = load_images([tmp_path], PreprocessConfig(width=250))
    assert out.images.shape == (2, 168, 252, 3)  # mixed aspect ratios: all resized to the same size
    assert any("252x168" in n for n in out.notes)
    assert PreprocessConfig(width=504).target_size() == (336, 504)
    assert PreprocessConfig(width=224, height=300).target_size() == (308, 224)
    with pytest.raises(UserError, match="width"):
        load_images([tmp_path], PreprocessConfig(width=10))


def test_natural_sort_and_notes(tmp_path: Path) -> None:
    for name in ("img10.png", "img2.png", "img1.png", "IMG3.png"):
        Image.fromarray(_gradient()).save(tmp_path / name)
    (tmp_path / "readme.md").write_text("hi")
    (tmp_path / ".DS_Store").write_bytes(b"\0")
    (tmp_path / "sub").mkdir()
    paths, skipped = collect_image_paths([tmp_path])
    assert [p.name for p in paths] == ["img1.png", "img2.png", "IMG3.png", "img10.png"]
    assert {(s.path.name, s.bad) for s in skipped} == {("readme.md", False), ("sub", False)}
    assert sorted([Path("b2"), Path("b10"), Path("a")], key=natural_key) == [
        Path("a"),
        Path("b2"),
        Path("b10"),
    ]


def test_explicit_file_list_keeps_order_and_reports_missing(tmp_path: Path) -> None:
    for name in ("b.png", "a.png"):
        Image.fromarray(_gradient()).save(tmp_path / name)
    out = load_images([tmp_path / "b.png", tmp_path / "a.png", tmp_path / "gone.png"])
    assert [v.name for v in out.views] == ["b.png", "a.png"]
    assert [(s.path.name, s.reason) for s in out.bad_files] == [("gone.png", "file not found")]
    with pytest.raises(UserError, match="no such file or folder"):
        load_images([tmp_path / "nothing_here"])


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    img = Image.fromarray(_gradient(40, 80))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise for display
    img.save(tmp_path / "rot.jpg", exif=exif, quality=95)
    rgb = read_image(tmp_path / "rot.jpg")
    assert rgb.shape == (80, 40, 3)
    # after a clockwise rotation the stored top-left corner (dark red/green) is at the top right
    assert rgb[0, -1].sum() < rgb[-1, 0].sum()


def test_alpha_composited_on_white_or_black(tmp_path: Path) -> None:
    rgba = np.zeros((20, 20, 4), np.uint8)
    rgba[..., 0] = 200
    rgba[:, 10:, 3] = 255  # right half opaque red, left half transparent
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    white = read_image(tmp_path / "a.png", "white")
    black = read_image(tmp_path / "a.png", "black")
    assert (white[:, :10] == 255).all() and (black[:, :10] == 0).all()
    assert (white[:, 10:] == [200, 0, 0]).all() and (black[:, 10:] == [200, 0, 0]).all()
    pal = Image.fromarray(rgba[..., :3]).convert("P")
    pal.info["transparency"] = 0
    pal.save(tmp_path / "p.png", transparency=0)
    assert read_image(tmp_path / "p.png").shape == (20, 20, 3)


def test_grayscale_16bit_cmyk_and_float_are_converted(tmp_path: Path) -> None:
    g16 = (np.linspace(0, 65535, 32 * 32).reshape(32, 32)).astype(np.uint16)
    Image.fromarray(g16).save(tmp_path / "g16.png")
    rgb = read_image(tmp_path / "g16.png")
    assert rgb.dtype == np.uint8 and rgb.shape == (32, 32, 3)
    assert rgb[0, 0, 0] == 0 and rgb[-1, -1, 0] == 255 and 100 < rgb[16, 0, 0] < 160  # scaled, not clipped
    Image.fromarray(_gradient()).convert("L").save(tmp_path / "g8.bmp")
    assert read_image(tmp_path / "g8.bmp").shape == (60, 90, 3)
    Image.fromarray(_gradient()).convert("CMYK").save(tmp_path / "cmyk.jpg")
    cmyk = read_image(tmp_path / "cmyk.jpg")
    assert cmyk.shape == (60, 90, 3) and np.abs(cmyk.astype(int) - _gradient().astype(int)).mean() < 12
    Image.fromarray(np.linspace(0, 1, 900, dtype=np.float32).reshape(30, 30), "F").save(tmp_path / "f.tiff")
    f = read_image(tmp_path / "f.tiff")
    assert f[0, 0, 0] == 0 and f[-1, -1, 0] == 255
    Image.fromarray(_gradient()).save(tmp_path / "w.webp", lossless=True)
    np.testing.assert_array_equal(read_image(tmp_path / "w.webp"), _gradient())


def test_views_option_subsamples_evenly(tmp_path: Path) -> None:
    for i in range(10):
        Image.fromarray(np.full((30, 30, 3), i * 20, np.uint8)).save(tmp_path / f"f{i}.png")
    out = load_images([tmp_path], PreprocessConfig(width=56, max_views=4))
    assert [v.name for v in out.views] == ["f0.png", "f3.png", "f6.png", "f9.png"]
    assert any("4 of 10" in n for n in out.notes)
    assert evenly_spaced(5, 1) == [0] and evenly_spaced(3, 7) == [0, 1, 2]


def test_transform_maps_masks_back_to_original_pixels(tmp_path: Path) -> None:
    Image.fromarray(_gradient(200, 300)).save(tmp_path / "x.png")
    out = load_images([tmp_path], PreprocessConfig(width=84))
    t = out.views[0].transform
    assert t.original_size == (200, 300) and t.model_size == (56, 84)
    labels = np.zeros((56, 84), np.int32)
    labels[28:, :42] = 7  # bottom-left quarter
    big = t.labels_to_original(labels)
    assert big.shape == (200, 300)
    assert (big[105:, :145] == 7).all() and (big[:95] == 0).all() and (big[:, 155:] == 0).all()


def test_model_defaults_fill_only_what_the_user_left_unset() -> None:
    unset = PreprocessConfig(width=0)  # settings store "unset" as 0
    assert unset.width is None and unset.target_size() == (336, 504)
    assert unset.with_model_defaults(308, 224, 6) == PreprocessConfig(width=308, height=224, max_views=6)
    assert unset.with_model_defaults(336).target_size() == (224, 336)  # no height named: the demo's 2:3
    chosen = PreprocessConfig(width=168, height=None, max_views=4)
    assert chosen.with_model_defaults(308, 224, 6) is chosen
    own_height = PreprocessConfig(height=112).with_model_defaults(308, 224)
    assert own_height.target_size() == (112, 308)
    assert unset.with_model_defaults(None) is unset
