"""Export a training run's weights with the model's own format (``model.checkpoint.save_iggt``:
safetensors, the IGGTConfig as JSON metadata), so ``load_iggt`` rebuilds the exact architecture.
Extra metadata: ``name``, ``step`` and ``train_config`` (JSON)."""

from __future__ import annotations

import json
from pathlib import Path

import torch


def export_checkpoint(checkpoint: Path, path: Path, name: str = "iggt-tiny", **extra: str) -> Path:
    """``last.pt`` of a training run -> safetensors weights loadable by ``load_iggt``."""
    from model import IGGTConfig, build_iggt
    from model.checkpoint import save_iggt

    state = torch.load(checkpoint, map_location="cpu", weights_only=False)
    if not state.get("model_config"):
        raise ValueError(f"{checkpoint} records no model config")
    net = build_iggt(IGGTConfig.from_dict(state["model_config"]))
    net.load_state_dict(state["model"], strict=True)
    meta = {
        "name": name,
        "step": str(state["step"]),
        "train_config": json.dumps(state["train_config"]),
        **extra,
    }
    return save_iggt(net, path, metadata=meta)


def read_metadata(path: Path) -> dict[str, str]:
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        return dict(f.metadata() or {})
