"""cloudinary-temp's pure rules: who may delete, what counts as the same track, form and config checks."""

from __future__ import annotations

import uuid

import pytest
from pydantic import ValidationError

from mediahub.errors import BadRequest
from mediahub_cloudinary_temp import same_track
from mediahub_cloudinary_temp.models import TempUpload
from mediahub_cloudinary_temp.routes import check_fields
from mediahub_cloudinary_temp.settings import TempUploadSettings
from mediahub_cloudinary_temp.store import may_delete, public_id_of_key

ALICE, BOB, CAROL = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()


def test_only_the_uploader_or_the_session_host_may_delete():
    upload = TempUpload(uploader_id=BOB, session_id="s")
    assert may_delete(upload, BOB, ALICE)  # the uploader
    assert may_delete(upload, ALICE, ALICE)  # the session's host
    assert not may_delete(upload, CAROL, ALICE)
    assert not may_delete(upload, CAROL, None)
    assert not may_delete(TempUpload(uploader_id=None, session_id="s"), None, None)


def test_same_track_compares_ids_not_titles():
    assert same_track({"media_id": "m1"}, {"media_id": "m1"})
    assert same_track({"publicId": "p"}, {"publicId": "p", "title": "x"})
    assert not same_track({"media_id": "m1"}, {"media_id": "m2"})
    assert not same_track({"title": "x"}, {"title": "x"})


@pytest.mark.parametrize("fields", [{}, {"sessionId": ""}, {"sessionId": "a,b"},
                                    {"sessionId": "-lead"}, {"sessionId": "x" * 129},
                                    {"sessionId": "ok", "songTitle": "t" * 301}])
def test_bad_forms_are_refused(fields):
    with pytest.raises(BadRequest):
        check_fields(fields)


def test_good_forms_pass():
    check_fields({"sessionId": "party-1:abc_2.x", "songTitle": "Tum Hi Ho"})
    check_fields({"sessionId": "p"})


def test_public_id_is_the_server_made_part_of_the_key():
    assert public_id_of_key("mediahub/temp-sessions/0123abcd.mp3") == "0123abcd"


def test_settings_defaults_and_limits():
    settings = TempUploadSettings()
    assert (settings.backend, settings.ttl, settings.max_bytes) == (None, 7200, None)
    for bad in ({"ttl": 0}, {"folder": "../escape"}, {"folder": "/abs"}, {"max_bytes": 0},
                {"unknown": 1}):
        with pytest.raises(ValidationError):
            TempUploadSettings(**bad)
