"""Training losses of IGGT (geometry losses as in VGGT, plus the multi-view contrastive loss).

* camera: L1 on the absT_quaR_FoV pose encoding of every camera-head iteration, later iterations
  weighted more (``gamma ** (n - 1 - i)``); translation, rotation and field-of-view terms.
* depth and point map: aleatoric, confidence-weighted regression ``c * |err| - alpha * log c``
  plus a confidence-weighted gradient term ``c * |grad(pred - gt)|`` at several scales.
* multi-view contrastive (instance features, L2-normalised):
  ``L_mvc = lambda_pull * sum_{same} d(f_i, f_j) + lambda_push * sum_{different} max(0, M - d)``
  over pairs of sampled pixels from *different views* (all pairs when there is one view).
  ``d`` is the Euclidean distance. ``mvc_reduction="pairs"`` (default) divides both sums by the number
  of pairs, which keeps the formula's balance between the terms while making the scale independent
  of the sample count. ``"groups"`` (the first bundled model's) takes the mean of each term
  separately; that weights the pull term by (different pairs / same pairs), about 10x on our rooms,
  and the features collapse towards one point (measured on held-out rooms, instance stage: pixel
  accuracy of the nearest GT-instance centroid stayed below 0.3, against 0.78 after 120 steps with
  "pairs"). Floor/wall/ceiling pixels take part as their own groups (they are not
  instances, but their features must stay apart from the furniture's).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .targets import Batch


@dataclass(frozen=True)
class LossWeights:
    camera: float = 5.0
    depth: float = 1.0
    point: float = 1.0
    mvc: float = 1.0
    conf_alpha: float = 0.2
    camera_gamma: float = 0.6
    fov_weight: float = 0.5
    grad_scales: int = 3
    lambda_pull: float = 2.0
    lambda_push: float = 1.0
    margin: float = 1.0
    mvc_samples: int = 1024
    mvc_reduction: str = "pairs"  # "pairs" or "groups" (see the module docstring)


def camera_loss(
    pose_encs: list[torch.Tensor], gt: torch.Tensor, gamma: float = 0.6, fov_weight: float = 0.5
) -> torch.Tensor:
    """``pose_encs``: list of (B, S, 9) predictions (one per refinement iteration); ``gt`` (B, S, 9)."""
    n = len(pose_encs)
    total = gt.new_zeros(())
    for i, pred in enumerate(pose_encs):
        err = (pred.float() - gt).abs()
        term = err[..., :3].mean() + err[..., 3:7].mean() + fov_weight * err[..., 7:].mean()
        total = total + gamma ** (n - 1 - i) * term
    return total


def _gradient_term(diff: torch.Tensor, conf: torch.Tensor, valid: torch.Tensor, scales: int) -> torch.Tensor:
    """Confidence-weighted L1 of the spatial gradient of ``diff`` (N, C, H, W) at ``scales`` scales."""
    total = diff.new_zeros(())
    for s in range(scales):
        step = 2**s
        d, c, v = diff[..., ::step, ::step], conf[..., ::step, ::step], valid[..., ::step, ::step]
        for dim in (-1, -2):
            n = d.shape[dim]
            if n < 2:
                continue
            a, b = d.narrow(dim, 1, n - 1), d.narrow(dim, 0, n - 1)
            g = (a - b).abs().sum(1)  # (N, H', W')
            vv = v.narrow(dim, 1, n - 1) & v.narrow(dim, 0, n - 1)
            cc = 0.5 * (c.narrow(dim, 1, n - 1) + c.narrow(dim, 0, n - 1))
            if vv.any():
                total = total + (cc * g)[vv].mean()
    return total / scales


def regression_loss(
    pred: torch.Tensor,
    gt: torch.Tensor,
    conf: torch.Tensor,
    valid: torch.Tensor,
    alpha: float = 0.2,
    grad_scales: int = 3,
) -> torch.Tensor:
    """Aleatoric loss of a dense prediction.

    ``pred``/``gt`` (B, S, H, W, C); ``conf``/``valid`` (B, S, H, W)."""
    pred = pred.float()
    conf = conf.float()
    err = torch.linalg.vector_norm(pred - gt, dim=-1)
    if not valid.any():
        return pred.sum() * 0.0
    main = (conf * err)[valid].mean() - alpha * torch.log(conf)[valid].mean()
    b, s, h, w, c = pred.shape
    diff = (pred - gt).reshape(b * s, h, w, c).permute(0, 3, 1, 2)
    grad = _gradient_term(diff, conf.reshape(b * s, h, w), valid.reshape(b * s, h, w), grad_scales)
    return main + grad


def sample_pixels(labels: torch.Tensor, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Flat indices into one scene's (S, H, W) label map: half uniform, half balanced over labels
    (so small objects are sampled as often as large ones). Sampled on the CPU (``generator`` is a CPU
    generator), so the same pixels are drawn on every device."""
    flat = labels.reshape(-1).cpu()
    n_uniform = n // 2
    uniform = torch.randint(0, flat.numel(), (n_uniform,), generator=generator)
    sorted_labels, order = torch.sort(flat, stable=True)
    uniq, counts = torch.unique_consecutive(sorted_labels, return_counts=True)
    starts = torch.cumsum(counts, 0) - counts
    pick = torch.randint(0, len(uniq), (n - n_uniform,), generator=generator)
    offs = (torch.rand(n - n_uniform, generator=generator) * counts[pick]).long().clamp(max=counts[pick] - 1)
    balanced = order[starts[pick] + offs]
    return torch.cat([uniform, balanced])


