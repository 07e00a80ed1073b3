"""Errors the user can act on. The CLI prints their message on one line; the GUI shows it in a dialog."""

from __future__ import annotations


class UserError(Exception):
    """A problem with the user's input or settings (bad path, wrong file, impossible option)."""
