""" "Label all": the best class of a vocabulary for every instance, with a score; suggestions are kept in the
instance table (``Instance.extra["semantic_label"]``) and accepted in bulk by an undoable command."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from app.edits import Edit, EditError, FieldChange
from app.scene import InstanceEmbeddings, Scene

from .backends import ClipBackend
from .confidence import confident_label
from .relevancy import phrase_embedding, run_query
from .vocab import spoken

EXTRA_KEY = "semantic_label"


@dataclass(frozen=True)
class LabelSuggestion:
    instance_id: int
    label: str
    score: float  # softmax probability of the label among the vocabulary
    runner_up: str | None = None
    weak: bool = False  # not confident: low probability, or the object does not stand out for the label


def class_text_embeddings(backend: ClipBackend, vocabulary: list[str]) -> np.ndarray:
    return np.stack([phrase_embedding(backend, spoken(name)) for name in vocabulary])


def label_instances(
    emb: InstanceEmbeddings, vocabulary: list[str], backend: ClipBackend, logit_scale: float | None = None
) -> list[LabelSuggestion]:
    """The most similar class for every embedded instance, scored by a softmax over the vocabulary at the
    model's own temperature (``backend.logit_scale`` unless given); marked weak unless confident relative
    to the scene (``app.semantics.confidence``)."""
    logit_scale = float(getattr(backend, "logit_scale", 100.0) if logit_scale is None else logit_scale)
    if not vocabulary:
        raise ValueError("empty vocabulary")
    text = class_text_embeddings(backend, vocabulary)
    logits = logit_scale * (emb.vectors @ text.T)
    logits -= logits.max(axis=1, keepdims=True)
    prob = np.exp(logits)
    prob /= prob.sum(axis=1, keepdims=True)
    order = np.argsort(-prob, axis=1)
    matches = _class_matches(emb, {vocabulary[int(order[r, 0])] for r in range(len(order))}, backend)
    out = []
    for row, iid in enumerate(emb.instance_ids.tolist()):
        best = int(order[row, 0])
        second = vocabulary[int(order[row, 1])] if len(vocabulary) > 1 else None
        p = float(prob[row, best])
        weak = not confident_label(p, int(iid) in matches[vocabulary[best]])
        out.append(LabelSuggestion(int(iid), vocabulary[best], p, second, weak))
    return out


def _class_matches(emb: InstanceEmbeddings, classes: set[str], backend: ClipBackend) -> dict[str, set[int]]:
    """The instances each class singles out in this scene (a query for the class, judged relative to it)."""
    out = {}
    for name in classes:
        phrase = run_query(emb, spoken(name), backend).phrases[0]
        out[name] = {int(i) for i in phrase.matched}
    return out


def store_suggestions(
    scene: Scene, suggestions: Iterable[LabelSuggestion], vocabulary_name: str, model_id: str
) -> int:
    """Write the suggestions into the instance table (saved with the scene). Returns how many."""
    n = 0
    for s in suggestions:
        inst = scene.instances.get(s.instance_id)
        if inst is None:
            continue
        extra = dict(inst.extra)
        extra[EXTRA_KEY] = {
            "label": s.label,
            "score": round(s.score, 4),
            "weak": bool(s.weak),
            "vocabulary": vocabulary_name,
            "model": model_id,
        }
        scene.update_instance(s.instance_id, extra=extra)
        n += 1
    return n


def suggestion_of(scene: Scene, instance_id: int) -> dict | None:
    inst = scene.instances.get(instance_id)
    return None if inst is None else inst.extra.get(EXTRA_KEY)


def _default_name(instance_id: int, name: str) -> bool:
    return name == f"instance {instance_id}"


def accept_labels(
    scene: Scene,
    instance_ids: Iterable[int] | None = None,
    min_score: float = 0.0,
    include_weak: bool = False,
) -> Edit:
    """An undoable edit (``app.edits.Edit``) setting each instance's category to its stored suggestion, and
    its name too while it still has the default name. Locked instances, low scores and (unless
    ``include_weak``) weak labels are left alone."""
    changes: list[FieldChange] = []
    ids = list(scene.instances) if instance_ids is None else [int(i) for i in instance_ids]
    for iid in ids:
        inst = scene.instances.get(iid)
        suggestion = suggestion_of(scene, iid)
        if inst is None or inst.locked or not suggestion or float(suggestion.get("score", 0.0)) < min_score:
            continue
        if suggestion.get("weak") and not include_weak:
            continue
        label = str(suggestion["label"])
        if inst.category != label:
            changes.append(FieldChange(iid, "category", inst.category, label))
        if _default_name(iid, inst.name) and inst.name != f"{label} {iid}":
            changes.append(FieldChange(iid, "name", inst.name, f"{label} {iid}"))
    if not changes:
        raise EditError(
            "no label to accept (none confident or above the score, or all already accepted)"
            if not include_weak
            else "no label to accept (none above the score, or all already accepted)"
        )
    n = len({c.instance_id for c in changes})
    details = {"ids": sorted({c.instance_id for c in changes}), "min_score": min_score,
               "include_weak": include_weak}  # fmt: skip
    return Edit(
        text=f"Accept labels of {n} instance{'s' if n != 1 else ''}",
        op="accept_labels",
        details=details,
        fields=tuple(changes),
    )
