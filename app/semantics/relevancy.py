"""Text queries against instance embeddings: LERF relevancy with canonical negatives, prompt ensembles,
several comma-separated phrases at once."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from app.errors import UserError
from app.scene import InstanceEmbeddings
from model.clip.prompts import QUERY_TEMPLATES, fix_article

from .backends import ClipBackend

CANONICAL_NEGATIVES: tuple[str, ...] = ("object", "things", "stuff", "texture")


class QueryError(UserError):
    """A query that cannot be run (empty, nothing but separators)."""


@dataclass(frozen=True)
class QueryConfig:
    threshold: float = 0.5  # relevancy above which an instance is highlighted
    temperature: float = 10.0  # LERF's scale on cosine similarities before the pairwise softmax
    templates: tuple[str, ...] = QUERY_TEMPLATES
    negatives: tuple[str, ...] = CANONICAL_NEGATIVES
    max_phrases: int = 8
    max_phrase_chars: int = 200


@dataclass(frozen=True)
class PhraseResult:
    phrase: str
    ids: np.ndarray  # (K,) int32 instance ids, best first
    scores: np.ndarray  # (K,) float32 relevancy in [0, 1], same order
    threshold: float

    @property
    def matched(self) -> np.ndarray:
        return self.ids[self.scores > self.threshold]


@dataclass(frozen=True)
class QueryResult:
    phrases: list[PhraseResult]
    warnings: list[str] = field(default_factory=list)

    def best(self) -> list[tuple[int, float, int]]:
        """(instance id, best score over phrases, index of that phrase), best first."""
        if not self.phrases:
            return []
        ids = self.phrases[0].ids
        table = {}
        for p_index, p in enumerate(self.phrases):
            for i, s in zip(p.ids.tolist(), p.scores.tolist(), strict=True):
                if i not in table or s > table[i][0]:
                    table[i] = (s, p_index)
        rows = [(i, s, p) for i, (s, p) in table.items()]
        rows.sort(key=lambda r: (-r[1], r[0]))
        return rows if len(ids) else []


def parse_query(text: str, cfg: QueryConfig | None = None) -> tuple[list[str], list[str]]:
    """Split on commas, normalise whitespace, cap count and length. Returns (phrases, warnings)."""
    cfg = cfg or QueryConfig()
    if text is None or not str(text).strip():
        raise QueryError("the query is empty: type a phrase such as 'red chair'")
    warnings: list[str] = []
    phrases = []
    for raw in str(text).split(","):
        phrase = " ".join(raw.split())
        if not phrase:
            continue
        if len(phrase) > cfg.max_phrase_chars:
            warnings.append(f"a phrase of {len(phrase)} characters was cut to {cfg.max_phrase_chars}")
            phrase = phrase[: cfg.max_phrase_chars].rstrip()
        if phrase not in phrases:
            phrases.append(phrase)
    if not phrases:
        raise QueryError("the query has no words, only separators")
    if len(phrases) > cfg.max_phrases:
        warnings.append(f"only the first {cfg.max_phrases} of {len(phrases)} phrases are used")
        phrases = phrases[: cfg.max_phrases]
    return phrases, warnings


def phrase_embedding(
    backend: ClipBackend, phrase: str, templates: tuple[str, ...] = QUERY_TEMPLATES
) -> np.ndarray:
    """Mean of the normalised embeddings of the phrase in every template, renormalised."""
    prompts = [fix_article(t.format(phrase)) for t in templates] if templates else [phrase]
    vec = backend.encode_texts(prompts).mean(axis=0)
    return (vec / max(float(np.linalg.norm(vec)), 1e-12)).astype(np.float32)


def relevancy(
    vectors: np.ndarray, phrase: np.ndarray, negatives: np.ndarray, temperature: float
) -> np.ndarray:
    """LERF relevancy: min over negatives of softmax([phrase, negative]) for the phrase, per instance.

    softmax over two logits is a sigmoid of their difference: sigma(t * (cos_q - cos_neg)).
    """
    sim_q = vectors @ phrase  # (K,)
    if len(negatives) == 0:
        return (1.0 / (1.0 + np.exp(-temperature * sim_q))).astype(np.float32)
    sim_n = vectors @ negatives.T  # (K, M)
    pair = 1.0 / (1.0 + np.exp(-temperature * (sim_q[:, None] - sim_n)))
    return pair.min(axis=1).astype(np.float32)


def run_query(
    emb: InstanceEmbeddings, text: str, backend: ClipBackend, cfg: QueryConfig | None = None
) -> QueryResult:
    """Rank the instances for every phrase of ``text``. Text features are cached by the backend, so
    repeated queries (typing) cost a matrix product."""
    cfg = cfg or QueryConfig()
    phrases, warnings = parse_query(text, cfg)
    negatives = (
        np.stack([phrase_embedding(backend, n, cfg.templates) for n in cfg.negatives])
        if cfg.negatives
        else np.zeros((0, emb.vectors.shape[1]), np.float32)
    )
    results = []
    for phrase in phrases:
        scores = relevancy(
            emb.vectors, phrase_embedding(backend, phrase, cfg.templates), negatives, cfg.temperature
        )
        order = np.lexsort((emb.instance_ids, -scores))
        results.append(PhraseResult(phrase, emb.instance_ids[order], scores[order], cfg.threshold))
    return QueryResult(results, warnings)
