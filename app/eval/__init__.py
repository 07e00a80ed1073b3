"""Metrics of the model against synthetic ground truth (depth, cameras, multi-view instances)."""

from .cameras import auc, pair_errors
from .depth import depth_metrics
from .instances import InstanceScores, instance_scores
from .runner import EvalConfig, evaluate, format_table

__all__ = [
    "EvalConfig",
    "InstanceScores",
    "auc",
    "depth_metrics",
    "evaluate",
    "format_table",
    "instance_scores",
    "pair_errors",
]
