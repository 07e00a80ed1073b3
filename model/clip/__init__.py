"""The project's tiny CLIP at run time: its open_clip config and file format, the instance crops it sees,
the query prompts and the category/colour vocabulary (torch + open_clip only; no Qt, no app).

Training it lives in ``training.clip``, which imports these pieces so training and the app crop and prompt
alike; nothing here imports training.
"""

from .config import TinyClipConfig, build_tiny_clip, load_tiny_clip, save_tiny_clip, tiny_tokenizer

__all__ = ["TinyClipConfig", "build_tiny_clip", "load_tiny_clip", "save_tiny_clip", "tiny_tokenizer"]
