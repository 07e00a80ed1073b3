"""CLIP backends: one interface over the bundled tiny CLIP and any open_clip model, loaded strictly offline.

Model specs (a setting, a CLI option):
  ``bundled``                   the project's tiny CLIP in resources/weights/clip-tiny.safetensors
  ``NAME:TAG``                  an open_clip model and pretrained tag, e.g. ``ViT-B-16:laion2b_s34b_b88k``,
                                taken from the local Hugging Face / open_clip cache (never downloaded)
  ``NAME:/path/to/checkpoint``  an open_clip model name with a local checkpoint file
  ``/path/to/model.safetensors`` a tiny-CLIP file with its JSON config beside it
"""

from __future__ import annotations

import hashlib
import os
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from app.errors import UserError

BUNDLED = "bundled"
BUNDLED_FILE = "clip-tiny.safetensors"


class BackendUnavailable(UserError):
    """The requested CLIP model cannot be loaded here (not cached, bad file, unknown name)."""


class ClipBackend(Protocol):
    model_id: str  # stable id, the key of the scene's embedding cache
    image_size: int  # square crop size the image tower expects
    embed_dim: int
    logit_scale: float  # softmax temperature of image-text similarities (class probabilities)

    def encode_images(self, images: np.ndarray) -> np.ndarray:
        """(N, 3, S, S) float in [0, 1] (S = image_size) -> (N, D) float32, L2-normalised."""
        ...

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        """N strings -> (N, D) float32, L2-normalised."""
        ...


def pick_device(device: str = "auto") -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise BackendUnavailable("CUDA was requested for the CLIP model but no CUDA GPU is available")
    return device


class OpenClipBackend:
    """Any ``open_clip.CLIP``-like model with its tokenizer and input normalisation."""

    def __init__(
        self,
        model,
        tokenizer,
        model_id: str,
        image_size: int,
        mean,
        std,
        device: str = "cpu",
        text_cache_size: int = 2048,
    ):
        import torch

        self.model = model.to(device).eval()
        self.tokenizer = tokenizer
        self.model_id = model_id
        self.image_size = int(image_size)
        self.device = device
        self._mean = torch.tensor(mean, dtype=torch.float32, device=device).view(1, 3, 1, 1)
        self._std = torch.tensor(std, dtype=torch.float32, device=device).view(1, 3, 1, 1)
        self._text_cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._text_cache_size = text_cache_size
        # The model's own softmax temperature (CLIP learns it; about 100 for the big public models).
        scale = getattr(model, "logit_scale", None)
        self.logit_scale = float(scale.detach().exp()) if scale is not None else 100.0
        with torch.no_grad():
            self.embed_dim = int(self.encode_texts(["a"]).shape[1])

    def _autocast(self):
        import contextlib

        import torch

        if self.device.startswith("cuda"):
            from model.device import cuda_reduced_dtype  # bf16 from compute capability 8.0, else fp16

            return torch.autocast("cuda", dtype=cuda_reduced_dtype(torch.device(self.device)))
        return contextlib.nullcontext()

    def encode_images(self, images: np.ndarray) -> np.ndarray:
        import torch
        import torch.nn.functional as F

        x = torch.as_tensor(np.asarray(images), dtype=torch.float32, device=self.device)
        if x.ndim != 4 or x.shape[1] != 3:
            raise ValueError(f"images must be (N, 3, S, S), got {tuple(x.shape)}")
        if x.shape[-1] != self.image_size or x.shape[-2] != self.image_size:
            x = F.interpolate(x, size=(self.image_size, self.image_size), mode="bilinear", antialias=True)
        with torch.no_grad(), self._autocast():
            feats = self.model.encode_image((x - self._mean) / self._std)
        return F.normalize(feats.float(), dim=-1).cpu().numpy()

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        """Cached per string: repeated prompts (typing, templates, vocabularies) cost nothing."""
        import torch
        import torch.nn.functional as F

        texts = [str(t) for t in texts]
        missing = list(dict.fromkeys(t for t in texts if t not in self._text_cache))
        if missing:
            tokens = self.tokenizer(missing).to(self.device)
            with torch.no_grad(), self._autocast():
                feats = F.normalize(self.model.encode_text(tokens).float(), dim=-1).cpu().numpy()
            for t, f in zip(missing, feats, strict=True):
                self._text_cache[t] = f.astype(np.float32)
                self._text_cache.move_to_end(t)
            while len(self._text_cache) > self._text_cache_size:
                self._text_cache.popitem(last=False)
        if not texts:
            return np.zeros((0, getattr(self, "embed_dim", 0)), np.float32)
        return np.stack([self._text_cache[t] for t in texts])


