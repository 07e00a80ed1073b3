"""The real models the app can fetch from the Hugging Face hub, and what this machine has of them.

Nothing here touches the network unless `get` is called (the user asked for a download): listing and
state checks read the local hub cache only. `get` downloads through `app.hub_download` (resumable,
verified, into the standard hub cache), then runs the loader's strict validation (every IGGT tensor name
and shape against the architecture; a real open_clip load for CLIPs) before the model is offered; a model
that fails it is taken out of the cache again.

CLIP entries follow open_clip's own resolution: ``open_clip.get_pretrained_cfg(name, tag)["hf_hub"]`` is
``org/repo/`` (trailing slash: the default file names) or ``org/repo/file``; open_clip's loader prefers
``open_clip_model.safetensors`` over ``open_clip_pytorch_model.bin``. The repositories are written out
here so that listing does not import open_clip (seconds); tests/test_models_hub.py checks them against
open_clip.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from app import hub_download
from app.errors import UserError
from app.paths import WEIGHTS_DIR

OPEN_CLIP_FILES = ("open_clip_model.safetensors", "open_clip_pytorch_model.bin")
BUNDLED, IN_CACHE, ABSENT = "bundled", "in cache", "not present"
_IGGT_LICENCE = "code MIT; checkpoint: see its model card (it builds on VGGT) before commercial use"
_LAION_LICENCE = "MIT (LAION OpenCLIP, trained on LAION-2B)"


@dataclass(frozen=True)
class HubModel:
    key: str  # what `iggt models get` takes
    title: str
    kind: str  # "iggt" | "clip"
    repo_id: str
    approx_bytes: int  # shown before the hub is asked
    licence: str
    revision: str = "main"
    clip_name: str = ""  # open_clip model name (CLIP entries)
    clip_tag: str = ""  # open_clip pretrained tag

    def setting(self, revision: str | None = None) -> str:
        """What the app's settings take to use this model (--weights / --model)."""
        if self.kind == "clip":
            return f"{self.clip_name}:{self.clip_tag}"
        rev = revision or self.revision
        return self.repo_id if rev == "main" else f"{self.repo_id}@{rev}"

    def choose(self, files: list[str]) -> list[str]:
        """The files to fetch from the repository's listing."""
        if self.kind == "iggt":
            from model.checkpoint import choose_weight_files

            return choose_weight_files(files)
        for name in OPEN_CLIP_FILES:
            if name in files:
                return [name]
        raise UserError(f"{self.repo_id} holds none of {', '.join(OPEN_CLIP_FILES)}")


CATALOG = (
    HubModel("iggt-official", "IGGT (official checkpoint)", "iggt", "lifuguan/IGGT_official",
             int(5.2e9), _IGGT_LICENCE),
    HubModel("clip:ViT-B-16:laion2b_s34b_b88k", "CLIP ViT-B/16 (LAION-2B)", "clip",
             "laion/CLIP-ViT-B-16-laion2B-s34B-b88K", int(599e6), _LAION_LICENCE,
             clip_name="ViT-B-16", clip_tag="laion2b_s34b_b88k"),
    HubModel("clip:ViT-B-32:laion2b_s34b_b79k", "CLIP ViT-B/32 (LAION-2B)", "clip",
             "laion/CLIP-ViT-B-32-laion2B-s34B-b79K", int(605e6), _LAION_LICENCE,
             clip_name="ViT-B-32", clip_tag="laion2b_s34b_b79k"),
    HubModel("clip:ViT-L-14:laion2b_s32b_b82k", "CLIP ViT-L/14 (LAION-2B)", "clip",
             "laion/CLIP-ViT-L-14-laion2B-s32B-b82K", int(1.71e9), _LAION_LICENCE,
             clip_name="ViT-L-14", clip_tag="laion2b_s32b_b82k"),
)


@dataclass(frozen=True)
class ModelState:
    key: str
    title: str
    state: str  # bundled | in cache | not present
    size: int  # bytes on disk (an estimate when not present)
    licence: str
    where: str  # file or cache folder ("" when not present)
    setting: str  # the settings value that uses it
    kind: str  # "iggt" | "clip"

    @property
    def present(self) -> bool:
        return self.state != ABSENT


