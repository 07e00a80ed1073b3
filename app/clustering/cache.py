"""What re-clustering the same inputs reuses between runs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields, is_dataclass
from typing import Any

import numpy as np


class ClusterCache:
    """What re-clustering the same points and features can reuse between runs.

    Everything but HDBSCAN's cluster selection depends only on the inputs and on (sample_size, seed,
    knn_k, min_samples, spatial_weight), not on min_cluster_size or epsilon: the normalised features,
    the pixel sample, its kNN-smoothed features, the single-linkage tree, and which sample each pixel
    takes its label from. A cache is bound to one set of input arrays (by identity: pass the same,
    never modified, arrays, e.g. a Scene's read-only ones); other arrays clear it.

    Clusterings that share a cache run one at a time (a second one waits for the first, then finds its
    work done), so a background warm-up and a re-clustering never compute the same thing twice at once.
    """

    MAX_ENTRIES = 24  # oldest entries beyond this are dropped (each key is one parameter combination)

    def __init__(self) -> None:
        import threading

        self._lock = threading.Lock()
        self._running = threading.Lock()  # one clustering at a time per cache (see iter_cluster_views)
        self._inputs: tuple[Any, ...] = ()
        self._entries: dict[tuple, Any] = {}
        self.hits = 0
        self.misses = 0

    def bind(self, *arrays: Any) -> None:
        with self._lock:
            same = len(arrays) == len(self._inputs) and all(
                a is b for a, b in zip(arrays, self._inputs, strict=True)
            )
            if not same:
                self._entries.clear()
                self._inputs = arrays

    def peek(self, key: tuple) -> Any:
        with self._lock:
            value = self._entries.get(key)
            if value is not None:
                self.hits += 1
            return value

    def put(self, key: tuple, value: Any) -> None:
        with self._lock:
            self.misses += 1
            self._entries[key] = value
            while len(self._entries) > self.MAX_ENTRIES:
                self._entries.pop(next(iter(self._entries)))

    def get(self, key: tuple, make: Callable[[], Any]) -> Any:
        value = self.peek(key)
        if value is None:
            value = make()
            self.put(key, value)
        return value

    @property
    def busy(self) -> bool:
        """A clustering with this cache is running."""
        return self._running.locked()

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._inputs = ()

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def nbytes(self) -> int:
        def size(v: Any) -> int:
            if isinstance(v, np.ndarray):
                return int(v.nbytes)
            if isinstance(v, tuple):
                return sum(size(x) for x in v)
            if is_dataclass(v):
                return sum(size(getattr(v, f.name)) for f in fields(v))
            return 0

        with self._lock:
            return sum(size(v) for v in self._entries.values())
