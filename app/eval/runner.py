"""`iggt eval`: the model and the baselines on held-out synthetic rooms.

Rooms are rendered on the fly from seeds ``seed .. seed + scenes - 1`` (training uses seeds from
``training.synthetic.config.TRAIN_SEED_OFFSET`` on, its validation rooms ``VAL_SEED_OFFSET..``, so small seeds
are held out). Per scene the model predicts cameras, depth, points and features; instances come from
the app's own clustering (``app.clustering.cluster_views`` with the preset the weights name, as the
app runs them; ``EvalConfig.cluster_preset`` to choose another) of the features over the
depth-unprojected points. Metric definitions: ``depth.py``, ``cameras.py``, ``instances.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .baselines import colour_clustering
from .cameras import auc, pair_errors
from .depth import depth_metrics
from .instances import InstanceScores, instance_scores


@dataclass(frozen=True)
class EvalConfig:
    scenes: int = 50
    seed: int = 0
    views: int = 8
    height: int = 224
    width: int = 224
    baselines: bool = True
    device: str = "auto"
    cluster_preset: str | None = None  # None: the preset the weights name (else the app's default)


@dataclass
class _Totals:
    depth: list[dict[str, float]]
    rot: list[np.ndarray]
    trans: list[np.ndarray]
    inst: InstanceScores
    base_depth: list[dict[str, float]]
    base_inst: InstanceScores


def _mean(rows: list[dict[str, float]], key: str) -> float:
    vals = [r[key] for r in rows if np.isfinite(r[key])]
    return float(np.mean(vals)) if vals else float("nan")


def cluster_preset_for(net, cfg: EvalConfig) -> str:
    """The clustering preset an evaluation uses: the chosen one, else the one the weights name."""
    from app.clustering import PRESETS, known_preset

    if cfg.cluster_preset is not None:
        if cfg.cluster_preset not in PRESETS:
            raise ValueError(f"unknown clustering preset {cfg.cluster_preset!r}")
        return cfg.cluster_preset
    from app.run_plan import defaults_from_metadata

    info = getattr(net, "weights_info", None)
    if info is None:
        return known_preset(None)
    return defaults_from_metadata(info.metadata, info.origin).cluster_preset


def evaluate_scene(net, scene, device: str, baselines: bool, cluster=None) -> dict[str, Any]:
    """All metrics' raw ingredients for one rendered scene (``cluster``: a ClusterConfig, default "large")."""
    import torch

    from app.clustering import ClusterConfig, cluster_views
    from model.predict import PredictOptions, predict

    cluster = cluster or ClusterConfig()
    images = torch.from_numpy(scene.images).permute(0, 3, 1, 2).float() / 255.0
    pred = predict(net, images, PredictOptions(device=device))
    labels = cluster_views(pred.points_from_depth, pred.features, None, cluster, colours=scene.images).labels
    rot, trans = pair_errors(pred.extrinsic, scene.extrinsic)
    out = {
        "depth": depth_metrics(pred.depth, scene.depth),
        "rot": rot,
        "trans": trans,
        "inst": instance_scores(labels, scene.instance_ids),
    }
    if baselines:
        out["base_depth"] = depth_metrics(np.ones_like(scene.depth), scene.depth)
        out["base_inst"] = instance_scores(colour_clustering(scene.images), scene.instance_ids)
    return out


