"""Open-vocabulary semantics: CLIP features pooled over instance masks name the objects.

backends (bundled tiny CLIP / open_clip models, offline) -> embed (OpenMask3D-style crops) ->
scene_embeddings (cache in the Scene) -> relevancy (LERF queries) / labeling ("Label all").
"""

from .backends import BUNDLED, BackendUnavailable, ClipBackend, load_backend, load_backend_or_bundled
from .embed import EmbedConfig, iter_embed_instances
from .labeling import LabelSuggestion, accept_labels, label_instances, store_suggestions
from .relevancy import CANONICAL_NEGATIVES, QueryConfig, QueryError, QueryResult, parse_query, run_query
from .scene_embeddings import cached_embeddings, ensure_embeddings
from .vocab import SCANNET20, load_vocabulary

__all__ = [
    "BUNDLED",
    "CANONICAL_NEGATIVES",
    "SCANNET20",
    "BackendUnavailable",
    "ClipBackend",
    "EmbedConfig",
    "LabelSuggestion",
    "QueryConfig",
    "QueryError",
    "QueryResult",
    "accept_labels",
    "cached_embeddings",
    "ensure_embeddings",
    "iter_embed_instances",
    "label_instances",
    "load_backend",
    "load_backend_or_bundled",
    "load_vocabulary",
    "parse_query",
    "run_query",
    "store_suggestions",
]