@dataclass(frozen=True)
class LoadedBackend:
    backend: ClipBackend
    warning: str | None = None  # set when the requested model was unavailable and the bundled one is used


def _file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()[:12]


def load_tiny_file(path: Path, device: str = "auto") -> OpenClipBackend:
    from model.clip import load_tiny_clip, tiny_tokenizer

    path = Path(path)
    if not path.is_file():
        raise BackendUnavailable(f"CLIP weights not found: {path}")
    try:
        model, cfg = load_tiny_clip(path)
    except Exception as exc:
        raise BackendUnavailable(f"cannot load CLIP weights {path.name}: {exc}") from exc
    model_id = f"clip-tiny:{_file_digest(path)}"
    return OpenClipBackend(
        model, tiny_tokenizer(cfg), model_id, cfg.image_size, cfg.mean, cfg.std, pick_device(device)
    )


def bundled_weights_path() -> Path:
    from app.paths import WEIGHTS_DIR

    return WEIGHTS_DIR / BUNDLED_FILE


def _cached_pretrained(name: str, tag: str, cache_dir: str | None) -> Path:
    """The local file of an open_clip pretrained tag, or BackendUnavailable (no download is ever tried)."""
    import open_clip

    if name not in open_clip.list_models():
        raise BackendUnavailable(f"unknown open_clip model {name!r} (see open_clip.list_models())")
    cfg = open_clip.get_pretrained_cfg(name, tag)
    if not cfg:
        tags = ", ".join(open_clip.list_pretrained_tags_by_model(name)) or "none"
        raise BackendUnavailable(f"unknown pretrained tag {tag!r} for {name} (known: {tags})")
    candidates: list[Path] = []
    from model.checkpoint import hub_cache_dir  # the hub cache as the environment names it now

    hub = cfg.get("hf_hub", "")
    if hub:
        from huggingface_hub import try_to_load_from_cache

        repo, filename = os.path.split(hub)
        names = [filename] if filename else ["open_clip_model.safetensors", "open_clip_pytorch_model.bin"]
        if filename and filename.endswith(".bin"):
            names.insert(0, filename[: -len(".bin")] + ".safetensors")
        for fname in names:
            hit = try_to_load_from_cache(repo, fname, cache_dir=cache_dir or hub_cache_dir())
            if isinstance(hit, str):
                candidates.append(Path(hit))
    url = cfg.get("url", "")
    if url:
        candidates.append(Path(cache_dir or os.path.expanduser("~/.cache/clip")) / os.path.basename(url))
    for path in candidates:
        if path.is_file():
            return path
    where = hub or url
    raise BackendUnavailable(
        f"{name} ({tag}) is not in the local model cache ({where}); download it with 'iggt models get "
        f"clip:{name}:{tag}' (or Settings > Models), or use NAME:/path/to/checkpoint"
    )


def load_open_clip(
    name: str, pretrained: str, device: str = "auto", cache_dir: str | None = None
) -> OpenClipBackend:
    """An open_clip model by name with a pretrained tag (from the local cache) or a checkpoint file."""
    import open_clip

    if name not in open_clip.list_models():
        raise BackendUnavailable(f"unknown open_clip model {name!r} (see open_clip.list_models())")
    file = Path(pretrained).expanduser()
    if file.suffix or os.sep in pretrained:
        if not file.is_file():
            raise BackendUnavailable(f"checkpoint file not found: {file}")
        model_id = f"{name}:file-{_file_digest(file)}"
    else:
        file = _cached_pretrained(name, pretrained, cache_dir)
        model_id = f"{name}:{pretrained}"
    try:
        model, _, _ = open_clip.create_model_and_transforms(name, pretrained=str(file), device="cpu")
    except Exception as exc:
        raise BackendUnavailable(f"cannot load {name} from {file}: {exc}") from exc
    pre = open_clip.get_model_preprocess_cfg(model)
    size = pre.get("size", 224)
    size = size[0] if isinstance(size, list | tuple) else size
    return OpenClipBackend(
        model,
        open_clip.get_tokenizer(name),
        model_id,
        int(size),
        pre.get("mean", open_clip.OPENAI_DATASET_MEAN),
        pre.get("std", open_clip.OPENAI_DATASET_STD),
        pick_device(device),
    )


