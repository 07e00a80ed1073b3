"""Training of the project's tiny CLIP on crops of synthetic rooms (torch + open_clip only; no Qt, no app).

The model, tokenizer and loss are open_clip's own (``open_clip.CLIP``, ``SimpleTokenizer``, ``ClipLoss``);
this package adds the small config, the instance crops (shared with the app's instance embeddings), the
template captions, the crop data set, the training loop and the zero-shot evaluation.
"""

from .config import TinyClipConfig, build_tiny_clip, load_tiny_clip, save_tiny_clip, tiny_tokenizer

__all__ = ["TinyClipConfig", "build_tiny_clip", "load_tiny_clip", "save_tiny_clip", "tiny_tokenizer"]
