"""Pure text rules of the collection: search folding, multi-valued tags, `3/12` numbers, sort names."""

from __future__ import annotations

import re
import unicodedata

# Letters NFKD does not decompose into a base letter plus an accent.
SPECIAL_LETTERS = str.maketrans({"ø": "o", "Ø": "o", "æ": "ae", "Æ": "ae", "œ": "oe", "Œ": "oe",
                                 "đ": "d", "Đ": "d", "ł": "l", "Ł": "l", "þ": "th", "Þ": "th",
                                 "ð": "d", "Ð": "d", "ı": "i"})
NOT_A_WORD = re.compile(r"[^\w]+")
NUMBER_PAIR = re.compile(r"^\s*(\d{1,6})\s*(?:/\s*(\d{1,6}))?\s*$")
YEAR = re.compile(r"(\d{4})")
SORT_ARTICLES = ("the ",)
# What fold does to ASCII text, as one table: letters lowered, every non-alphanumeric a space.
ASCII_FOLD = {code: chr(code).lower() if chr(code).isalnum() else " " for code in range(128)}


def fold(text: str) -> str:
    """Lower case, accents and punctuation removed: what search indexes and queries compare.

    "Beyoncé" -> "beyonce", "Sigur Rós" -> "sigur ros", "Mötley Crüe!" -> "motley crue".
    """
    if text.isascii():  # most tags: nothing to decompose, casefold is lower (a scan folds ~10 per file)
        return " ".join(text.translate(ASCII_FOLD).split())
    text = unicodedata.normalize("NFKD", text.translate(SPECIAL_LETTERS))
    text = "".join(char for char in text if not unicodedata.combining(char)).casefold()
    return " ".join(NOT_A_WORD.sub(" ", text).replace("_", " ").split())


def split_values(values, separators: list[str]) -> list[str]:
    """Several tag values, each possibly "A; B", to distinct names in order (case kept)."""
    names: list[str] = []
    seen: set[str] = set()
    for value in values:
        parts = [value]
        for separator in separators:
            if separator in value:
                parts = [piece for part in parts for piece in part.split(separator)]
        for part in parts:
            name = " ".join(part.split())
            if name:
                folded = fold(name)
                if folded not in seen:
                    seen.add(folded)
                    names.append(name)
    return names


def number_pair(value: str | int | None) -> tuple[int | None, int | None]:
    """A track or disc tag ("3", "3/12", " 03 / 12 ") to (number, total); nonsense is (None, None)."""
    if value is None:
        return None, None
    match = NUMBER_PAIR.match(str(value))
    if not match:
        return None, None
    number = int(match.group(1)) or None
    total = int(match.group(2)) if match.group(2) else None
    return number, total or None


def year_of(date: str | None) -> int | None:
    """The year of a date tag ("1997", "1997-05-21", "21.05.1997"); None without a plausible one."""
    if not date:
        return None
    match = YEAR.search(str(date))
    if not match:
        return None
    year = int(match.group(1))
    return year if 1000 <= year <= 2999 else None


def sort_name(name: str) -> str:
    """The key artists and albums sort by: folded, a leading "The " ignored."""
    folded = fold(name)
    for article in SORT_ARTICLES:
        if folded.startswith(article) and len(folded) > len(article):
            return folded[len(article):]
    return folded


def prefix_words(query: str) -> list[str]:
    """The words of an as-you-type query, folded; each is matched as a prefix."""
    return fold(query).split()[:8]
