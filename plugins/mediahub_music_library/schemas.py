"""The JSON API's response shapes for the OpenAPI document, made from the dataclasses in shapes.py.

The dataclasses are the one source of the fields: each gets a pydantic model with the camelCase
names `as_json` writes, so the document (and schemathesis, which checks every answer against it)
cannot drift from what the routes send.
"""

from __future__ import annotations

import typing
from dataclasses import fields
from datetime import datetime
from typing import Optional

from pydantic import BaseModel, ConfigDict, create_model

from mediahub_music_library import shapes


class CamelModel(BaseModel):
    model_config = ConfigDict(alias_generator=shapes.camel, populate_by_name=True)


def model_of(dataclass_type) -> type[BaseModel]:
    """A pydantic model with the dataclass's fields, every one always present (as as_json sends)."""
    hints = typing.get_type_hints(dataclass_type)
    spec = {}
    for item in fields(dataclass_type):
        kind = hints[item.name]
        if kind is datetime:  # as_json writes ISO 8601 text; None before the scan dated it
            kind = Optional[datetime]
        spec[item.name] = (kind, ...)
    return create_model(f"Music{dataclass_type.__name__}", __base__=CamelModel, **spec)


Folder = model_of(shapes.Folder)
Artist = model_of(shapes.Artist)
Album = model_of(shapes.Album)
Track = model_of(shapes.Track)
Genre = model_of(shapes.Genre)


class Folders(BaseModel):
    folders: list[Folder]


class Artists(BaseModel):
    artists: list[Artist]


class ArtistPage(BaseModel):
    artist: Artist
    albums: list[Album]


class Albums(BaseModel):
    albums: list[Album]


class AlbumPage(BaseModel):
    album: Album
    tracks: list[Track]


class Tracks(BaseModel):
    tracks: list[Track]


class OneTrack(BaseModel):
    track: Track


class Lyrics(BaseModel):
    lyrics: Optional[str]


class Genres(BaseModel):
    genres: list[Genre]


class SearchResult(BaseModel):
    artists: list[Artist]
    albums: list[Album]
    tracks: list[Track]


class ScanCounts(BaseModel):
    """A scan's counts so far (all 0 in its first moments, before a file was seen)."""
    seen: int = 0
    added: int = 0
    changed: int = 0
    moved: int = 0
    removed: int = 0
    failed: int = 0


class ScanProblem(BaseModel):
    path: str
    reason: str


class LastScan(ScanCounts):
    model_config = ConfigDict(extra="allow")  # counts of older releases may lack a key
    reason: Optional[str] = None
    seconds: Optional[float] = None
    problems: Optional[list[ScanProblem]] = None  # the first 50 files skipped, and why
    startedAt: Optional[str]
    finishedAt: Optional[str]
    error: Optional[str]


class Status(BaseModel):
    scanning: bool
    progress: Optional[ScanCounts]
    watching: bool
    tracks: int
    albums: int
    artists: int
    issues: int
    transcoding: int
    lastScan: Optional[LastScan]


class ScanStarted(BaseModel):
    scanning: bool
