"""The tiny CLIP's training code: crop data set, open_clip model round trip, resumable training."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from model.clip import TinyClipConfig, build_tiny_clip, load_tiny_clip, save_tiny_clip, tiny_tokenizer
from model.clip.prompts import query_prompts
from training.clip.captions import sample_caption
from training.clip.data import CLASSES, CropSet, RenderConfig, build_crop_set
from training.clip.evaluate import zero_shot
from training.clip.train import BatchSampler, TrainConfig, train

SMALL = TinyClipConfig(
    embed_dim=16,
    image_size=32,
    patch_size=8,
    vision_width=32,
    vision_layers=1,
    text_width=32,
    text_heads=2,
    text_layers=1,
    text_context=16,
)
RENDER = RenderConfig(views=2, height=112, width=140, min_mask_pixels=40)


def _crops(tmp_path: Path) -> CropSet:
    from model.clip.crops import CropConfig

    data = build_crop_set([1_000_000, 1_000_001], RENDER, CropConfig(size=32))
    data.save(tmp_path / "crops.npz")
    return CropSet.load(tmp_path / "crops.npz")


def test_crop_set_has_labelled_groups_of_crops(tmp_path: Path) -> None:
    data = _crops(tmp_path)
    assert len(data) > 0 and data.crops.shape[1:] == (32, 32, 3) and data.crops.dtype == np.uint8
    furniture = data.colours >= 0
    assert furniture.any() and (np.asarray(CLASSES)[data.classes[~furniture]] != "chair").all()
    # every mask contributes 3 scales + 1 masked-background crop
    _, counts = np.unique(data.groups, return_counts=True)
    assert set(counts.tolist()) == {4}


def test_captions_name_category_and_colour() -> None:
    rng = np.random.default_rng(0)
    caps = [sample_caption(rng, "sofa", "orange") for _ in range(60)]
    assert any("orange" in c for c in caps) and any("couch" in c or "sofa" in c for c in caps)
    assert all(" a orange" not in c for c in caps)  # articles agree
    assert query_prompts("apple")[0] == "an apple"


def test_tiny_clip_is_open_clip_and_round_trips_through_safetensors(tmp_path: Path) -> None:
    import open_clip

    torch.manual_seed(0)
    model = build_tiny_clip(SMALL).eval()
    assert isinstance(model, open_clip.CLIP)
    save_tiny_clip(model, SMALL, tmp_path / "clip.safetensors", half=False)
    loaded, cfg = load_tiny_clip(tmp_path / "clip.safetensors")
    assert cfg == SMALL
    tokens = tiny_tokenizer(cfg)(["a red chair", "椅子"])
    assert tokens.shape == (2, SMALL.text_context)
    x = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(loaded.encode_image(x), model.encode_image(x))
        torch.testing.assert_close(loaded.encode_text(tokens), model.encode_text(tokens))


def test_batches_never_repeat_a_class_colour_pair(tmp_path: Path) -> None:
    data = _crops(tmp_path)
    batch = BatchSampler(data, TrainConfig(batch=16), np.random.default_rng(0))()
    keys = list(zip(data.classes[batch].tolist(), data.colours[batch].tolist(), strict=True))
    assert len(keys) == len(set(keys)) > 1


def test_training_writes_log_weights_and_resumes_from_its_checkpoint(tmp_path: Path, capsys) -> None:
    torch.set_num_threads(1)
    data = _crops(tmp_path)
    run = tmp_path / "run"
    cfg = TrainConfig(steps=50, batch=16, lr=2e-3, warmup=5, checkpoint_every=25, eval_every=50)
    train(run, cfg, SMALL, data, data)
    log = (run / "train.log").read_text().splitlines()
    assert "step 50" in log[0] and "eval step 50" in log[-1]
    assert (run / "clip-tiny.safetensors").is_file()
    model, _ = load_tiny_clip(run / "clip-tiny.safetensors")
    result = zero_shot(model, SMALL, data)
    assert result.masks > 0 and 0.0 <= result.mask_top1 <= 1.0
    train(
        run,
        TrainConfig(steps=60, batch=16, warmup=5, checkpoint_every=30, eval_every=1000),
        SMALL,
        data,
        None,
    )
    assert "resumed at step 50" in capsys.readouterr().out
