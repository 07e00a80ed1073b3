"""One ``.safetensors`` file read through safetensors' own API (``safe_open``).

The library parses the header and checks every tensor's offsets against the file size, so a damaged,
truncated or hostile file (e.g. a header nested 100,000 levels deep) is a ``CheckpointError`` with one
line; opening costs a header read, and tensors are read only when used.
"""

from __future__ import annotations

from pathlib import Path

import torch

from .errors import CheckpointError


class SafetensorsReader:
    """One .safetensors file through safetensors' own ``safe_open``: the library parses the header, checks
    the tensors' offsets against the file size and maps the data, so opening costs a header read and a
    tensor's bytes are read only when it is used."""

    def __init__(self, path: Path) -> None:
        from safetensors import SafetensorError, safe_open

        self.path = path
        try:
            self._file = safe_open(str(path), framework="pt")
            self.metadata = {str(k): str(v) for k, v in (self._file.metadata() or {}).items()}
            names = self._file.keys()
            self.shapes = {name: tuple(self._file.get_slice(name).get_shape()) for name in names}
        except SafetensorError as exc:
            raise CheckpointError(f"{path}: {_safetensors_problem(exc)}") from None
        except OSError as exc:
            raise CheckpointError(f"{path}: cannot be read ({exc.strerror or exc})") from None

    def get_tensor(self, name: str) -> torch.Tensor:
        return self._file.get_tensor(name)

    def close(self) -> None:
        self._file = None  # the library releases the mapping with its last reference


def _safetensors_problem(exc: Exception) -> str:
    text = str(exc).replace("Error while deserializing header: ", "")
    if "not fully covered" in text or "incomplete" in text.lower():
        return f"the file is truncated or damaged ({text})"
    return f"not a safetensors file ({text})"
