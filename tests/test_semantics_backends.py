"""CLIP backend loading (offline only, clear messages, fallback), vocabularies and mask crops."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from app.errors import UserError
from app.semantics.backends import BackendUnavailable, load_backend, load_backend_or_bundled
from app.semantics.vocab import SCANNET20, load_vocabulary, parse_vocabulary
from model.clip.crops import GREY, CropConfig, mask_crops


def test_an_uncached_open_clip_model_is_reported_not_downloaded(tmp_path: Path) -> None:
    from app.semantics.backends import load_open_clip

    with pytest.raises(BackendUnavailable, match="not in the local model cache"):
        load_open_clip("ViT-B-16", "laion2b_s34b_b88k", device="cpu", cache_dir=str(tmp_path))


def test_unavailable_model_falls_back_to_the_bundled_one_with_a_warning(monkeypatch) -> None:
    loaded = load_backend_or_bundled("ViT-B-16:no_such_tag", device="cpu")
    assert loaded.backend.model_id.startswith("clip-tiny:")
    assert "no_such_tag" in loaded.warning and "bundled" in loaded.warning


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("NoSuchNet:openai", "unknown open_clip model"),
        ("ViT-B-16:/nonexistent/ckpt.bin", "checkpoint file not found"),
        ("/nonexistent/clip.safetensors", "not found"),
        ("whatever", "bad CLIP model setting"),
    ],
)
def test_bad_model_settings_have_clear_messages(spec: str, message: str) -> None:
    with pytest.raises(BackendUnavailable, match=message):
        load_backend(spec, device="cpu")


def test_a_broken_weights_file_is_reported(tmp_path: Path) -> None:
    bad = tmp_path / "clip.safetensors"
    bad.write_bytes(b"not a safetensors file")
    bad.with_suffix(".json").write_text("{}")
    with pytest.raises(BackendUnavailable, match="cannot load"):
        load_backend(str(bad), device="cpu")


def test_vocabularies_builtin_and_files(tmp_path: Path) -> None:
    name, classes = load_vocabulary("ScanNet20")
    assert name == "scannet20" and classes == list(SCANNET20) and len(classes) == 20
    assert parse_vocabulary("a\n# c\n b ,a\n\nc  d") == ["a", "b", "c d"]
    with pytest.raises(UserError, match="neither a built-in"):
        load_vocabulary(str(tmp_path / "missing.txt"))
    binary = tmp_path / "bin.txt"
    binary.write_bytes(b"\xff\xfe\x00\xd8")
    with pytest.raises(UserError, match="UTF-8"):
        load_vocabulary(str(binary))


def test_mask_crops_cover_scales_and_grey_the_background() -> None:
    image = np.zeros((60, 80, 3), np.uint8)
    image[..., 0] = 255
    mask = np.zeros((60, 80), bool)
    mask[50:60, 70:73] = True  # an L in the corner: the larger crops leave the image,
    mask[50:53, 70:80] = True  # and its box holds pixels outside the mask
    cfg = CropConfig(expansions=(0.0, 1.0), masked_background=True, size=16)
    crops = mask_crops(image, mask, cfg)
    assert crops.shape == (3, 3, 16, 16)
    assert crops[0, 0].min() > 0.99  # tight crop: all red (inside the image)
    assert crops[1, 1].max() == pytest.approx(GREY)  # wide crop: out-of-image part is grey
    masked = crops[2]
    assert masked[0].max() > 0.99 and masked[1].max() == pytest.approx(GREY)
    with pytest.raises(ValueError, match="empty"):
        mask_crops(image, np.zeros((60, 80), bool), cfg)


def test_an_open_clip_model_loads_from_a_local_checkpoint_file(tmp_path: Path) -> None:
    """NAME:/path/to/checkpoint goes through open_clip's own factory (a tiny registered config here)."""
    import json

    import open_clip
    import torch

    from model.clip import TinyClipConfig, build_tiny_clip

    cfg = TinyClipConfig(embed_dim=16, image_size=32, vision_width=32, vision_layers=1, text_width=32,
                         text_heads=2, text_layers=1, text_context=77)  # fmt: skip
    config_file = tmp_path / "iggt-test-clip.json"
    config_file.write_text(json.dumps(cfg.open_clip_cfg()))
    open_clip.add_model_config(config_file)
    torch.manual_seed(0)
    model = build_tiny_clip(cfg)
    ckpt = tmp_path / "weights.pt"
    torch.save(model.state_dict(), ckpt)
    backend = load_backend(f"iggt-test-clip:{ckpt}", device="cpu")
    assert backend.model_id.startswith("iggt-test-clip:file-") and backend.image_size == 32
    feats = backend.encode_texts(["a chair"])
    with torch.no_grad():
        ref = model.eval().encode_text(open_clip.get_tokenizer("iggt-test-clip")(["a chair"]))
    np.testing.assert_allclose(feats[0], (ref / ref.norm(dim=-1, keepdim=True))[0].numpy(), atol=1e-5)


@pytest.mark.parametrize(
    "spec",
    ["bundled", "ViT-B-16:laion2b_s34b_b88k", "ViT-B-16:/models/vit.bin", "/models/clip-tiny.safetensors"],
)
def test_model_choice_round_trips_a_spec(spec: str) -> None:
    from app.semantics.backends import ModelChoice

    choice = ModelChoice.from_spec(spec)
    assert choice.spec() == spec
    expected = {"bundled": "bundled", "ViT-B-16:laion2b_s34b_b88k": "open_clip"}.get(spec, "file")
    assert choice.source == expected


def test_model_choice_rejects_empty_and_malformed_fields() -> None:
    from app.semantics.backends import ModelChoice

    with pytest.raises(BackendUnavailable, match="NAME:TAG"):
        ModelChoice("open_clip", open_clip=" ").spec()
    with pytest.raises(BackendUnavailable, match="choose a CLIP checkpoint file"):
        ModelChoice("file", file="").spec()
    with pytest.raises(BackendUnavailable, match="not an open_clip model name"):
        ModelChoice("file", file="/m/x.bin", file_model="hf-hub:org/x").spec()
    assert ModelChoice("file", file="/m/x.bin", file_model="ViT-B-16").spec() == "ViT-B-16:/m/x.bin"
