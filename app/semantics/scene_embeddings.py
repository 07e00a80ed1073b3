"""Instance embeddings of a Scene, cached in the scene (and so in its file) under the CLIP model id.

A cached entry is valid while the label maps and the embedding settings it was computed from are unchanged:
both are summarised by a digest kept in ``scene.metadata["semantics"]``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Generator
from dataclasses import asdict

import numpy as np

from app.progress import Progress, run_generator
from app.scene import InstanceEmbeddings, Scene

from .backends import ClipBackend
from .embed import EmbedConfig, iter_embed_instances

META_KEY = "semantics"


def scene_digest(scene: Scene, cfg: EmbedConfig) -> str:
    """Changes when the masks (label maps, instance ids) or the embedding settings change."""
    h = hashlib.blake2b(digest_size=12)
    h.update(np.ascontiguousarray(scene.labels).view(np.uint8).data)
    h.update(np.asarray(sorted(scene.instances), dtype=np.int64).tobytes())
    h.update(json.dumps(asdict(cfg), sort_keys=True).encode())
    return h.hexdigest()


def cached_embeddings(
    scene: Scene, model_id: str, cfg: EmbedConfig | None = None
) -> InstanceEmbeddings | None:
    cfg = cfg or EmbedConfig()
    emb = scene.embeddings.get(model_id)
    info = scene.metadata.get(META_KEY, {}).get("embeddings", {}).get(model_id)
    if emb is None or not info or info.get("digest") != scene_digest(scene, cfg):
        return None
    return emb


def iter_compute(
    scene: Scene, backend: ClipBackend, cfg: EmbedConfig | None = None
) -> Generator[Progress, None, tuple[InstanceEmbeddings, str]]:
    """Compute (does not store) the embeddings; returns them with the digest to store them under.
    Reads the scene only, so a worker thread may run it."""
    cfg = cfg or EmbedConfig()
    digest = scene_digest(scene, cfg)
    emb = yield from iter_embed_instances(scene.images, scene.labels, list(scene.instances), backend, cfg)
    return emb, digest


def store(scene: Scene, model_id: str, emb: InstanceEmbeddings, digest: str) -> None:
    """Put computed embeddings in the scene (main thread: emits ``events.embeddings``)."""
    meta = dict(scene.metadata.get(META_KEY, {}))
    entries = dict(meta.get("embeddings", {}))
    entries[model_id] = {
        "digest": digest,
        "instances": len(emb.instance_ids),
        "dim": int(emb.vectors.shape[1]),
    }
    meta["embeddings"] = entries
    scene.metadata[META_KEY] = meta
    scene.set_embeddings(model_id, emb)


def ensure_embeddings(
    scene: Scene,
    backend: ClipBackend,
    cfg: EmbedConfig | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    cancel: Callable[[], bool] | None = None,
) -> tuple[InstanceEmbeddings, bool]:
    """The scene's embeddings for this model: cached ones when valid, else computed and stored.
    Returns (embeddings, computed_now)."""
    cfg = cfg or EmbedConfig()
    emb = cached_embeddings(scene, backend.model_id, cfg)
    if emb is not None:
        return emb, False
    emb, digest = run_generator(iter_compute(scene, backend, cfg), on_progress, cancel)
    store(scene, backend.model_id, emb, digest)
    return emb, True
