"""A client for any OpenAI-compatible ``/v1/chat/completions`` server with image inputs (vLLM, Ollama,
LM Studio, llama.cpp, hosted APIs).

HTTP goes through ``requests`` (already installed with the app's dependencies, well kept, synchronous: fits
worker threads) with urllib3's ``Retry`` for bounded retries with exponential backoff on connection
errors, timeouts, 429 and 5xx (POST included: a chat completion has no side effects). Requests go only to
the configured endpoint. The API key is read from ``IGGT_VLM_API_KEY`` at request time and sent as a
Bearer token; it is never stored, logged or put in an error message.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
from dataclasses import dataclass, field
from typing import Any

from app.errors import UserError

log = logging.getLogger(__name__)

ENDPOINT_ENV = "IGGT_VLM_ENDPOINT"
MODEL_ENV = "IGGT_VLM_MODEL"
KEY_ENV = "IGGT_VLM_API_KEY"


class VlmError(UserError):
    """The VLM server could not be reached or did not answer usably (one clear line, never the key)."""


@dataclass(frozen=True)
class VlmConfig:
    endpoint: str  # base URL ("http://host:8000", ".../v1") or the full .../chat/completions URL
    model: str
    timeout_s: float = 60.0  # per request (read); connecting gets min(10, timeout)
    retries: int = 2  # further tries after the first, on connection errors, timeouts, 429 and 5xx
    backoff_s: float = 0.5  # first wait between tries; doubles each time
    max_concurrent: int = 4  # requests in flight at once (per client)
    max_tokens: int = 200
    extra: dict[str, Any] = field(default_factory=dict)  # more request fields (e.g. {"temperature": 0})

    def validate(self) -> None:
        if not re.match(r"^https?://[^\s/]+", self.endpoint.strip()):
            raise VlmError(f"the VLM endpoint must be an http(s) URL, not {self.endpoint!r}")
        if not self.model.strip():
            raise VlmError("name the VLM model (--model or IGGT_VLM_MODEL), e.g. Qwen/Qwen2.5-VL-7B-Instruct")
        if self.timeout_s <= 0 or self.retries < 0 or self.max_concurrent < 1:
            raise VlmError("VLM timeout must be positive, retries >= 0 and concurrency >= 1")

    @property
    def chat_url(self) -> str:
        url = self.endpoint.strip().rstrip("/")
        if url.endswith("/chat/completions"):
            return url
        return url + ("/chat/completions" if url.endswith("/v1") else "/v1/chat/completions")

    @property
    def models_url(self) -> str:
        return self.chat_url[: -len("/chat/completions")] + "/models"


def config_from_env(endpoint: str | None = None, model: str | None = None, **kwargs) -> VlmConfig | None:
    """The configuration the options or ``IGGT_VLM_ENDPOINT`` / ``IGGT_VLM_MODEL`` give; None if unset."""
    endpoint = endpoint or os.environ.get(ENDPOINT_ENV, "")
    model = model or os.environ.get(MODEL_ENV, "")
    if not endpoint:
        return None
    return VlmConfig(endpoint=endpoint, model=model, **kwargs)


@dataclass(frozen=True)
class Reply:
    text: str | None  # the assistant's message content
    refusal: str | None  # the server's refusal field, when it refused


def _key_headers() -> dict[str, str]:
    key = os.environ.get(KEY_ENV, "").strip()
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    return headers


def _scrub(text: str) -> str:
    """An error text without the API key (servers may echo the request headers)."""
    key = os.environ.get(KEY_ENV, "").strip()
    text = str(text)
    return text.replace(key, "***") if key else text


class VlmClient:
    """Thread-safe; ``max_concurrent`` requests at most in flight; ``close()`` ends the connections."""

    def __init__(self, config: VlmConfig) -> None:
        import requests
        from requests.adapters import HTTPAdapter
        from urllib3.util.retry import Retry

        config.validate()
        self.config = config
        self.requests_made = 0  # HTTP requests actually sent by chat() (retries included)
        self._count_lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(config.max_concurrent)
        retry = Retry(
            total=config.retries,
            connect=config.retries,
            read=config.retries,
            status=config.retries,
            backoff_factor=config.backoff_s,
            status_forcelist=(429, 500, 502, 503, 504),
            allowed_methods=frozenset({"GET", "POST"}),
            respect_retry_after_header=True,
            raise_on_status=False,
        )
        self._session = requests.Session()
        self._session.trust_env = False  # no proxies or netrc credentials: only the configured URL
        adapter = HTTPAdapter(max_retries=retry, pool_maxsize=config.max_concurrent)
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)

    def close(self) -> None:
        self._session.close()

    def _timeout(self) -> tuple[float, float]:
        return (min(10.0, self.config.timeout_s), self.config.timeout_s)

    def chat(self, content: list[dict[str, Any]], system: str | None = None) -> Reply:
        """One chat completion: ``content`` is the user message's parts (text and image_url)."""
        import requests

        messages: list[dict[str, Any]] = []
        if system:
            messages.append({"role": "system", "content": system})
        messages.append({"role": "user", "content": content})
        body = {"model": self.config.model, "messages": messages, "max_tokens": self.config.max_tokens,
                "temperature": 0, "stream": False, **self.config.extra}  # fmt: skip
        where = self.config.chat_url
        with self._slots:
            with self._count_lock:
                self.requests_made += 1
            try:
                response = self._session.post(
                    where, json=body, headers=_key_headers(), timeout=self._timeout()
                )
                retries = getattr(getattr(response.raw, "retries", None), "history", ()) or ()
                with self._count_lock:
                    self.requests_made += len(retries)  # urllib3's retries were requests too
            except requests.exceptions.RetryError as exc:
                raise VlmError(f"the VLM server at {where} kept failing ({_reason(exc)})") from None
            except (requests.exceptions.Timeout, requests.exceptions.ReadTimeout):
                raise VlmError(
                    f"the VLM server at {where} did not answer within {self.config.timeout_s:g} s"
                ) from None
            except requests.exceptions.ConnectionError as exc:
                if "timed out" in str(exc).lower():
                    raise VlmError(
                        f"the VLM server at {where} did not answer within {self.config.timeout_s:g} s"
                    ) from None
                raise VlmError(f"cannot reach the VLM server at {where} ({_reason(exc)})") from None
            except requests.exceptions.RequestException as exc:
                raise VlmError(f"request to the VLM server at {where} failed ({_reason(exc)})") from None
        return _parse_reply(response, where)

    def list_models(self) -> list[str]:
        """GET .../v1/models (cheap reachability check; no model work)."""
        import requests

        url = self.config.models_url
        try:
            response = self._session.get(url, headers=_key_headers(), timeout=self._timeout())
        except requests.exceptions.RequestException as exc:
            raise VlmError(f"cannot reach the VLM server at {url} ({_reason(exc)})") from None
        if response.status_code != 200:
            raise VlmError(f"the VLM server answered HTTP {response.status_code} at {url}")
        try:
            return [str(m.get("id")) for m in response.json().get("data", [])]
        except (ValueError, AttributeError):
            raise VlmError(f"the VLM server's model list at {url} is not JSON") from None

    def test_connection(self) -> str:
        """A text-only chat completion ("reply OK"): proves URL, key and model name. Returns a status line."""
        reply = self.chat([{"type": "text", "text": "Reply with the single word OK."}])
        if reply.refusal:
            return f"connected to {self.config.model}, but it refused: {reply.refusal[:80]}"
        return f"connected: {self.config.model} answered {str(reply.text or '').strip()[:40]!r}"


