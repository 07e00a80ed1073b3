"""The tiny CLIP's architecture as an open_clip config, and its safetensors + JSON file format."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import torch

from model import atomic_write

# open_clip's BPE vocabulary size (the SimpleTokenizer ships it inside the package).
OPEN_CLIP_VOCAB = 49408
FORMAT = "iggt-clip-tiny/1"


@dataclass
class TinyClipConfig:
    embed_dim: int = 128
    image_size: int = 64
    patch_size: int = 8
    vision_width: int = 128
    vision_layers: int = 4
    vision_head_width: int = 32
    text_context: int = 24
    text_width: int = 128
    text_heads: int = 4
    text_layers: int = 3
    # Normalisation applied to images in [0, 1] before the image tower.
    mean: tuple[float, float, float] = (0.5, 0.5, 0.5)
    std: tuple[float, float, float] = (0.25, 0.25, 0.25)
    extra: dict = field(default_factory=dict)

    def open_clip_cfg(self) -> dict:
        """The ``model_cfg`` dict in the shape of open_clip's ``model_configs/*.json``."""
        return {
            "embed_dim": self.embed_dim,
            "vision_cfg": {
                "image_size": self.image_size,
                "patch_size": self.patch_size,
                "width": self.vision_width,
                "layers": self.vision_layers,
                "head_width": self.vision_head_width,
            },
            "text_cfg": {
                "context_length": self.text_context,
                "vocab_size": OPEN_CLIP_VOCAB,
                "width": self.text_width,
                "heads": self.text_heads,
                "layers": self.text_layers,
            },
        }

    def to_json(self) -> dict:
        data = asdict(self)
        data["format"] = FORMAT
        data["open_clip_model_cfg"] = self.open_clip_cfg()
        return data

    @classmethod
    def from_json(cls, data: dict) -> TinyClipConfig:
        if data.get("format") != FORMAT:
            raise ValueError(f"not a tiny CLIP config (format {data.get('format')!r}, expected {FORMAT!r})")
        names = {f.name for f in fields(cls)}
        kwargs = {k: v for k, v in data.items() if k in names}
        for key in ("mean", "std"):
            if key in kwargs:
                kwargs[key] = tuple(kwargs[key])
        return cls(**kwargs)


def build_tiny_clip(cfg: TinyClipConfig) -> torch.nn.Module:
    """An ``open_clip.CLIP`` built from the tiny config (random weights)."""
    from open_clip import CLIP
    from open_clip.model import CLIPTextCfg, CLIPVisionCfg

    oc = cfg.open_clip_cfg()
    return CLIP(
        embed_dim=oc["embed_dim"],
        vision_cfg=CLIPVisionCfg(**oc["vision_cfg"]),
        text_cfg=CLIPTextCfg(**oc["text_cfg"]),
    )


def tiny_tokenizer(cfg: TinyClipConfig):
    """open_clip's BPE tokenizer with the tiny model's context length (works offline)."""
    from open_clip.tokenizer import SimpleTokenizer

    return SimpleTokenizer(context_length=cfg.text_context)


def config_path_for(weights: Path) -> Path:
    return weights.with_suffix(".json")


def save_tiny_clip(model: torch.nn.Module, cfg: TinyClipConfig, weights: Path, half: bool = True) -> None:
    """Write ``weights`` (.safetensors, fp16 by default) and its config JSON beside it, atomically."""
    from safetensors.torch import save

    weights = Path(weights)
    weights.parent.mkdir(parents=True, exist_ok=True)
    state = {}
    for k, v in model.state_dict().items():
        v = v.detach().cpu().contiguous()
        state[k] = v.half() if half and v.is_floating_point() else v
    atomic_write.write_bytes(weights, save(state, metadata={"format": FORMAT}))
    atomic_write.write_text(config_path_for(weights), json.dumps(cfg.to_json(), indent=2))


def load_tiny_clip(
    weights: Path, device: str | torch.device = "cpu"
) -> tuple[torch.nn.Module, TinyClipConfig]:
    """Load a tiny CLIP written by :func:`save_tiny_clip` (fp32, eval mode)."""
    from safetensors.torch import load_file

    weights = Path(weights)
    cfg_path = config_path_for(weights)
    if not weights.is_file():
        raise FileNotFoundError(f"tiny CLIP weights not found: {weights}")
    if not cfg_path.is_file():
        raise FileNotFoundError(f"tiny CLIP config not found beside the weights: {cfg_path}")
    cfg = TinyClipConfig.from_json(json.loads(cfg_path.read_text()))
    model = build_tiny_clip(cfg)
    state = {k: v.float() if v.is_floating_point() else v for k, v in load_file(str(weights)).items()}
    model.load_state_dict(state, strict=True)
    return model.to(device).eval(), cfg
