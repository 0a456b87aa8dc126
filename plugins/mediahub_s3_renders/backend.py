"""S3Storage: any S3-compatible bucket through boto3, every call off the event loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, AsyncIterator, Callable
from urllib.parse import quote

from mediahub import InvalidKey, ObjectStat, PresignedUpload, StorageUnavailable, check_key
from mediahub_s3_renders.settings import MiB, S3Settings, parse_settings

log = logging.getLogger("mediahub.storage.s3")

READ_CHUNK = 1024 * 1024
MAX_KEY_BYTES = 1024  # S3's own limit, key_prefix included
MAX_PARTS = 10_000  # S3's limit on parts per multipart upload
DELETE_BATCH = 1000  # S3's limit on keys per DeleteObjects request
NOT_FOUND_CODES = {"404", "NoSuchKey", "NotFound"}
CLEANUP_WAIT = 2.0  # seconds a failing put waits for its abort before raising anyway
SESSION: Any = None  # one boto3 session for every S3 backend in the process
SESSION_LOCK = threading.Lock()


def range_header(start: int, end: int) -> str:
    if start < 0 or end < start:
        raise ValueError(f"bad range {start}-{end}")
    return f"bytes={start}-{end}"


def part_size_for(size: int | None, part_size: int) -> int:
    """The configured part size, grown (in whole MiB) when a known size needs > 10,000 parts."""
    if size is None or size <= part_size * MAX_PARTS:
        return part_size
    return math.ceil(size / MAX_PARTS / MiB) * MiB


def error_code(exc: Exception) -> str:
    return str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))


def is_not_found(exc: Exception) -> bool:
    from botocore.exceptions import ClientError

    return isinstance(exc, ClientError) and error_code(exc) in NOT_FOUND_CODES


class S3Storage:
    """Objects in one bucket, under an optional key prefix. boto3 runs in a private thread
    pool (one shared client; clients are thread-safe) so a stalled endpoint cannot starve
    the default executor the rest of the app uses for files and DNS."""

    def __init__(self, name: str, settings: S3Settings, *, delete_batch: int = DELETE_BATCH,
                 threads: int = 16):
        if not 1 <= delete_batch <= DELETE_BATCH:
            raise ValueError(f"delete_batch must be 1..{DELETE_BATCH}")
        self.name = name
        self.settings = settings
        self.bucket = settings.bucket
        self.key_prefix = settings.key_prefix
        self.delete_batch = delete_batch
        self.threads = threads
        self._client: Any = None
        self._executor: ThreadPoolExecutor | None = None
        self._background: set[asyncio.Task] = set()

    @classmethod
    def from_settings(cls, options: dict[str, Any]) -> S3Storage:
        return cls(options["name"], parse_settings(options))

    @property
    def where(self) -> str:
        return f"storage {self.name!r} (bucket {self.bucket!r} at {self.settings.endpoint_url or 'AWS'})"

    # -- lifecycle -----------------------------------------------------------------

    async def start(self) -> None:
        """Build the client and check the bucket answers (creating it if configured to)."""
        if self._executor is None:
            self._executor = ThreadPoolExecutor(self.threads, thread_name_prefix=f"s3-{self.name}")
        if self._client is None:
            self._client = await self._run(make_client, self.settings, self.threads)
        try:
            await self._call("head_bucket", Bucket=self.bucket)
        except StorageUnavailable as exc:
            code = error_code(exc.__cause__)
            if code in ("403", "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch"):
                raise StorageUnavailable(f"{exc.message} (check access_key_id and secret_access_key, "
                                         "and that they may use this bucket)") from exc.__cause__
            if code not in ("404", "NoSuchBucket", "NotFound"):
                raise
            if not self.settings.create_bucket:
                raise StorageUnavailable(f"{self.where}: the bucket does not exist "
                                         "(create it, or set create_bucket = true)") from None
            await self._create_bucket()

    async def _create_bucket(self) -> None:
        options: dict[str, Any] = {"Bucket": self.bucket}
        if self.settings.endpoint_url is None and self.settings.region != "us-east-1":
            # AWS wants the region spelled out everywhere but us-east-1; others reject it.
            options["CreateBucketConfiguration"] = {"LocationConstraint": self.settings.region}
        try:
            await self._call("create_bucket", **options)
        except StorageUnavailable as exc:
            if error_code(exc.__cause__) not in ("BucketAlreadyOwnedByYou",):
                raise StorageUnavailable(f"{self.where}: could not create the bucket: "
                                         f"{exc.message}") from exc.__cause__
        log.info("%s: created the bucket", self.where)

    async def close(self) -> None:
        if self._background:  # aborts still running: let them try before the client goes
            await asyncio.wait(set(self._background), timeout=self.settings.connect_timeout)
        client, executor = self._client, self._executor
        self._client = self._executor = None
        if executor is not None:
            # Wait for running calls (an abort in progress) in a thread, not on the loop.
            await asyncio.get_running_loop().run_in_executor(None, executor.shutdown, True)
        if client is not None:
            client.close()

    # -- running boto3 off the loop --------------------------------------------------

    async def _run(self, function: Callable, *args: Any, **kwargs: Any) -> Any:
        """function(*args, **kwargs) in the pool; a cancelled caller still waits for the
        thread to finish, so nothing keeps writing after a cleanup ran."""
        if self._executor is None:
            raise RuntimeError(f"{self.where} is not started")
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self._executor, lambda: function(*args, **kwargs))
        try:
            return await asyncio.shield(future)
        except asyncio.CancelledError:
            with contextlib.suppress(BaseException):
                await future
            raise
        except Exception as exc:
            converted = as_storage_error(exc, self.where)
            if converted is exc:
                raise
            raise converted from exc

    async def _finish_soon(self, coroutine) -> None:
        """Run a cleanup call, waiting at most CLEANUP_WAIT; past that it goes on alone."""
        task = asyncio.get_running_loop().create_task(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        await asyncio.wait({task}, timeout=CLEANUP_WAIT)

    async def _call(self, operation: str, **params: Any) -> Any:
        if self._client is None:
            raise RuntimeError(f"{self.where} is not started")
        return await self._run(getattr(self._client, operation), **params)

    def _full_key(self, key: str) -> str:
        check_key(key)
        full = self.key_prefix + key
        if len(full.encode("utf-8")) > MAX_KEY_BYTES:
            raise InvalidKey(f"{key!r}: longer than 1024 bytes with the key prefix")
        return full

    # -- writing -------------------------------------------------------------------

    async def put(self, key: str, chunks: AsyncIterator[bytes], content_type: str,
                  size: int | None = None) -> ObjectStat:
        """Small objects in one PUT; bigger ones as a multipart upload holding one part in
        memory. Nothing is visible until the last request succeeds; a failure aborts."""
        full = self._full_key(key)
        part_size = part_size_for(size, self.settings.part_size)
        threshold = self.settings.multipart_threshold
        pending = PendingBytes()
        received = 0
        upload: MultipartUpload | None = None
        try:
            async for chunk in chunks:
                received += len(chunk)
                if size is not None and received > size:
                    raise ValueError(f"put {key!r}: more than the announced {size} bytes")
                pending.add(chunk)
                if upload is None and pending.size > threshold:
                    upload = MultipartUpload(self, full, content_type)
                    await upload.begin()
                while upload is not None and pending.size >= part_size:
                    await upload.send(pending.take(part_size))
            if size is not None and received != size:
                raise ValueError(f"put {key!r}: expected {size} bytes, got {received}")
            if upload is None:
                await self._call("put_object", Bucket=self.bucket, Key=full,
                                 Body=pending.take(pending.size), ContentType=content_type)
            else:
                if pending.size or not upload.parts:
                    await upload.send(pending.take(pending.size))
                await upload.complete()
        except StorageUnavailable:
            if upload is not None:
                # S3 is failing: a hung one must not hold the caller through the abort's own
                # retries too. It goes on in the background; the sweep aborts what it cannot.
                await self._finish_soon(upload.abort())
            raise
        except BaseException:
            if upload is not None:
                await upload.abort()
            raise
        stat = await self.stat(key)
        if stat is None:
            raise StorageUnavailable(f"{self.where}: {key!r} is missing right after it was stored")
        return stat

    # -- reading -------------------------------------------------------------------

    async def stat(self, key: str) -> ObjectStat | None:
        full = self._full_key(key)
        try:
            head = await self._call("head_object", Bucket=self.bucket, Key=full)
        except StorageUnavailable as exc:
            if is_not_found(exc.__cause__):
                return None
            raise
        return ObjectStat(key=key, size=int(head["ContentLength"]), etag=head["ETag"].strip('"'),
                          last_modified=head["LastModified"].timestamp(),
                          content_type=head.get("ContentType") or "application/octet-stream")

    async def open_range(self, key: str, start: int, end: int) -> AsyncIterator[bytes]:
        """GET with a Range header, read ~1 MiB at a time off the loop; the body is closed
        (its connection dropped) as soon as the consumer stops."""
        full = self._full_key(key)
        header = range_header(start, end)
        try:
            response = await self._call("get_object", Bucket=self.bucket, Key=full, Range=header)
        except StorageUnavailable as exc:
            if is_not_found(exc.__cause__):
                raise FileNotFoundError(f"{self.where}: no object {key!r}") from None
            if error_code(exc.__cause__) == "InvalidRange":
                raise ValueError(f"range {start}-{end} is outside {key!r}") from None
            raise
        body = response["Body"]
        try:
            while True:
                chunk = await self._run(body.read, READ_CHUNK)
                if not chunk:
                    break
                yield chunk
        finally:
            body.close()

    async def list(self, prefix: str = "") -> AsyncIterator[ObjectStat]:
        """Every object under prefix. A listing carries no content type: octet-stream."""
        check_key(prefix, prefix=True)
        params = {"Bucket": self.bucket, "Prefix": self.key_prefix + prefix}
        while True:
            page = await self._call("list_objects_v2", **params)
            for item in page.get("Contents", []):
                key = item["Key"][len(self.key_prefix):]
                if not key or key.endswith("/"):
                    continue  # folder markers some tools create; never an object of ours
                yield ObjectStat(key=key, size=int(item["Size"]), etag=item["ETag"].strip('"'),
                                 last_modified=item["LastModified"].timestamp())
            if not page.get("IsTruncated"):
                return
            params["ContinuationToken"] = page["NextContinuationToken"]

    # -- deleting ------------------------------------------------------------------

    async def delete(self, key: str) -> None:
        full = self._full_key(key)
        try:
            await self._call("delete_object", Bucket=self.bucket, Key=full)
        except StorageUnavailable as exc:
            if not is_not_found(exc.__cause__):
                raise

    async def delete_prefix(self, prefix: str) -> int:
        """List under prefix and delete in batches (DeleteObjects takes at most 1,000 keys)."""
        check_key(prefix, prefix=True)
        deleted = 0
        batch: list[str] = []
        async for info in self.list(prefix):
            batch.append(self.key_prefix + info.key)
            if len(batch) >= self.delete_batch:
                deleted += await self._delete_batch(batch)
                batch = []
        if batch:
            deleted += await self._delete_batch(batch)
        return deleted

    async def _delete_batch(self, keys: list[str]) -> int:
        answer = await self._call("delete_objects", Bucket=self.bucket, Delete={
            "Objects": [{"Key": key} for key in keys], "Quiet": True})
        errors = [e for e in answer.get("Errors", []) if e.get("Code") not in NOT_FOUND_CODES]
        if errors:
            first = errors[0]
            raise StorageUnavailable(f"{self.where}: {len(errors)} of {len(keys)} deletes failed "
                                     f"({first.get('Code')}: {first.get('Message')})")
        return len(keys)

    async def sweep_temp_files(self, older_than: float) -> int:
        """Abort multipart uploads started before `older_than` (unix time) and never finished.

        A process killed mid-upload (or whose abort failed while S3 was unreachable) leaves
        its parts stored, and billed, but invisible to list(); the ledger's sweep calls this.
        """
        aborted = 0
        params = {"Bucket": self.bucket, "Prefix": self.key_prefix}
        while True:
            page = await self._call("list_multipart_uploads", **params)
            for upload in page.get("Uploads", []):
                if upload["Initiated"].timestamp() >= older_than:
                    continue  # may still be in progress in some process
                try:
                    await self._call("abort_multipart_upload", Bucket=self.bucket,
                                     Key=upload["Key"], UploadId=upload["UploadId"])
                except StorageUnavailable as exc:
                    if error_code(exc.__cause__) != "NoSuchUpload":  # another sweep won
                        raise
                log.info("%s: aborted the unfinished multipart upload of %r",
                         self.where, upload["Key"])
                aborted += 1
            if not page.get("IsTruncated"):
                return aborted
            params["KeyMarker"] = page.get("NextKeyMarker", "")
            params["UploadIdMarker"] = page.get("NextUploadIdMarker", "")

    # -- URLs ----------------------------------------------------------------------

    async def url(self, key: str, expires_in: int, *, public: bool = False) -> str | None:
        """A presigned GET, or the public base URL + key when public=True and one is set."""
        full = self._full_key(key)
        if public and self.settings.public_base_url:
            return f"{self.settings.public_base_url.rstrip('/')}/{quote(full, safe='/~')}"
        # Presigning is local HMAC work with static keys: no request, no need for a thread.
        return self._client_or_fail().generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": full}, ExpiresIn=int(expires_in))

    async def presign_upload(self, key: str, content_type: str, max_size: int,
                             expires_in: int) -> PresignedUpload:
        """A browser-style POST whose signed policy pins this key, this content type and
        1..max_size bytes: the storage itself refuses anything else."""
        full = self._full_key(key)
        if max_size < 1:
            raise ValueError("max_size must be at least 1 byte")
        post = self._client_or_fail().generate_presigned_post(
            self.bucket, full, Fields={"Content-Type": content_type},
            Conditions=[{"key": full}, {"Content-Type": content_type},
                        ["content-length-range", 1, int(max_size)]],
            ExpiresIn=int(expires_in))
        return PresignedUpload(url=post["url"], fields=dict(post["fields"]))

    def _client_or_fail(self) -> Any:
        if self._client is None:
            raise RuntimeError(f"{self.where} is not started")
        return self._client


class PendingBytes:
    """Chunks waiting to be sent. Kept as a list, not one growing buffer, so cutting a part
    copies each byte once: memory stays near one part plus the part being built."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.size = 0

    def add(self, chunk: bytes) -> None:
        if chunk:
            self.chunks.append(bytes(chunk))
            self.size += len(chunk)

    def take(self, count: int) -> bytes:
        """The first count bytes (count <= size), removed."""
        taken: list[bytes] = []
        need = count
        while need:
            chunk = self.chunks.pop(0)
            if len(chunk) > need:
                chunk, rest = chunk[:need], chunk[need:]
                self.chunks.insert(0, rest)
            taken.append(chunk)
            need -= len(chunk)
        self.size -= count
        return taken[0] if len(taken) == 1 else b"".join(taken)


