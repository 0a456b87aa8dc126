"""Real audio for upload tests: the `samples` fixture, one 1 s tone per accepted format (made once a run)."""

from __future__ import annotations

import pytest

from tests.plugins.upload_probe import make_audio_samples


@pytest.fixture(scope="session")
def samples(tmp_path_factory) -> dict[str, bytes]:
    paths = make_audio_samples(tmp_path_factory.getbasetemp() / "audio_samples")
    return {name: path.read_bytes() for name, path in paths.items()}
