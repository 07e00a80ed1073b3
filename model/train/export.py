"""Export trained weights as a safetensors file the app can load.

The file holds the model's state dict (float32) and, as safetensors metadata (strings):
``format`` = "iggt-viewer/1", ``config`` = the IGGTConfig as JSON, ``name``, ``step`` and
``train_config`` (JSON). ``load_exported`` rebuilds the network from that metadata.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch

FORMAT = "iggt-viewer/1"


def export_state(state_dict: dict, config_json: str, path: Path, **info: str) -> Path:
    from safetensors.torch import save_file

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {
        k: v.detach().to("cpu", torch.float32 if v.is_floating_point() else v.dtype).contiguous()
        for k, v in state_dict.items()
    }
    meta = {"format": FORMAT, "config": config_json, **{k: str(v) for k, v in info.items()}}
    tmp = path.with_suffix(path.suffix + ".partial")
    save_file(tensors, str(tmp), metadata=meta)
    os.replace(tmp, path)
    return path


def export_checkpoint(checkpoint: Path, path: Path, name: str = "iggt-tiny") -> Path:
    """``last.pt`` of a training run -> safetensors weights with config metadata."""
    from model import IGGTConfig

    state = torch.load(checkpoint, map_location="cpu", weights_only=False)
    config = IGGTConfig.from_dict(state["model_config"]) if state.get("model_config") else None
    if config is None:
        raise ValueError(f"{checkpoint} has no model config")
    return export_state(
        state["model"],
        config.to_json(),
        path,
        name=name,
        step=str(state["step"]),
        train_config=json.dumps(state["train_config"]),
    )


def read_metadata(path: Path) -> dict[str, str]:
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        return dict(f.metadata() or {})


def load_exported(path: Path, device: str = "cpu") -> torch.nn.Module:
    """Rebuild the network from an exported file (config from its metadata) and load the weights."""
    from safetensors.torch import load_file

    from model import IGGTConfig, build_iggt

    meta = read_metadata(path)
    if "config" not in meta:
        raise ValueError(f"{path} has no IGGT config metadata")
    net = build_iggt(IGGTConfig.from_json(meta["config"]))
    net.load_state_dict(load_file(str(path)), strict=True)
    return net.to(device).eval()