class MultipartUpload:
    """One multipart upload in progress: begin, send parts in order, complete or abort."""

    def __init__(self, storage: S3Storage, full_key: str, content_type: str):
        self.storage = storage
        self.full_key = full_key
        self.content_type = content_type
        self.upload_id: str | None = None
        self.parts: list[dict[str, Any]] = []

    async def begin(self) -> None:
        answer = await self.storage._call("create_multipart_upload", Bucket=self.storage.bucket,
                                          Key=self.full_key, ContentType=self.content_type)
        self.upload_id = answer["UploadId"]

    async def send(self, data: bytes) -> None:
        number = len(self.parts) + 1
        if number > MAX_PARTS:
            raise ValueError(f"more than {MAX_PARTS} parts: raise part_size for objects this big")
        answer = await self.storage._call("upload_part", Bucket=self.storage.bucket,
                                          Key=self.full_key, UploadId=self.upload_id,
                                          PartNumber=number, Body=data)
        self.parts.append({"PartNumber": number, "ETag": answer["ETag"]})

    async def complete(self) -> None:
        await self.storage._call("complete_multipart_upload", Bucket=self.storage.bucket,
                                 Key=self.full_key, UploadId=self.upload_id,
                                 MultipartUpload={"Parts": self.parts})

    async def abort(self) -> None:
        """Drop the stored parts. Never raises: the caller is already failing; a leftover
        upload is logged (a bucket lifecycle rule for incomplete uploads cleans it up)."""
        if self.upload_id is None:
            return
        try:
            await self.storage._call("abort_multipart_upload", Bucket=self.storage.bucket,
                                     Key=self.full_key, UploadId=self.upload_id)
        except BaseException as exc:  # noqa: BLE001  (a cancel here must not hide the first error)
            log.warning("%s: could not abort the multipart upload of %r: %r",
                        self.storage.where, self.full_key, exc)


