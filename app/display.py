"""Untrusted text (file names, instance names from scene files) made safe to print on a terminal.

A name may carry ANSI escape sequences (which can retitle or clear a terminal), newlines (which break a
table) or bytes that are not UTF-8 (a file name from another system). ``for_terminal`` shows them as
visible escapes instead: ``\\x1b``, ``\\n``, ``\\xff``.
"""

from __future__ import annotations

import os
import sys
import unicodedata

_BIDI = {chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200E, 0x200F, 0x061C)}


def _escape(ch: str) -> str:
    code = ord(ch)
    if code <= 0xFF:
        return {"\n": "\\n", "\r": "\\r", "\t": "\\t"}.get(ch, f"\\x{code:02x}")
    return f"\\u{code:04x}"


def for_terminal(text: object) -> str:
    """``text`` with control characters, bidirectional overrides and undecodable bytes as escapes."""
    if isinstance(text, os.PathLike):
        text = os.fspath(text)
    if isinstance(text, bytes):
        text = text.decode("utf-8", "surrogateescape")
    text = str(text)
    out = []
    for ch in text:
        code = ord(ch)
        if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8 (surrogateescape)
            out.append(f"\\x{code - 0xDC00:02x}")
        elif 0xD800 <= code <= 0xDFFF or ch in _BIDI or unicodedata.category(ch) == "Cc":
            out.append(_escape(ch))
        else:
            out.append(ch)
    return "".join(out)


def safe_console() -> None:
    """Never fail on printing: characters the console cannot encode are shown escaped."""
    for stream in (sys.stdout, sys.stderr):
        if getattr(stream, "errors", None) == "strict" and hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
