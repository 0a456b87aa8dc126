"""cloudinary-temp fixtures: three real mp3 tones made once a run."""

from __future__ import annotations

import pytest

from tests.support.cloudinary_temp import tone


@pytest.fixture(scope="session")
def songs(tmp_path_factory) -> dict[str, bytes]:
    directory = tmp_path_factory.getbasetemp() / "temp_upload_songs"
    return {"a": tone(directory, 440), "b": tone(directory, 660), "c": tone(directory, 880)}