def make_client(settings: S3Settings, pool_size: int) -> Any:
    """A boto3 S3 client; built in a thread (it loads service models from disk)."""
    global SESSION
    import boto3
    from botocore.config import Config

    config = Config(
        signature_version="s3v4",
        s3={"addressing_style": settings.addressing_style},
        connect_timeout=settings.connect_timeout,
        read_timeout=settings.read_timeout,
        retries={"mode": "standard", "max_attempts": settings.max_attempts},
        max_pool_connections=pool_size,
        # Newer botocore adds CRC checksums by default; R2, Spaces and older MinIO or
        # SeaweedFS builds reject or mishandle them. Only send them when S3 requires it.
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )
    with SESSION_LOCK:  # a boto3 session is not thread-safe; sharing one shares its model cache
        if SESSION is None:
            SESSION = boto3.session.Session()
        return SESSION.client(
            "s3", endpoint_url=settings.endpoint_url, region_name=settings.region,
            aws_access_key_id=settings.access_key_id.get_secret_value(),
            aws_secret_access_key=settings.secret_access_key.get_secret_value(), config=config)


def as_storage_error(exc: Exception, where: str) -> Exception:
    """boto3's failures as the host sees them: StorageUnavailable (503) with the cause
    attached (callers look at `__cause__` for 404s); programming errors stay as they are."""
    from botocore.exceptions import BotoCoreError, ClientError, ParamValidationError, ValidationError

    if isinstance(exc, ClientError):
        code = error_code(exc) or "unknown"
        message = exc.response.get("Error", {}).get("Message") or ""
        return StorageUnavailable(f"{where} answered {code}{': ' + message if message else ''}")
    if isinstance(exc, (ParamValidationError, ValidationError)):
        return exc
    if isinstance(exc, BotoCoreError) or is_network_error(exc):
        return StorageUnavailable(f"{where} is unreachable: {exc}")
    return exc


def is_network_error(exc: Exception) -> bool:
    from urllib3.exceptions import HTTPError

    return isinstance(exc, (HTTPError, ConnectionError, TimeoutError))
