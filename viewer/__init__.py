"""Qt GUI of IGGT Viewer: a thin layer over the headless `app` package."""

from __future__ import annotations

import sys

# Software OpenGL (Mesa llvmpipe) loads its own LLVM into the process; Triton's bundled LLVM, which torch
# imports lazily (torch._dynamo -> triton) the first time the model is built, then crashes the process
# while loading. The viewer never compiles kernels, so it tells torch that Triton is absent.
sys.modules.setdefault("triton", None)  # type: ignore[arg-type]