def _reason(exc: Exception) -> str:
    text = _scrub(str(exc))
    inner = re.search(r"\(Caused by (\w+)", text)
    if inner:
        return inner.group(1)
    return text[:160]


def _parse_reply(response, where: str) -> Reply:
    if response.status_code in (401, 403):
        raise VlmError(
            f"the VLM server at {where} refused the credentials (HTTP {response.status_code}); "
            f"set {KEY_ENV}"
        )
    if response.status_code != 200:
        detail = _scrub(response.text or "")[:160].strip()
        raise VlmError(f"the VLM server at {where} answered HTTP {response.status_code}" +
                       (f": {detail}" if detail else ""))  # fmt: skip
    try:
        data = response.json()
        message = data["choices"][0]["message"]
    except (ValueError, KeyError, IndexError, TypeError):
        raise VlmError(f"the VLM server at {where} sent a reply that is not a chat completion") from None
    refusal = message.get("refusal") if isinstance(message, dict) else None
    content = message.get("content") if isinstance(message, dict) else None
    if isinstance(content, list):  # some servers return content parts
        content = "".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return Reply(content if isinstance(content, str) else None, str(refusal) if refusal else None)


_REFUSAL = re.compile(r"\b(i can(no|')t|i am unable|i'm unable|i cannot|i won't|sorry)\b", re.I)


def parse_json_answer(reply: Reply) -> tuple[dict | None, str]:
    """(the JSON object in the reply, or None; a short explanation when None)."""
    if reply.refusal:
        return None, f"the model refused: {reply.refusal.strip()[:120]}"
    text = (reply.text or "").strip()
    if not text:
        return None, "the model sent an empty reply"
    fenced = re.search(r"```(?:json)?\s*(.*?)```", text, re.S)
    candidate = fenced.group(1) if fenced else text
    start, end = candidate.find("{"), candidate.rfind("}")
    if start >= 0 and end > start:
        try:
            obj = json.loads(candidate[start : end + 1])
            if isinstance(obj, dict):
                return obj, ""
        except ValueError:
            pass
    if _REFUSAL.search(text):
        return None, f"the model refused: {text[:120]}"
    return None, f"the reply was not the JSON asked for: {text[:80]!r}"


def endpoint_status(timeout_s: float = 3.0) -> tuple[str, bool | None]:
    """For `iggt doctor`: (one line, reachable?) of the endpoint ``IGGT_VLM_ENDPOINT`` names (None: not
    configured). Asks only that server's model list (GET .../v1/models): no images, no model work."""
    config = config_from_env(timeout_s=timeout_s, retries=0)
    if config is None:
        return f"not configured (set {ENDPOINT_ENV} and {MODEL_ENV})", None
    try:
        config.validate()
    except VlmError as exc:
        return str(exc), False
    key = "with an API key" if os.environ.get(KEY_ENV, "").strip() else f"no API key ({KEY_ENV} unset)"
    client = VlmClient(config)
    try:
        models = client.list_models()
    except VlmError as exc:
        return f"{config.chat_url}, model {config.model}: NOT reachable: {exc}", False
    finally:
        client.close()
    listed = "listed" if config.model in models else f"not among the {len(models)} it lists"
    return f"{config.chat_url}, model {config.model} ({listed}), {key}: reachable", True
