"""`POST /media/upload/<backend>`: where local-disk's presigned uploads (`presign_upload`) go."""

from __future__ import annotations

from pydantic import BaseModel
from quart import Blueprint, Response
from quart_schema import DataSource, document_request

from mediahub import csrf_token_in_body
from mediahub_local_disk.upload_receiver import receive_policy_upload

blueprint = Blueprint("local_disk", __name__)


class PresignedPostForm(BaseModel):
    """The policy fields exactly as `presign_upload` returned them, then the `file` part."""

    backend: str
    key: str
    content_type: str
    max_size: str
    exp: str
    sig: str
    file: bytes


@blueprint.post("/media/upload/<backend>")
@document_request(PresignedPostForm, source=DataSource.FORM_MULTIPART)
@csrf_token_in_body
async def receive_upload(backend: str):
    """Receive a presigned POST (policy fields, then `file`) for backends without their own URL.

    Like S3: 204 when stored, 403 for a tampered or expired policy or one whose upload is
    done, 413 above its size.
    """
    await receive_policy_upload(backend)
    return Response(status=204)