def iter_evaluate(net, cfg: EvalConfig) -> Iterator[tuple[str, float, dict[str, Any] | None]]:
    """Yields (message, fraction, None) per scene and finally ("done", 1.0, results)."""
    from app.clustering import ClusterConfig
    from training.synthetic import render_room

    preset = cluster_preset_for(net, cfg)
    cluster = ClusterConfig.preset(preset)
    t = _Totals([], [], [], InstanceScores(), [], InstanceScores())
    for i in range(cfg.scenes):
        scene = render_room(cfg.seed + i, cfg.views, cfg.height, cfg.width)
        r = evaluate_scene(net, scene, cfg.device, cfg.baselines, cluster)
        t.depth.append(r["depth"])
        t.rot.append(r["rot"])
        t.trans.append(r["trans"])
        t.inst.add(r["inst"])
        if cfg.baselines:
            t.base_depth.append(r["base_depth"])
            t.base_inst.add(r["base_inst"])
        yield (
            f"scene {i + 1}/{cfg.scenes} (seed {cfg.seed + i}): AbsRel {r['depth']['abs_rel']:.3f} "
            f"T-mIoU {r['inst'].t_miou:.3f}",
            (i + 1) / cfg.scenes,
            None,
        )
    rot = np.concatenate(t.rot) if t.rot else np.zeros(0)
    trans = np.concatenate(t.trans) if t.trans else np.zeros(0)
    results: dict[str, Any] = {
        "model": {
            "abs_rel": _mean(t.depth, "abs_rel"),
            "delta1": _mean(t.depth, "delta1"),
            "auc30": auc(rot, trans, 30),
            "t_miou": t.inst.t_miou,
            "t_sr": t.inst.t_sr,
            "rot_err_median_deg": float(np.median(rot)) if rot.size else float("nan"),
            "trans_err_median_deg": float(np.median(trans)) if trans.size else float("nan"),
        },
        "baselines": {},
        "scenes": cfg.scenes,
        "views": cfg.views,
        "size": [cfg.height, cfg.width],
        "seed": cfg.seed,
        "cluster_preset": preset,
        "gt_instances": len(t.inst.ious),
        "instance_view_pairs": t.inst.pairs,
    }
    if cfg.baselines:
        results["baselines"] = {
            "median_depth": {
                "abs_rel": _mean(t.base_depth, "abs_rel"),
                "delta1": _mean(t.base_depth, "delta1"),
            },
            "colour_clustering": {"t_miou": t.base_inst.t_miou, "t_sr": t.base_inst.t_sr},
        }
    yield "done", 1.0, results


def evaluate(net, cfg: EvalConfig, progress: Callable[[str, float], None] | None = None) -> dict[str, Any]:
    results: dict[str, Any] = {}
    for message, fraction, res in iter_evaluate(net, cfg):
        if progress is not None:
            progress(message, fraction)
        if res is not None:
            results = res
    return results


def format_table(results: dict[str, Any]) -> str:
    """Plain-text table: metric, model, baseline."""
    m = results["model"]
    b = results.get("baselines", {})
    md, cc = b.get("median_depth", {}), b.get("colour_clustering", {})

    def f(x):
        return "-" if x is None or not np.isfinite(x) else f"{x:.3f}"

    rows = [
        ("AbsRel (lower is better)", m["abs_rel"], md.get("abs_rel"), "median depth"),
        ("delta<1.25", m["delta1"], md.get("delta1"), "median depth"),
        ("camera AUC@30", m["auc30"], None, ""),
        ("T-mIoU", m["t_miou"], cc.get("t_miou"), "colour clustering"),
        ("T-SR", m["t_sr"], cc.get("t_sr"), "colour clustering"),
    ]
    h, w = results["size"]
    lines = [
        f"{results['scenes']} scenes (seeds {results['seed']}..{results['seed'] + results['scenes'] - 1}), "
        f"{results['views']} views, {h}x{w}; {results['gt_instances']} GT instances; "
        f"clustering preset {results.get('cluster_preset', 'large')}",
        f"{'metric':<26}{'model':>8}{'baseline':>10}  baseline kind",
    ]
    lines += [f"{name:<26}{f(a):>8}{f(bv):>10}  {kind}" for name, a, bv, kind in rows]
    lines.append(
        f"median rotation / translation error: {m['rot_err_median_deg']:.2f} / "
        f"{m['trans_err_median_deg']:.2f} deg"
    )
    return "\n".join(lines)


def load_weights(path: str | Path, device: str = "auto"):
    from model.checkpoint import load_iggt

    return load_iggt(path, device=device)
