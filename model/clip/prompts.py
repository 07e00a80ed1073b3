"""The tiny CLIP's prompts at query time: the template ensemble and a/an agreement (also used by training's
captions, so queries read like the captions the model was trained on)."""

from __future__ import annotations

# Prompt ensemble for queries (averaged, normalised text embeddings): the phrase goes in the braces.
QUERY_TEMPLATES: tuple[str, ...] = ("a {}", "a photo of a {}", "the {}", "a {} in a room")


def article(noun_phrase: str) -> str:
    return "an" if noun_phrase[:1].lower() in "aeiou" else "a"


def fix_article(text: str) -> str:
    words = text.split(" ")
    for i in range(len(words) - 1):
        if words[i] in ("a", "an"):
            words[i] = article(words[i + 1])
    return " ".join(words)


def query_prompts(phrase: str) -> list[str]:
    """The ensemble of prompts for one query phrase."""
    return [fix_article(t.format(phrase)) for t in QUERY_TEMPLATES]
