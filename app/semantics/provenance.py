"""Which of the models behind a scene and its search are the bundled ones, trained on synthetic rooms only
(the Find panel says so, with a way to get the real models)."""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

from .backends import BUNDLED, bundled_weights_path


@lru_cache(maxsize=4)
def _digest(path: Path, size: int, mtime: float) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()[:12]


def _file_digest(path: Path) -> str | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return _digest(path, st.st_size, st.st_mtime)


def bundled_iggt(scene_model_id: str | None) -> bool:
    """The scene was reconstructed with the bundled tiny IGGT (its id ends with that file's digest) or
    another tiny-config IGGT (this project trains that size on synthetic rooms only)."""
    from app.inference import BUNDLED_WEIGHTS

    text = str(scene_model_id or "")
    digest = _file_digest(BUNDLED_WEIGHTS)
    return text.startswith("iggt-tiny:") or (digest is not None and text.endswith(f":{digest}"))


def bundled_clip(spec_or_model_id: str | None) -> bool:
    """A CLIP setting ("bundled") or a loaded model id that is the bundled tiny CLIP."""
    text = (spec_or_model_id or BUNDLED).strip()
    if text == BUNDLED:
        return True
    digest = _file_digest(bundled_weights_path())
    return digest is not None and text == f"clip-tiny:{digest}"


def synthetic_only(scene_model_id: str | None, clip: str | None) -> list[str]:
    """Names of the models in use that were trained on synthetic rooms only (empty: none)."""
    out = []
    if bundled_iggt(scene_model_id):
        out.append("IGGT")
    if bundled_clip(clip):
        out.append("CLIP")
    return out
