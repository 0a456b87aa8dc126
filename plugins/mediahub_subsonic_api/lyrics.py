"""Lyrics text as OpenSubsonic structuredLyrics: LRC timestamps make synced lines."""

from __future__ import annotations

import re

_LRC_LINE = re.compile(r"^((?:\[\d{1,3}:\d{1,2}(?:[.:]\d{1,3})?\])+)(.*)$")
_STAMP = re.compile(r"\[(\d{1,3}):(\d{1,2})(?:[.:](\d{1,3}))?\]")
_LRC_TAG = re.compile(r"^\[(ar|ti|al|by|offset|length|re|ve|au|#):.*\]$", re.IGNORECASE)


def structured(text: str, *, artist: str | None, title: str | None) -> dict:
    lines = [line.rstrip("\r") for line in text.split("\n")]
    timed = []
    for line in lines:
        match = _LRC_LINE.match(line.strip())
        if match:
            for stamp in _STAMP.finditer(match.group(1)):
                minutes, secs, fraction = stamp.groups()
                ms = (int(minutes) * 60 + int(secs)) * 1000
                if fraction:
                    ms += int(fraction.ljust(3, "0")[:3])
                timed.append((ms, match.group(2).strip()))
    base = {"displayArtist": artist, "displayTitle": title, "lang": "xxx"}
    if timed:
        timed.sort(key=lambda pair: pair[0])
        return {**base, "synced": True, "line": [{"start": ms, "value": words} for ms, words in timed]}
    plain = [line for line in lines if not _LRC_TAG.match(line.strip())]
    while plain and not plain[-1].strip():
        plain.pop()
    return {**base, "synced": False, "line": [{"value": line} for line in plain]}
