"""Configuration of the synthetic room generator."""

from __future__ import annotations

from dataclasses import dataclass

# Which seeds make which rooms: IGGT training draws seeds >= TRAIN_SEED_OFFSET, its validation loss uses
# VAL_SEED_OFFSET.., so held-out evaluation uses seeds below VAL_SEED_OFFSET.
TRAIN_SEED_OFFSET = 1_000_000
VAL_SEED_OFFSET = 900_000


@dataclass(frozen=True)
class RoomConfig:
    """Ranges the seeded generator draws from. Defaults give furnished living rooms / bedrooms /
    offices of 4-7.5 m with 7-16 furniture instances, several of the same category."""

    room_size: tuple[float, float] = (4.0, 7.5)  # metres, per horizontal axis
    room_height: tuple[float, float] = (2.5, 3.0)
    hfov_deg: tuple[float, float] = (55.0, 75.0)  # horizontal field of view
    camera_height: tuple[float, float] = (1.2, 1.7)
    max_pieces: int = 18
    same_colour_prob: float = 0.6  # chance that a set (dining chairs, twin cabinets, boxes) shares one colour
    shadows: bool = False  # cast shadow rays to the ceiling light (about 2x slower)
    contact_shadows: bool = True  # cheap darkening of the floor around furniture footprints
    exposure_jitter: float = 0.06  # per-view brightness variation
    noise_std: float = 0.01  # per-pixel sensor noise (fraction of full scale)