def contrastive_loss(
    features: torch.Tensor,
    labels: torch.Tensor,
    n_samples: int = 1024,
    lambda_pull: float = 2.0,
    lambda_push: float = 1.0,
    margin: float = 1.0,
    generator: torch.Generator | None = None,
    reduction: str = "pairs",
) -> torch.Tensor:
    """Multi-view contrastive loss. ``features`` (B, S, C, H, W) raw; ``labels`` (B, S, H, W) int."""
    if reduction not in ("pairs", "groups"):
        raise ValueError(f"unknown contrastive reduction {reduction!r} (use 'pairs' or 'groups')")
    b, s, c, h, w = features.shape
    total = features.new_zeros((), dtype=torch.float32)
    for i in range(b):
        idx = sample_pixels(labels[i], n_samples, generator).to(features.device)
        f = features[i].float().permute(0, 2, 3, 1).reshape(-1, c)[idx]
        f = F.normalize(f, dim=-1)
        lab = labels[i].reshape(-1)[idx]
        view = idx // (h * w)
        d2 = (f[:, None, :] - f[None, :, :]).pow(2).sum(-1)
        dist = torch.sqrt(d2 + 1e-12)
        if s > 1:
            pair = view[:, None] != view[None, :]
        else:
            pair = ~torch.eye(len(idx), dtype=torch.bool, device=idx.device)
        same = (lab[:, None] == lab[None, :]) & pair
        diff = (lab[:, None] != lab[None, :]) & pair
        pull_sum = dist[same].sum()
        push_sum = F.relu(margin - dist[diff]).sum()
        if reduction == "pairs":
            n_pairs = (same | diff).sum().clamp(min=1)
            total = total + (lambda_pull * pull_sum + lambda_push * push_sum) / n_pairs
        else:
            pull = pull_sum / same.sum().clamp(min=1)
            push = push_sum / diff.sum().clamp(min=1)
            total = total + lambda_pull * pull + lambda_push * push
    return total / b


def _mvc(out: dict, batch: Batch, weights: LossWeights, generator: torch.Generator | None) -> torch.Tensor:
    w = weights
    return contrastive_loss(
        out["part_feat"],
        batch.labels,
        w.mvc_samples,
        w.lambda_pull,
        w.lambda_push,
        w.margin,
        generator,
        w.mvc_reduction,
    )


def iggt_loss(
    out: dict, batch: Batch, weights: LossWeights = LossWeights(), generator: torch.Generator | None = None
) -> tuple[torch.Tensor, dict[str, float]]:
    """Weighted sum of all losses and the detached parts (for logging)."""
    cam = camera_loss(out["pose_enc"], batch.pose_enc, weights.camera_gamma, weights.fov_weight)
    depth = regression_loss(
        out["depth"],
        batch.depth[..., None],
        out["depth_conf"],
        batch.valid,
        weights.conf_alpha,
        weights.grad_scales,
    )
    point = regression_loss(
        out["world_points"],
        batch.world_points,
        out["world_points_conf"],
        batch.valid,
        weights.conf_alpha,
        weights.grad_scales,
    )
    mvc = _mvc(out, batch, weights, generator)
    total = weights.camera * cam + weights.depth * depth + weights.point * point + weights.mvc * mvc
    parts = {
        "camera": cam.item(),
        "depth": depth.item(),
        "point": point.item(),
        "mvc": mvc.item(),
        "total": total.item(),
    }
    return total, parts


def instance_loss(
    out: dict, batch: Batch, weights: LossWeights = LossWeights(), generator: torch.Generator | None = None
) -> tuple[torch.Tensor, dict[str, float]]:
    """The contrastive loss alone (the ``instance`` training stage)."""
    mvc = _mvc(out, batch, weights, generator)
    total = weights.mvc * mvc
    return total, {"mvc": mvc.item(), "total": total.item()}
