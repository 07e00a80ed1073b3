"""Errors raised by the model package; every message is meant to be shown to an end user."""

from __future__ import annotations


class IGGTError(Exception):
    """Base class of all model errors."""


class CheckpointError(IGGTError):
    """A checkpoint cannot be found, read, or does not fit the network."""


class InputSizeError(IGGTError, ValueError):
    """Images have a shape the network cannot process."""


class OutOfMemory(IGGTError):
    """The device ran out of memory during inference."""


class Cancelled(IGGTError):
    """The caller asked to stop (cancel callback returned True)."""


class WriteError(IGGTError):
    """A file cannot be written: the disk is full or read-only, no permission, or the target is not a
    regular file (a device, a FIFO, a folder)."""
