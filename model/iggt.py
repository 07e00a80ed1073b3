"""The IGGT network: aggregator + camera, depth, point and instance heads."""

from __future__ import annotations

import torch
from torch import nn

from .aggregator import IMAGENET_MEAN, IMAGENET_STD, Aggregator
from .config import SIZE_MULTIPLE, IGGTConfig
from .device import full_precision, release_free_memory
from .errors import IGGTError, InputSizeError
from .heads import CameraHead, DPTHead, PartAdaptor, PartHead, TrackHead
from .heads.window_attention import relative_index_overlap, relative_index_self

# pixels per head chunk on the CPU when no frame_chunk is given: one frame unless the images are tiny
AUTO_CHUNK_PIXELS = 16_384
GPU_FRAME_CHUNK = 8  # frames per head chunk on a GPU (as VGGT's heads)


def check_images(images: torch.Tensor) -> torch.Tensor:
    """Validates (S, 3, H, W) or (B, S, 3, H, W) float images and returns the 5-D view."""
    if not isinstance(images, torch.Tensor):
        raise IGGTError(f"images must be a torch.Tensor, got {type(images).__name__}")
    if not images.is_floating_point():
        raise IGGTError(f"images must be float in [0, 1], got dtype {images.dtype}")
    if images.dim() == 4:
        images = images.unsqueeze(0)
    if images.dim() != 5 or images.shape[2] != 3:
        raise InputSizeError(
            f"images must have shape (S, 3, H, W) or (B, S, 3, H, W); got {tuple(images.shape)}"
        )
    b, s, _, h, w = images.shape
    if b == 0 or s == 0:
        raise InputSizeError("no images given (zero views)")
    if h % SIZE_MULTIPLE or w % SIZE_MULTIPLE or h == 0 or w == 0:
        def near(v: int) -> int:
            return max(SIZE_MULTIPLE, round(v / SIZE_MULTIPLE) * SIZE_MULTIPLE)

        raise InputSizeError(
            f"image size {w}x{h} (WxH) is not supported: width and height must be multiples of "
            f"{SIZE_MULTIPLE} (e.g. {near(w)}x{near(h)}; the official demo uses 504x336)"
        )
    return images


