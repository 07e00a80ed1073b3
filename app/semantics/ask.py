"""Ask the scene: a yes/no question, or "name this object", for each candidate instance, put to a VLM with
the instance's best views highlighted (``vlm_views``) through an OpenAI-compatible server (``vlm_client``).

Candidates are the instances CLIP ranks highest for the question (all of them when there are few). Requests
run ``max_concurrent`` at a time; each answer is cached under (scene, instance, question, model), so asking
again costs nothing. The work is a progress generator (``app.progress``): closing it (Cancel) sends no
further request and stops waiting for the ones in flight.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Generator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field

import numpy as np

from app.progress import Progress
from app.scene import Scene

from .vlm_client import VlmClient, VlmError, parse_json_answer
from .vlm_views import ViewConfig, choose_views, image_parts, instance_views

log = logging.getLogger(__name__)
STAGE = "ask"
DEFAULT_TOP = 8
SYSTEM = (
    "You look at pictures of one object in a room, taken from different viewpoints. In every picture the "
    "object is outlined in bright green and everything else is dimmed. Judge only the outlined object."
)


@dataclass(frozen=True)
class Answer:
    instance: int
    answer: str | None  # "yes" | "no" | None (no answer) for questions; the name for naming
    reason: str
    views: list[int] = field(default_factory=list)
    cached: bool = False

    def to_json(self) -> dict:
        return {"instance": self.instance, "answer": self.answer, "reason": self.reason, "views": self.views}


@dataclass(frozen=True)
class AskResult:
    question: str
    model: str
    answers: list[Answer]  # in candidate order (best CLIP rank first)
    requests: int  # HTTP requests made for this question (cache hits excluded)
    error: str | None = None  # set when every request failed (the server is down, slow, refusing ...)

    @property
    def yes(self) -> list[int]:
        return [a.instance for a in self.answers if a.answer == "yes"]

    def to_json(self) -> dict:
        return {"question": self.question, "answers": [a.to_json() for a in self.answers]}


class AnswerCache:
    """(scene, instance, question, model) -> Answer; thread-safe LRU kept for the session."""

    def __init__(self, size: int = 4096) -> None:
        self._items: OrderedDict[tuple, Answer] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def get(self, key: tuple) -> Answer | None:
        with self._lock:
            hit = self._items.get(key)
            if hit is not None:
                self._items.move_to_end(key)
            return hit

    def put(self, key: tuple, answer: Answer) -> None:
        with self._lock:
            self._items[key] = answer
            self._items.move_to_end(key)
            while len(self._items) > self._size:
                self._items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)


def scene_key(scene: Scene) -> str:
    """Changes when the pictures or the masks change (then cached answers no longer apply)."""
    h = hashlib.blake2b(digest_size=12)
    h.update(np.ascontiguousarray(scene.labels).view(np.uint8).data)
    h.update(np.ascontiguousarray(scene.images).data)
    return h.hexdigest()


def rank_candidates(scene: Scene, top: int, clip_rank: list[int] | None = None) -> list[int]:
    """The instances to ask about: CLIP's order for the question (``clip_rank``; only needed when the scene
    has more than ``top`` instances), cut to ``top``."""
    ids = sorted(int(i) for i in scene.instances)
    if clip_rank is not None:
        ranked = [int(i) for i in clip_rank if int(i) in scene.instances]
        ids = ranked + [i for i in ids if i not in set(ranked)]
    return ids[:top]


def clip_order(emb, question: str, backend) -> list[int]:
    """Instance ids by CLIP relevancy to the question (its first 200 characters), best first."""
    from .relevancy import run_query

    return [r.instance for r in run_query(emb, question[:200].replace(",", " "), backend).rows()]


def ask_prompt(question: str) -> str:
    return (
        f"Question about the outlined object: {question.strip()}\n"
        'Answer with JSON only: {"answer": "yes" or "no", "reason": "why, in at most 15 words"}'
    )


def name_prompt(vocabulary: list[str] | None) -> str:
    choice = f" Choose one of: {', '.join(vocabulary)}." if vocabulary else ""
    return (
        f"Name the outlined object in one or two words.{choice}\n"
        'Answer with JSON only: {"name": "...", "reason": "why, in at most 15 words"}'
    )


def _yes_no(obj: dict) -> str | None:
    value = obj.get("answer")
    if isinstance(value, bool):
        return "yes" if value else "no"
    text = str(value or "").strip().lower().rstrip(".")
    return text if text in ("yes", "no") else None


def _name(obj: dict, vocabulary: list[str] | None) -> str | None:
    text = " ".join(str(obj.get("name") or "").split()).strip(" .").lower()
    if not text or len(text) > 40:
        return None
    if vocabulary:
        by_lower = {v.lower(): v for v in vocabulary}
        return by_lower.get(text)
    return text


def _one(
    client: VlmClient, images: np.ndarray, labels: np.ndarray, iid: int, views: list[int], prompt: str,
    kind: str, vocabulary: list[str] | None, view_cfg: ViewConfig,
) -> tuple[Answer, bool]:  # fmt: skip
    """(answer, whether a request failed at the HTTP level)."""
    pictures = instance_views(images, labels, iid, views, view_cfg)
    content = [{"type": "text", "text": prompt}, *image_parts(pictures)]
    try:
        reply = client.chat(content, system=SYSTEM)
    except VlmError as exc:
        return Answer(iid, None, f"no answer: {exc}", views), True
    obj, why = parse_json_answer(reply)
    if obj is None:
        return Answer(iid, None, f"no answer: {why}", views), False
    value = _yes_no(obj) if kind == "ask" else _name(obj, vocabulary)
    reason = " ".join(str(obj.get("reason") or "").split())[:200]
    if value is None:
        bad = obj.get("answer") if kind == "ask" else obj.get("name")
        return Answer(iid, None, f"no answer: the model said {str(bad)[:40]!r}", views), False
    return Answer(iid, value, reason, views), False


def iter_ask(
    scene: Scene,
    question: str,
    client: VlmClient,
    candidates: list[int],
    cache: AnswerCache | None = None,
    kind: str = "ask",
    vocabulary: list[str] | None = None,
    view_cfg: ViewConfig | None = None,
) -> Generator[Progress, None, AskResult]:
    """Ask about each candidate (``kind`` "ask": the yes/no ``question``; "name": name the object);
    yields progress, returns the answers. Reads the scene only (a worker thread may run it)."""
    question = " ".join(str(question).split())
    if kind == "ask" and not question:
        raise VlmError("the question is empty: ask something like 'which object can I sit on?'")
    view_cfg = view_cfg or ViewConfig()
    cache = cache if cache is not None else AnswerCache()
    prompt = ask_prompt(question) if kind == "ask" else name_prompt(vocabulary)
    key_text = prompt if kind == "name" else question
    skey = scene_key(scene)
    model = client.config.model
    images, labels = scene.images, scene.labels
    chosen = choose_views(labels, candidates, view_cfg)
    todo = [i for i in candidates if chosen.get(i)]
    results: dict[int, Answer] = {}
    for iid in todo:
        hit = cache.get((skey, iid, key_text, model))
        if hit is not None:
            results[iid] = Answer(hit.instance, hit.answer, hit.reason, hit.views, cached=True)
    pending = [i for i in todo if i not in results]
    log.info("asking %s at %s about %d objects (%d cached): %s", model, client.config.chat_url, len(todo),
             len(todo) - len(pending), question if kind == "ask" else "name them")  # fmt: skip
    yield Progress(STAGE, f"asking {model} about {len(todo)} objects ({len(pending)} requests)", 0.0, 0.0)
    before = client.requests_made
    failures = 0
    pool = ThreadPoolExecutor(max_workers=client.config.max_concurrent, thread_name_prefix="vlm")
    try:
        futures: dict[Future, int] = {
            pool.submit(_one, client, images, labels, i, chosen[i], prompt, kind, vocabulary, view_cfg): i
            for i in pending
        }
        started = time.monotonic()
        while futures:
            done, _ = wait(list(futures), timeout=0.2, return_when=FIRST_COMPLETED)
            for fut in done:
                iid = futures.pop(fut)
                answer, failed = fut.result()
                failures += failed
                results[iid] = answer
                if not failed:
                    cache.put((skey, iid, key_text, model), answer)
            n = len(pending) - len(futures)
            frac = n / max(1, len(pending))
            yield Progress(STAGE, f"{n}/{len(pending)} answers from {model}", frac, frac,
                           elapsed_s=time.monotonic() - started)  # fmt: skip
    finally:
        pool.shutdown(wait=False, cancel_futures=True)  # Cancel: nothing further is sent
    answers = [results[i] for i in todo]
    error = None
    if pending and failures == len(pending):
        error = answers[-1].reason.removeprefix("no answer: ") if answers else "no request succeeded"
    made = client.requests_made - before
    log.info("%s: %d answers, %d requests, %d failed", model, len(answers), made, failures)
    return AskResult(question if kind == "ask" else "name", model, answers, made, error)


def ask(scene: Scene, question: str, client: VlmClient, candidates: list[int], **kwargs) -> AskResult:
    from app.progress import run_generator

    on_progress: Callable[[Progress], None] | None = kwargs.pop("on_progress", None)
    return run_generator(iter_ask(scene, question, client, candidates, **kwargs), on_progress)


def name_suggestions(result: AskResult):
    """The names as Label-all suggestions (same accept/undo flow as CLIP's); unanswered ones are left out."""
    from .labeling import LabelSuggestion

    return [LabelSuggestion(a.instance, a.answer, 1.0, None, False) for a in result.answers if a.answer]