@dataclass(frozen=True)
class ModelChoice:
    """A CLIP model setting as a settings form asks for it; ``spec()`` is what `load_backend` takes."""

    source: str = BUNDLED  # "bundled" | "open_clip" | "file"
    open_clip: str = ""  # NAME:TAG of a cached open_clip model
    file: str = ""  # a local checkpoint file
    file_model: str = ""  # the open_clip model name of ``file``; "" for a tiny-CLIP .safetensors

    SOURCES = (BUNDLED, "open_clip", "file")

    def spec(self) -> str:
        """The model spec; BackendUnavailable when the chosen source's field is empty or malformed."""
        if self.source == "open_clip":
            text = self.open_clip.strip()
            if not text:
                raise BackendUnavailable(
                    "enter an open_clip model as NAME:TAG, e.g. ViT-B-16:laion2b_s34b_b88k"
                )
            return text
        if self.source == "file":
            path, name = self.file.strip(), self.file_model.strip()
            if not path:
                raise BackendUnavailable("choose a CLIP checkpoint file")
            if ":" in name or "/" in name:
                raise BackendUnavailable(f"{name!r} is not an open_clip model name (e.g. ViT-B-16)")
            return f"{name}:{path}" if name else path
        if self.source != BUNDLED:
            raise BackendUnavailable(f"unknown CLIP model source {self.source!r}")
        return BUNDLED

    @classmethod
    def from_spec(cls, spec: str) -> ModelChoice:
        """The form fields of a spec (the inverse of ``spec()``)."""
        spec = (spec or BUNDLED).strip()
        if spec == BUNDLED:
            return cls()
        name, sep, rest = spec.partition(":")
        drive_letter = len(name) == 1 and name.isalpha()
        if sep and name and rest and not drive_letter and "/" not in name and os.sep not in name:
            if Path(rest).suffix or os.sep in rest or "/" in rest:
                return cls("file", file=rest, file_model=name)
            return cls("open_clip", open_clip=spec)
        return cls("file", file=spec)


def load_backend(spec: str = BUNDLED, device: str = "auto") -> OpenClipBackend:
    """Load the model a spec names (see module docstring); BackendUnavailable says why not."""
    spec = (spec or BUNDLED).strip()
    if spec == BUNDLED:
        path = bundled_weights_path()
        if not path.is_file():
            raise BackendUnavailable(f"the bundled CLIP weights are missing ({path}); reinstall the app")
        return load_tiny_file(path, device)
    name, sep, pretrained = spec.partition(":")
    drive_letter = len(name) == 1 and name.isalpha()
    if sep and name and pretrained and not drive_letter and "/" not in name and os.sep not in name:
        return load_open_clip(name, pretrained, device)
    path = Path(spec).expanduser()
    if path.suffix == ".safetensors":
        return load_tiny_file(path, device)
    raise BackendUnavailable(
        f"bad CLIP model setting {spec!r}: use 'bundled', NAME:TAG, NAME:/path/to/checkpoint "
        "or /path/to/clip-tiny.safetensors"
    )


def load_backend_or_bundled(spec: str = BUNDLED, device: str = "auto") -> LoadedBackend:
    """The requested model, or the bundled one with a warning saying why the requested one is unavailable."""
    try:
        return LoadedBackend(load_backend(spec, device))
    except BackendUnavailable as exc:
        if (spec or BUNDLED).strip() == BUNDLED:
            raise
        return LoadedBackend(load_backend(BUNDLED, device), f"{exc}; using the bundled CLIP model instead")