def auto_frame_chunk(height: int, width: int, device: torch.device | str = "cpu") -> int:
    """Frames per head chunk: on the CPU about one frame (what bounds its memory), on a GPU 8."""
    if torch.device(device).type != "cpu":
        return GPU_FRAME_CHUNK
    return max(1, AUTO_CHUNK_PIXELS // (height * width))


def trims_memory(device: torch.device) -> bool:
    """Whether the heads return freed heap to the OS after each step: on the CPU only (a GPU's memory is
    PyTorch's caching allocator's, and malloc_trim there only costs time)."""
    return device.type == "cpu"


class IGGT(nn.Module):
    """``net(images)`` -> dict with the official output names (see ``forward``)."""

    def __init__(self, cfg: IGGTConfig) -> None:
        super().__init__()
        self.config = cfg
        dim = cfg.token_dim
        dpt = dict(features=cfg.dpt_features, out_channels=cfg.dpt_out_channels, hidden=cfg.dpt_hidden)
        self.aggregator = Aggregator(cfg)
        self.camera_head = CameraHead(cfg)
        self.point_head = DPTHead(dim, output_dim=4, activation="inv_log", **dpt)
        self.depth_head = DPTHead(dim, output_dim=2, activation="exp", **dpt)
        self.track_head = TrackHead(cfg) if cfg.keep_unused else None
        self.part_adaptor = PartAdaptor(dim, cfg.adaptor_channels)
        self.part_head = PartHead(cfg)
        if not self.aggregator.camera_token.is_meta:
            self._init_tokens()

    def _init_tokens(self) -> None:
        """Initial values of the learned tokens and tables (as the official constructors)."""
        vit = self.aggregator.patch_embed
        with torch.no_grad():
            nn.init.trunc_normal_(vit.pos_embed, std=0.02)
            for token in (vit.cls_token, vit.register_tokens, self.aggregator.camera_token,
                          self.aggregator.register_token):
                nn.init.normal_(token, std=1e-6)
        self._init_part_table()

    def _init_part_table(self) -> None:
        table = self.part_head.window_cross_attention.atten_block.relative_position_bias_table
        with torch.no_grad():
            nn.init.trunc_normal_(table, std=0.02)

    def reset_instance_branch(self) -> None:
        """Fresh part adaptor and part head, initialised as a new network's (e.g. to retrain them)."""
        device = next(self.part_head.parameters()).device
        cfg = self.config
        self.part_adaptor = PartAdaptor(cfg.token_dim, cfg.adaptor_channels).to(device)
        self.part_head = PartHead(cfg).to(device)
        self._init_part_table()

    # ------------------------------------------------------------------ forward
    def forward(
        self,
        images: torch.Tensor,
        query_points: torch.Tensor | None = None,
        *,
        frame_chunk: int | None = None,
    ) -> dict[str, torch.Tensor | list[torch.Tensor]]:
        """images (S, 3, H, W) or (B, S, 3, H, W) in [0, 1], H and W multiples of 28.

        ``query_points`` (point tracking in the official code) is not supported and must be None.

        Returns ``pose_enc`` (list of ``camera_iterations`` tensors (B, S, 9), last = final),
        ``depth`` (B, S, H, W, 1), ``depth_conf`` (B, S, H, W), ``world_points`` (B, S, H, W, 3),
        ``world_points_conf`` (B, S, H, W), ``part_feat`` (B, S, 8, H, W) raw, ``images`` (B, S, 3, H, W).
        The dense heads run over ``frame_chunk`` frames at a time (default: by device and image size, see
        `auto_frame_chunk`); the result does not depend on it. Progress and cancel come from outside,
        through forward hooks (`model.forward_watch`): the forward itself is pure.
        """
        if query_points is not None:
            raise IGGTError("point tracking (query_points) is not supported by this implementation")
        images = check_images(images)
        return self._forward(images, frame_chunk)

    def _forward(self, images, frame_chunk):
        cfg = self.config
        h, w = images.shape[-2:]
        rows, cols = h // cfg.patch_size, w // cfg.patch_size
        tokens = self.aggregator(images, cfg.output_layers)
        start = self.aggregator.patch_start_idx

        with full_precision(images.device):
            tokens = {i: t.float() for i, t in tokens.items()}
            pose_enc = self.camera_head(tokens[cfg.aa_depth - 1][:, :, 0])
            layers = [tokens[i] for i in cfg.head_layers]
            del tokens
            trim = release_free_memory if trims_memory(images.device) else _no_trim
            trim()
            out = self._dense_outputs(layers, start, images, rows, cols, frame_chunk, trim)
        out["pose_enc"] = pose_enc
        out["images"] = images
        return {k: out[k] for k in ("pose_enc", "depth", "depth_conf", "world_points",
                                     "world_points_conf", "part_feat", "images")}

    def _dense_outputs(self, layers, start, images, rows, cols, frame_chunk, trim):
        b, s, _, h, w = images.shape
        dev = images.device
        out = {
            "depth": torch.empty(b, s, h, w, 1, device=dev),
            "depth_conf": torch.empty(b, s, h, w, device=dev),
            "world_points": torch.empty(b, s, h, w, 3, device=dev),
            "world_points_conf": torch.empty(b, s, h, w, device=dev),
            "part_feat": torch.empty(b, s, self.config.part_dim, h, w, device=dev),
        }
        chunk = max(1, int(frame_chunk)) if frame_chunk else auto_frame_chunk(h, w, dev)
        for s0 in range(0, s, chunk):
            s1 = min(s, s0 + chunk)
            n = b * (s1 - s0)
            chunk_tokens = [t[:, s0:s1, start:].reshape(n, rows * cols, t.shape[-1]) for t in layers]
            depth, depth_conf, _ = self.depth_head(chunk_tokens, rows, cols, (h, w))
            out["depth"][:, s0:s1] = depth.view(b, s1 - s0, h, w, 1)
            out["depth_conf"][:, s0:s1] = depth_conf.view(b, s1 - s0, h, w)
            del depth, depth_conf
            trim()
            points, points_conf, point_feats = self.point_head(chunk_tokens, rows, cols, (h, w))
            out["world_points"][:, s0:s1] = points.view(b, s1 - s0, h, w, 3)
            out["world_points_conf"][:, s0:s1] = points_conf.view(b, s1 - s0, h, w)
            del points, points_conf
            trim()
            adaptor_maps = self.part_adaptor(chunk_tokens, rows, cols)
            del chunk_tokens
            trim()
            part = self.part_head(adaptor_maps, point_feats, (h, w))
            out["part_feat"][:, s0:s1] = part.view(b, s1 - s0, -1, h, w)
            del adaptor_maps, point_feats, part
            trim()
        return out

    # ------------------------------------------------------------------ helpers
    def restore_constant_buffers(self, device: str | torch.device | None = None) -> None:
        """Gives buffers still on the meta device their constructor values.

        Needed after building on the meta device and loading with ``assign=True``: the ImageNet
        normalisation constants are not in checkpoints, and a checkpoint may lack the integer
        buffers (BatchNorm counters, Swin index tables).
        """
        if device is None:
            device = next((p.device for p in self.parameters() if not p.is_meta), torch.device("cpu"))
        for module in self.modules():
            for name, buf in list(module._buffers.items()):
                if buf is not None and buf.is_meta:
                    module._buffers[name] = _constructor_value(module, name).to(device)


def _no_trim() -> None:
    pass


def _constructor_value(module: nn.Module, name: str) -> torch.Tensor:
    if name == "_resnet_mean":
        return torch.tensor(IMAGENET_MEAN).view(1, 1, 3, 1, 1)
    if name == "_resnet_std":
        return torch.tensor(IMAGENET_STD).view(1, 1, 3, 1, 1)
    if name == "num_batches_tracked":
        return torch.zeros((), dtype=torch.long)
    if name == "running_mean":
        return torch.zeros(module.num_features)
    if name == "running_var":
        return torch.ones(module.num_features)
    if name == "relative_position_index_SA":
        return relative_index_self(module.window)
    if name == "relative_position_index_OCA":
        return relative_index_overlap(module.window, module.atten_block.ext)
    raise RuntimeError(f"no constructor value known for buffer {name!r} of {type(module).__name__}")


def set_tensor(module: nn.Module, key: str, value: torch.Tensor) -> None:
    """Replaces the parameter or buffer ``key`` of ``module`` by ``value`` (works on meta modules)."""
    owner_name, _, name = key.rpartition(".")
    owner = module.get_submodule(owner_name) if owner_name else module
    if name in owner._parameters:
        old = owner._parameters[name]
        owner._parameters[name] = nn.Parameter(value, requires_grad=old.requires_grad)
    elif name in owner._buffers:
        owner._buffers[name] = value
    else:
        raise KeyError(key)


def build_iggt(config: IGGTConfig | None = None, device: str | torch.device = "cpu") -> IGGT:
    """Builds an IGGT network (randomly initialised, eval mode).

    ``device="meta"`` builds it without allocating weights (for inspecting ``state_dict`` shapes or
    loading with ``load_state_dict(..., assign=True)``).
    """
    cfg = config or IGGTConfig.full()
    with torch.device(device):
        net = IGGT(cfg)
    return net.eval()
