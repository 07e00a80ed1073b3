"""Class vocabularies for "Label all": built-in lists and the user's own list files."""

from __future__ import annotations

from pathlib import Path

from app.errors import UserError
from model.clip.vocabulary import FURNITURE

SCANNET20: tuple[str, ...] = (
    "wall",
    "floor",
    "cabinet",
    "bed",
    "chair",
    "sofa",
    "table",
    "door",
    "window",
    "bookshelf",
    "picture",
    "counter",
    "desk",
    "curtain",
    "refrigerator",
    "shower curtain",
    "toilet",
    "sink",
    "bathtub",
    "otherfurniture",
)
# The furniture categories of the project's synthetic rooms (what the bundled CLIP was trained on).
SYNTHETIC: tuple[str, ...] = FURNITURE
BUILTIN: dict[str, tuple[str, ...]] = {"scannet20": SCANNET20, "synthetic": SYNTHETIC}
# How a class name is said in a prompt when it differs from the name shown ("otherfurniture").
SPOKEN: dict[str, str] = {"otherfurniture": "other furniture"}
MAX_CLASSES = 2000
MAX_NAME_CHARS = 100


def spoken(name: str) -> str:
    return SPOKEN.get(name, name)


def parse_vocabulary(text: str, source: str = "vocabulary") -> list[str]:
    """One class per line (commas also separate); '#' starts a comment; duplicates dropped."""
    names: list[str] = []
    for line in text.splitlines():
        line = line.split("#", 1)[0]
        for part in line.split(","):
            name = " ".join(part.split())
            if not name:
                continue
            if len(name) > MAX_NAME_CHARS:
                raise UserError(
                    f"{source}: class name longer than {MAX_NAME_CHARS} characters: {name[:40]}..."
                )
            if name not in names:
                names.append(name)
    if not names:
        raise UserError(f"{source} has no class names (one per line expected)")
    if len(names) > MAX_CLASSES:
        raise UserError(f"{source} has {len(names)} classes; at most {MAX_CLASSES} are supported")
    return names


def load_vocabulary(spec: str) -> tuple[str, list[str]]:
    """(name, classes) for a built-in list name or a text file path."""
    key = spec.strip().lower()
    if key in BUILTIN:
        return key, list(BUILTIN[key])
    path = Path(spec).expanduser()
    if not path.exists():
        raise UserError(f"vocabulary {spec!r} is neither a built-in list ({', '.join(BUILTIN)}) nor a file")
    if not path.is_file():
        raise UserError(f"vocabulary {path} is not a file")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise UserError(f"vocabulary {path} is not UTF-8 text") from None
    except OSError as exc:
        raise UserError(f"cannot read vocabulary {path}: {exc.strerror or exc}") from None
    return path.name, parse_vocabulary(text, str(path))
