"""Everything that makes the bundled models, kept out of the runtime packages.

* ``training.synthetic``: synthetic furnished rooms (numpy ray casting) for training and evaluation,
* ``training.iggt``: IGGT's targets, losses, stages and the resumable training loop,
* ``training.clip``: the tiny CLIP's captions, crop data set and training loop.

Imports point one way: training -> model (and the runtime pieces it shares, e.g. ``model.clip.crops``),
never back. The app reaches training only from its training/evaluation commands (``tests/test_layering.py``).
"""
