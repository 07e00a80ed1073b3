"""Instance clustering of per-pixel features, consistent across views.

The official demo L2-normalises the 8-d features, averages each pixel's feature over its k=20 nearest
3D neighbours (all pixels of all views, itself excluded), runs HDBSCAN over every pixel of every view
(min_cluster_size 500, min_samples 100, cluster_selection_epsilon 0.06 — its "large" preset) and gives
noise pixels the label of their nearest non-noise pixel in feature space. That takes minutes.

`cluster_views` gets (nearly) the same partition in about a second:
  1. a stratified pixel sample (every g-th pixel of every view on a grid with a random offset, only
     pixels with valid points), about ``sample_size`` points; a uniform pixel sample keeps the feature
     density the official HDBSCAN sees, so its size parameters scale exactly with the sample fraction;
  2. the same 3D kNN smoothing for the sampled points, with neighbours searched among all valid points;
  3. HDBSCAN on the sample with min_cluster_size and min_samples scaled by
     ``sample / (views * 336 * 504)`` (the official point count for these views); epsilon is a
     feature-space distance and is kept; noise -> nearest clustered sample in feature space;
  4. every pixel takes the label of the best of its surrounding grid samples (same view) by
     distance in feature space (pixel features box-smoothed in the image) plus 3D distance; pixels
     whose neighbourhood has no sample fall back to the nearest sample in feature space.
``ClusterConfig(sample_size=0)`` runs the official procedure over all pixels (slow; for benchmarks).

Not in the demo: ``ClusterConfig.position_weight`` (the "spatial" preset) appends each sample's 3D
position, in units of the scene's own size, to its smoothed features for steps 3 and 4. Features that
do not tell look-alike objects apart (three identical chairs) then still split them by where they are.
``ClusterConfig.merge_distance`` (opt-in, no preset uses it) joins clusters that touch and look alike
(`merge_touching`): the fragments such features split one object into.
Measured with the bundled tiny model on 8 held-out synthetic rooms (seeds 900000-900007, 8 views
224x224): T-mIoU 0.22 -> 0.39, T-SR 0.17 -> 0.50 against the "large" preset. The merge step (0.3) gave
0.40 / 0.56 there with a fifth fewer instances, but on the 50 held-out rooms it left the scores as they
were (0.348 / 0.353 against 0.356 / 0.357; 18% fewer instances) and on the bundled 10-view sample it
lowered the ARI against the ground truth (0.79 -> 0.74: some merges join different objects), so it stays
off by default.
The "spatial" preset also uses the photo colour (``colour_weight``: each pixel's box-averaged RGB in [0, 1]
appended beside features and position; the colour+position baseline is strong on flat-coloured rooms)
and folds clusters under ``absorb_size`` pixels into the neighbour they share most 3D links with
(`absorb_fragments`), with min cluster size 2500. Chosen on validation rooms 800000-800011 (T-mIoU
0.360 -> 0.375, T-SR 0.317 -> 0.421 against position alone; position 1.0 / colour 2.0 scored 0.428 there
but split the walls of the bundled sample room: ARI 0.80 -> 0.66). Weights name the preset
that suits them in their metadata (``iggt.cluster_preset``, read by `app.run_plan`).
Labels are 0-based cluster indices, -1 = no cluster (only when nothing could be clustered).

Modules: ``config`` (presets, `ClusterConfig`), ``views`` (the steps in order), ``density`` (kNN smoothing,
HDBSCAN, noise), ``fragments`` (merging and absorbing fragments), ``assign`` (every pixel's label),
``cache`` (`ClusterCache`), ``synthetic`` (test features, ARI).

Re-clustering with other sizes/epsilon (the viewer's presets and sliders) reuses everything that does not
depend on them through a `ClusterCache`: the sample, its smoothed features, HDBSCAN's single-linkage tree
(min_cluster_size and epsilon only change the cluster selection on it) and each pixel's source sample.
"""

from .cache import ClusterCache
from .config import (
    DEFAULT_PRESET,
    OFFICIAL_PIXELS_PER_VIEW,
    OFFICIAL_PRESETS,
    PRESETS,
    ClusterConfig,
    known_preset,
)
from .density import assign_noise, cpu_workers, hdbscan_labels, knn_smooth, normalise
from .fragments import absorb_fragments, merge_touching
from .synthetic import adjusted_rand_index, synthetic_features
from .views import ClusterResult, cluster_views, iter_cluster_views

__all__ = [
    "DEFAULT_PRESET",
    "OFFICIAL_PIXELS_PER_VIEW",
    "OFFICIAL_PRESETS",
    "PRESETS",
    "ClusterCache",
    "ClusterConfig",
    "ClusterResult",
    "absorb_fragments",
    "adjusted_rand_index",
    "assign_noise",
    "cluster_views",
    "cpu_workers",
    "hdbscan_labels",
    "iter_cluster_views",
    "knn_smooth",
    "known_preset",
    "merge_touching",
    "normalise",
    "synthetic_features",
]
