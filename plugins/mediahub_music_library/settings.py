"""`[plugins.music_library]`: the folders to scan, who sees each, watching and transcode defaults."""

from __future__ import annotations

from pydantic import BaseModel, Field, field_validator, model_validator


class FolderSettings(BaseModel):
    """One music folder; a bare string in `folders` is a folder everybody sees."""

    model_config = {"extra": "forbid"}
    path: str = Field(min_length=1)
    # Shown in folder pickers (Subsonic musicFolders); default: the folder's last path part.
    name: str | None = Field(None, max_length=100)
    # Usernames allowed to see this folder; None (the default) means every account.
    users: list[str] | None = None


class TranscodeSettings(BaseModel):
    """Defaults for transcoded streams (a client asks for `format` and `maxBitRate`)."""

    model_config = {"extra": "forbid"}
    # The format used when a client asks for a lower bitrate but names no format.
    format: str = Field("opus", pattern="^(opus|aac|mp3)$")
    bitrate: int = Field(128, ge=32, le=320)
    # Transcodes running at once on this instance; more wait (each is one ffmpeg process).
    max_concurrent: int = Field(4, ge=1, le=64)


class MusicLibrarySettings(BaseModel):
    """`[plugins.music_library]` in the config file."""

    model_config = {"extra": "forbid"}
    folders: list[FolderSettings | str] = Field(default_factory=list, max_length=100)
    # Watch the folders (watchfiles) while `mediahub serve` runs: changes show up in seconds.
    watch: bool = True
    # Full rescan every this many seconds (catches what a watcher misses, e.g. network mounts);
    # 0 turns it off.
    rescan_interval: int = Field(3600, ge=0)
    # Scan the folders when `mediahub serve` starts (in the background).
    scan_on_start: bool = True
    # One artist/genre tag holding several names is split at these separators.
    artist_separators: list[str] = Field(default_factory=lambda: [";", " / ", " feat. ", " ft. ", "\u0000"])
    genre_separators: list[str] = Field(default_factory=lambda: [";", ",", "/", "\u0000"])
    transcode: TranscodeSettings = Field(default_factory=TranscodeSettings)
    # Cover thumbnail sizes (pixels, square bound) served besides the original.
    cover_sizes: list[int] = Field(default_factory=lambda: [64, 300, 600], max_length=6)

    @field_validator("folders")
    @classmethod
    def as_tables(cls, value):
        folders = [FolderSettings(path=item) if isinstance(item, str) else item for item in value]
        paths = [folder.path.rstrip("/") or "/" for folder in folders]
        if len(set(paths)) != len(paths):
            raise ValueError("a folder is listed twice")
        return folders

    @field_validator("artist_separators", "genre_separators")
    @classmethod
    def no_empty_separator(cls, value: list[str]) -> list[str]:
        if any(not separator for separator in value):
            raise ValueError("a separator cannot be empty")
        return value

    @field_validator("cover_sizes")
    @classmethod
    def sane_sizes(cls, value: list[int]) -> list[int]:
        if any(not 16 <= size <= 2000 for size in value):
            raise ValueError("cover sizes are between 16 and 2000 pixels")
        return sorted(set(value))

    @model_validator(mode="after")
    def folder_names(self):
        for folder in self.folders:
            if folder.name is None:
                folder.name = folder.path.rstrip("/").rsplit("/", 1)[-1] or folder.path
        return self
