"""A real OpenAI-compatible chat-completions server on 127.0.0.1 for tests and benchmarks, which answers by
LOOKING at the images it receives: it decodes each PNG data URL, finds the pure-green outline the app
draws, takes the pixels inside it, and says "yes" to any question when most of them are red (hue within
15 degrees of red, saturated, not dark); asked to name the object it answers "red object" or "other object".

``mode`` "fast" answers "no" without decoding anything (benchmarks: the app's own cost). Other modes
make it misbehave: "malformed" (the message content is not JSON), "garbage" (the HTTP body is not
JSON), "error" (HTTP 500), "slow" (sleeps ``delay_s`` before answering), "refuse" (an OpenAI refusal).
"""

from __future__ import annotations

import base64
import colorsys
import contextlib
import io
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np

OUTLINE = (0, 255, 0)


def outlined_region(image: np.ndarray) -> np.ndarray:
    """Pixels enclosed by the pure-green outline (flood fill from the border over non-outline pixels)."""
    from scipy import ndimage

    ring = np.all(image[..., :3] == OUTLINE, axis=-1)
    outside, _ = ndimage.label(~ring)
    border = set(np.unique(np.concatenate([outside[0], outside[-1], outside[:, 0], outside[:, -1]])))
    inside = ~ring & ~np.isin(outside, list(border - {0}))
    return inside


def red_share(image: np.ndarray) -> float:
    inside = outlined_region(image)
    if not inside.any():
        return 0.0
    px = image[inside][:, :3].astype(np.float64) / 255.0
    hsv = np.array([colorsys.rgb_to_hsv(*p) for p in px[:: max(1, len(px) // 2000)]])
    hue = hsv[:, 0] * 360.0
    red = ((hue <= 15) | (hue >= 345)) & (hsv[:, 1] > 0.45) & (hsv[:, 2] > 0.25)
    return float(red.mean())


def decode_data_url(url: str) -> np.ndarray:
    from PIL import Image

    header, _, data = url.partition(",")
    if not header.startswith("data:image/") or ";base64" not in header:
        raise ValueError(f"not a base64 image data URL: {header[:40]}")
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(data))).convert("RGB"))


@dataclass
class Seen:
    requests: int = 0
    chat_requests: int = 0
    images: int = 0
    auth: list[str] = field(default_factory=list)
    models: list[str] = field(default_factory=list)
    prompts: list[str] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)


class VlmServer:
    """``with VlmServer() as server: server.url``; ``server.mode`` may change between requests."""

    def __init__(self, mode: str = "vision", delay_s: float = 0.0, key: str | None = None) -> None:
        self.mode = mode
        self.delay_s = delay_s
        self.key = key  # when set, requests without "Bearer <key>" get HTTP 401
        self.seen = Seen()
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:  # quiet
                pass

            def _send(self, status: int, body: bytes, ctype: str = "application/json") -> None:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.wfile.write(body)

            def _authorised(self) -> bool:
                auth = self.headers.get("Authorization", "")
                with server._lock:
                    server.seen.requests += 1
                    server.seen.auth.append(auth)
                    server.seen.paths.append(self.path)
                if server.key and auth != f"Bearer {server.key}":
                    self._send(401, b'{"error": {"message": "bad key"}}')
                    return False
                return True

            def do_GET(self) -> None:
                if not self._authorised():
                    return
                if self.path.rstrip("/") == "/v1/models":
                    self._send(200, json.dumps({"object": "list", "data": [{"id": "looker"}]}).encode())
                else:
                    self._send(404, b'{"error": {"message": "not found"}}')

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                if not self._authorised():
                    return
                if self.path.rstrip("/") != "/v1/chat/completions":
                    self._send(404, b'{"error": {"message": "not found"}}')
                    return
                request = json.loads(body)
                server._chat(self, request)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    def __enter__(self) -> VlmServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def _chat(self, handler, request: dict) -> None:
        texts, pictures = [], []
        for message in request.get("messages", []):
            content = message.get("content")
            parts = content if isinstance(content, list) else [{"type": "text", "text": str(content)}]
            for part in parts:
                if part.get("type") == "text":
                    texts.append(part["text"])
                elif part.get("type") == "image_url":
                    url = part["image_url"]["url"]
                    pictures.append(url if self.mode == "fast" else decode_data_url(url))
        with self._lock:
            self.seen.chat_requests += 1
            self.seen.images += len(pictures)
            self.seen.models.append(str(request.get("model")))
            self.seen.prompts.append(texts[-1] if texts else "")
        mode = self.mode
        if mode == "slow":
            time.sleep(self.delay_s)
        if mode == "error":
            handler._send(500, b'{"error": {"message": "internal error"}}')
            return
        if mode == "garbage":
            handler._send(200, b"<html>this is not json</html>", "text/html")
            return
        refusal = None
        if mode == "refuse":
            content, refusal = None, "I can't help with identifying objects in these images."
        elif mode == "malformed":
            content = "Sure! The object looks red-ish, I think {answer: yes"
        elif not pictures:
            content = "OK"
        elif mode == "fast":
            content = json.dumps({"answer": "no", "reason": "not looked at"})
        else:
            red = float(np.mean([red_share(p) for p in pictures])) > 0.5
            if "Name the outlined object" in (texts[-1] if texts else ""):
                content = json.dumps({"name": "red object" if red else "other object", "reason": "colour"})
            else:
                reason = "the outlined region is mostly red" if red else "the outlined region is not red"
                content = json.dumps({"answer": "yes" if red else "no", "reason": reason})
        message = {"role": "assistant", "content": content}
        if refusal:
            message["refusal"] = refusal
        reply = {
            "id": "chatcmpl-test",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": request.get("model"),
            "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
        }
        handler._send(200, json.dumps(reply).encode())
