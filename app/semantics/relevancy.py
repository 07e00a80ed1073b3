"""Text queries against instance embeddings: LERF relevancy with canonical negatives, prompt ensembles,
several comma-separated phrases at once."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from app.errors import UserError
from app.scene import InstanceEmbeddings
from model.clip.prompts import QUERY_TEMPLATES, fix_article

from .backends import ClipBackend
from .confidence import MATCH, NONE, WEAK, MatchRule, judge_phrase

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
    rule: MatchRule = field(default_factory=MatchRule)  # what counts as a match relative to the scene


@dataclass(frozen=True)
class PhraseResult:
    phrase: str
    ids: np.ndarray  # (K,) int32 instance ids, best first
    scores: np.ndarray  # (K,) float32 relevancy in [0, 1], same order
    threshold: float
    relative: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))  # vs the scene, same order
    verdicts: np.ndarray = field(default_factory=lambda: np.zeros(0, object))  # MATCH / WEAK / NONE
    above: int = 0  # objects above the threshold
    crowded: bool = False  # above the threshold on too much of the scene to single anything out

    @property
    def matched(self) -> np.ndarray:
        return self.ids[self.verdicts == MATCH]

    @property
    def weak(self) -> np.ndarray:
        return self.ids[self.verdicts == WEAK]


@dataclass(frozen=True)
class Row:
    instance: int
    score: float
    phrase: int  # index of the phrase this row's score and verdict come from
    verdict: str  # MATCH / WEAK / NONE
    relative: float


_RANK = {MATCH: 0, WEAK: 1, NONE: 2}


@dataclass(frozen=True)
class QueryResult:
    phrases: list[PhraseResult]
    warnings: list[str] = field(default_factory=list)

    def rows(self) -> list[Row]:
        """One row per instance: its strongest verdict over the phrases (then best score); matches first,
        then weak guesses, then the rest, each by score."""
        table: dict[int, Row] = {}
        for p_index, p in enumerate(self.phrases):
            for k, iid in enumerate(p.ids.tolist()):
                verdict = str(p.verdicts[k]) if len(p.verdicts) else NONE
                row = Row(int(iid), float(p.scores[k]), p_index, verdict,
                          float(p.relative[k]) if len(p.relative) else 0.0)  # fmt: skip
                old = table.get(row.instance)
                if old is None or (_RANK[row.verdict], -row.score) < (_RANK[old.verdict], -old.score):
                    table[row.instance] = row
        return sorted(table.values(), key=lambda r: (_RANK[r.verdict], -r.score, r.instance))

    def best(self) -> list[tuple[int, float, int]]:
        """(instance id, score, index of the phrase), in the order of ``rows()``."""
        return [(r.instance, r.score, r.phrase) for r in self.rows()]

    def matched(self) -> list[int]:
        return [r.instance for r in self.rows() if r.verdict == MATCH]

    def summary(self, n_objects: int) -> str:
        """One line for a status bar: how many match, or that nothing matches with confidence and why."""
        names = ", ".join(f"“{p.phrase}”" for p in self.phrases)
        rows = self.rows()
        n_match = sum(r.verdict == MATCH for r in rows)
        n_weak = sum(r.verdict == WEAK for r in rows)
        weak_note = f"; {n_weak} weak guess{'es' if n_weak != 1 else ''} marked" if n_weak else ""
        if n_match:
            verb = "matches" if n_match == 1 else "match"
            return f"{n_match} of {n_objects} objects {verb} {names}{weak_note}"
        crowded = [p for p in self.phrases if p.crowded]
        if crowded:
            p = crowded[0]
            who = "it" if len(self.phrases) == 1 else f"“{p.phrase}”"
            why = f": {who} scores alike on {p.above} of {n_objects} objects"
        else:
            why = ""
        if n_weak:
            return f"No confident match for {names}{why}; the best guesses are marked weak"
        return f"No match for {names}{why}"


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
        ranked = scores[order]
        verdict = judge_phrase(ranked, cfg.threshold, cfg.rule)
        results.append(
            PhraseResult(
                phrase,
                emb.instance_ids[order],
                ranked,
                cfg.threshold,
                verdict.relative,
                verdict.verdicts,
                verdict.above,
                verdict.crowded,
            )
        )
    return QueryResult(results, warnings)