def find(key: str) -> HubModel:
    """The catalog entry for ``key`` (UserError naming the choices)."""
    for model in CATALOG:
        if model.key == key.strip():
            return model
    raise UserError(f"unknown model {key!r}; choose one of: {', '.join(m.key for m in CATALOG)}")


def _cache_dir() -> Path:
    from model.checkpoint import hub_cache_dir

    return hub_cache_dir()


def _bundled() -> list[ModelState]:
    iggt, clip = WEIGHTS_DIR / "iggt-tiny.safetensors", WEIGHTS_DIR / "clip-tiny.safetensors"
    return [
        ModelState("bundled", "IGGT tiny (bundled, synthetic rooms only)",
                   BUNDLED if iggt.is_file() else ABSENT, _size(iggt), "MIT (this project)", str(iggt),
                   "bundled", "iggt"),
        ModelState("clip:bundled", "CLIP tiny (bundled, synthetic rooms only)",
                   BUNDLED if clip.is_file() else ABSENT, _size(clip), "MIT (this project)", str(clip),
                   "bundled", "clip"),
    ]


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def cached_files(model: HubModel, revision: str | None = None) -> list[Path]:
    """The model's weight files in the local hub cache ([] when absent); never touches the network."""
    cache = _cache_dir()
    if model.kind == "clip":
        from huggingface_hub import try_to_load_from_cache

        for name in OPEN_CLIP_FILES:
            hit = try_to_load_from_cache(model.repo_id, name, cache_dir=cache, revision=revision)
            if isinstance(hit, str) and Path(hit).is_file():
                return [Path(hit)]
        return []
    from model.checkpoint import resolve_hub, weight_files_in
    from model.errors import IGGTError

    rev = revision or model.revision
    try:
        return weight_files_in(resolve_hub(model.repo_id, None if rev == "main" else rev))
    except IGGTError:
        return []


def state(model: HubModel, revision: str | None = None) -> ModelState:
    files = cached_files(model, revision)
    if not files:
        return ModelState(model.key, model.title, ABSENT, model.approx_bytes, model.licence, "",
                          model.setting(revision), model.kind)
    where = str(files[0].parent if len(files) > 1 else files[0])
    return ModelState(model.key, model.title, IN_CACHE, sum(_size(p) for p in files), model.licence, where,
                      model.setting(revision), model.kind)


def list_models() -> list[ModelState]:
    """The bundled models, then every catalog entry with its state here."""
    return _bundled() + [state(m) for m in CATALOG]


def validate(model: HubModel, paths: list[Path]) -> None:
    """The loader's strict checks on downloaded files (UserError when they do not fit)."""
    if model.kind == "iggt":
        from model.checkpoint import config_from_source, locate, plan_load, read_checkpoint
        from model.config import IGGTConfig
        from model.errors import IGGTError
        from model.iggt import build_iggt

        try:
            files, origin = locate(paths[0].parent)
            src = read_checkpoint(files, origin)
            try:
                cfg = config_from_source(src) or IGGTConfig.full()
                plan_load(src, cfg, build_iggt(cfg, device="meta"))
            finally:
                src.close()
        except IGGTError as exc:
            raise UserError(str(exc)) from None
        return
    from app.semantics.backends import BackendUnavailable, load_open_clip

    try:
        load_open_clip(model.clip_name, str(paths[0]), device="cpu")
    except BackendUnavailable as exc:
        raise UserError(str(exc)) from None


def get(key: str, progress: hub_download.ProgressFn | None = None,
        cancel: hub_download.CancelFn | None = None, revision: str | None = None) -> ModelState:
    """Download (or finish downloading) a catalog model, verify and validate it; its state afterwards."""
    model = find(key)
    if revision is None and cached_files(model):  # already here: no need to ask the hub
        return state(model)
    rev = revision or model.revision
    paths = hub_download.fetch(model.repo_id, rev, model.choose, _cache_dir(), progress, cancel)
    if progress is not None:
        progress(hub_download.DownloadProgress(0, 0, 0.0, model.title, "validate"))
    try:
        validate(model, paths)
    except UserError as exc:
        hub_download.remove(paths)
        raise UserError(f"{model.key}: downloaded but it does not load ({exc}); removed from the cache") \
            from None
    return state(model, revision)
