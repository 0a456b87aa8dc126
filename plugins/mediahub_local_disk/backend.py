"""LocalDiskStorage: objects as files under one root, written atomically, served by signed URLs."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import errno
import os
import stat as stat_module
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, AsyncIterator
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, ValidationError

from mediahub import (ConfigProblem, InvalidKey, ObjectStat, PresignedUpload, check_key,
                      guess_content_type, signed_media_url)
from mediahub_local_disk.open_files import OpenFiles
from mediahub_local_disk.upload_policy import upload_policy_signature, verify_upload_policy

__all__ = ["LocalDiskStorage", "LocalDiskSettings", "check_key", "verify_upload_policy"]

READ_CHUNK = 1024 * 1024
WRITE_BUFFER = 1024 * 1024
WRITE_PIECES = 256  # chunks per writev (the kernel takes at most IOV_MAX = 1024)
TEMP_PREFIX = ".mh-"  # temp files start with a dot, and keys never do: list() skips them
CONTENT_TYPE_XATTR = "user.mediahub.content_type"
HOST_OPTIONS = ("name", "data_dir", "secret_key")
CHECKED_DIRS_MAX = 10_000
ROOT_OWNER_XATTR = "user.mediahub.backend"  # names the backend that owns a root directory
NOWAIT_FLAG = getattr(os, "RWF_NOWAIT", 0)  # Linux >= 4.14
SYNC_FILE_RANGE_WRITE = 2  # <linux/fs.h>

class LocalDiskSettings(BaseModel):
    """`[storage.<name>]` keys of a local-disk backend."""

    model_config = ConfigDict(extra="forbid")
    # Where objects live; default <data_dir>/media.
    root: Path | None = None
    # An nginx `internal` location that maps to root (e.g. "/_mediahub_files/"): when set,
    # signed /media/ downloads are handed to nginx with X-Accel-Redirect. See docs/nginx.md.
    x_accel_redirect: str | None = None


class LocalDiskStorage:
    """Files under `root`. Every filesystem call that may wait for the disk runs in a
    worker thread; reads whose bytes are all in the page cache are done on the loop
    with RWF_NOWAIT (they cannot block), which is 3x cheaper than a thread hop."""

    inline_cached_reads = True

    def __init__(self, name: str, root: str | os.PathLike, secret_key: bytes,
                 x_accel_redirect: str | None = None):
        self.name = name
        self.root = os.path.abspath(root)
        self.secret_key = secret_key
        self.x_accel_redirect = x_accel_redirect
        self._real_root = os.path.realpath(self.root)
        self._checked_dirs: set[str] = set()
        self._read_paths: dict[str, str] = {}  # key -> its file, for keys read before
        self._open_files = OpenFiles()  # what /media/ requests opened in the last second

    @classmethod
    def from_settings(cls, options: dict[str, Any]) -> LocalDiskStorage:
        own = {k: v for k, v in options.items() if k not in HOST_OPTIONS}
        try:
            settings = LocalDiskSettings.model_validate(own)
        except ValidationError as exc:
            error = exc.errors()[0]
            key = ".".join(str(p) for p in error["loc"]) or "root"
            message = "unknown key" if error["type"] == "extra_forbidden" else error["msg"]
            raise ConfigProblem(key, message) from None
        secret = options.get("secret_key")
        if not secret:
            raise ConfigProblem("secret_key", "the host did not pass its secret key")
        if isinstance(secret, str):
            secret = secret.encode()
        root = settings.root or Path(options["data_dir"]) / "media"
        return cls(options["name"], root, secret, settings.x_accel_redirect)

    async def start(self) -> None:
        await asyncio.to_thread(self._claim_root)
        self._real_root = os.path.realpath(self.root)

    def _claim_root(self) -> None:
        """Mark root as this backend's (an xattr, so no file appears in it). Two backends
        sharing a directory would each see the other's files as orphans without a ledger
        row, and the sweep would delete them."""
        os.makedirs(self.root, exist_ok=True)
        owner = root_owner(self.root)
        if owner is None:
            with contextlib.suppress(OSError):  # a filesystem without user xattrs: no check
                os.setxattr(self.root, ROOT_OWNER_XATTR, self.name.encode(), os.XATTR_CREATE)
            owner = root_owner(self.root) or self.name
        if owner != self.name:
            raise ConfigProblem("root", f"{self.root} belongs to storage backend '{owner}'; "
                                        f"give each backend its own root")

    async def close(self) -> None:
        self._open_files.forget_all()

    # -- paths ---------------------------------------------------------------------

    def _path(self, key: str, *, for_reading: bool = False) -> str:
        """The file for key; must run off the loop (it resolves symlinks), except for a
        key read before (then it is a dict lookup)."""
        if for_reading:
            path = self._read_paths.get(key)
            if path is not None:
                return path
        check_key(key)
        path = os.path.join(self.root, key)
        directory = os.path.dirname(path)
        if not (for_reading and directory in self._checked_dirs):
            self._check_inside(directory)
            if for_reading:
                # realpath costs ~40 us per read; a directory seen inside once is remembered.
                if len(self._checked_dirs) >= CHECKED_DIRS_MAX:
                    self._checked_dirs.clear()
                self._checked_dirs.add(directory)
        if for_reading:
            # And so is a key read once (checked, joined: ~15 us per /media/ request), on the
            # same terms: its directory was seen inside the root.
            if len(self._read_paths) >= CHECKED_DIRS_MAX:
                self._read_paths.clear()
            self._read_paths[key] = path
        return path

    def _check_inside(self, directory: str) -> None:
        real = os.path.realpath(directory)
        if real != self._real_root and not real.startswith(self._real_root + os.sep):
            raise InvalidKey("key resolves outside the storage root")

    # -- writing -------------------------------------------------------------------

    async def put(self, key: str, chunks: AsyncIterator[bytes], content_type: str,
                  size: int | None = None) -> ObjectStat:
        check_key(key)
        opening = asyncio.get_running_loop().run_in_executor(None, self._open_temp, key, content_type)
        try:
            fd, temp_path, path = await asyncio.shield(opening)
        except asyncio.CancelledError:
            with contextlib.suppress(BaseException):
                fd, temp_path, _ = await opening
                os.close(fd)
                os.unlink(temp_path)
            raise
        writing: asyncio.Future | None = None  # the last MiB's write, while the next arrives
        try:
            written = 0
            pending: list[bytes] = []
            pending_size = 0
            async for chunk in chunks:
                # Kept until written: a mutable buffer could change before then.
                pending.append(chunk if type(chunk) is bytes else bytes(chunk))
                pending_size += len(chunk)
                if pending_size >= WRITE_BUFFER or len(pending) >= WRITE_PIECES:
                    # Few large writes: one thread hop per MiB, not per network chunk, with
                    # writev, not a joined copy; and one write in flight while the next MiB
                    # is received (writes stay in order: one at a time).
                    if writing is not None:
                        await asyncio.shield(writing)  # cancelled: the finally waits for it
                    writing = asyncio.get_running_loop().run_in_executor(
                        None, write_and_flush, fd, pending, written)
                    written += pending_size
                    pending, pending_size = [], 0
            if writing is not None:
                await asyncio.shield(writing)
            if pending:
                await finish_in_thread(write_all, fd, pending)
                written += pending_size
            if size is not None and written != size:
                raise ValueError(f"put {key!r}: expected {size} bytes, got {written}")
            await finish_in_thread(commit, fd, temp_path, path)
        except BaseException:
            # Synchronous on purpose: cleanup must happen even while being cancelled.
            with contextlib.suppress(OSError):
                os.unlink(temp_path)
            raise
        finally:
            await wait_for_thread(writing)
            os.close(fd)
            self._open_files.forget(key)  # a kept open file is of the version replaced
        return await self.stat(key)

    async def put_many(self, objects: list[tuple[str, bytes, str]]) -> None:
        """Store small objects, (key, data, content_type) each, in one worker-thread call:
        every one written and its writeback started, then each fsynced, renamed into place,
        and each directory fsynced once. Durable on return, like `put`: what names them
        (a playlist) can be stored next. Costs one thread hop for the lot instead of four per
        object, and the fsyncs after the first find their data on its way to disk already."""
        for key, _, _ in objects:
            check_key(key)
        try:
            await finish_in_thread(self._put_many, objects)
        finally:
            for key, _, _ in objects:
                self._open_files.forget(key)  # kept open files are of the versions replaced

    def _put_many(self, objects: list[tuple[str, bytes, str]]) -> None:
        opened: list[tuple[int, str, str]] = []
        try:
            for key, data, content_type in objects:
                opened.append(self._open_temp(key, content_type))
                write_all(opened[-1][0], data)
                start_writeback(opened[-1][0], 0, len(data))
            for fd, _, _ in opened:
                os.fsync(fd)
            for _, temp_path, path in opened:
                os.replace(temp_path, path)
            for directory in dict.fromkeys(os.path.dirname(path) for _, _, path in opened):
                fsync_dir(directory)
        except BaseException:
            for _, temp_path, _ in opened:
                with contextlib.suppress(OSError):
                    os.unlink(temp_path)  # gone already for those renamed into place
            raise
        finally:
            for fd, _, _ in opened:
                os.close(fd)

    def _open_temp(self, key: str, content_type: str) -> tuple[int, str, str]:
        path = self._path(key)
        directory = os.path.dirname(path)
        for _ in range(5):  # a concurrent delete may remove an empty parent under us
            created = make_dirs(directory, self.root)
            self._check_inside(directory)
            try:
                fd, temp_path = tempfile.mkstemp(prefix=TEMP_PREFIX, suffix=".part", dir=directory)
            except FileNotFoundError:
                continue
            for new_dir in created:
                fsync_dir(os.path.dirname(new_dir))
            break
        else:
            raise OSError(errno.ENOENT, "could not create the object's directory", directory)
        os.fchmod(fd, 0o644)  # readable by a fronting nginx (X-Accel-Redirect)
        with contextlib.suppress(OSError):
            os.setxattr(fd, CONTENT_TYPE_XATTR, content_type.encode()[:255])
        return fd, temp_path, path

    # -- reading -------------------------------------------------------------------

    async def stat(self, key: str) -> ObjectStat | None:
        return await asyncio.to_thread(self._stat, key)

    def _stat(self, key: str, path: str | None = None) -> ObjectStat | None:
        path = path or self._path(key, for_reading=True)
        try:
            info = os.stat(path, follow_symlinks=False)
        except (FileNotFoundError, NotADirectoryError):
            return None
        if not stat_module.S_ISREG(info.st_mode):
            return None
        return ObjectStat(key=key, size=info.st_size, etag=f"{info.st_size:x}-{info.st_mtime_ns:x}",
                          last_modified=info.st_mtime, content_type=read_content_type(path, key))

    async def stat_and_read(self, key: str, choose, limit: int):
        """One thread hop for a small response: stat, `choose(stat)` -> (start, end) or
        None, and read that span if it is at most `limit` bytes.

        Returns (stat or None, span, bytes or None); bytes is None when nothing was read
        (no object, nothing to send, or a span too large: stream it with open_range).
        An optional fast path that the /media/ gateway uses when a backend has it.
        """
        if self.inline_cached_reads and limit <= READ_CHUNK:
            # A thread hop costs more than the read itself when the bytes are in the page
            # cache (GIL hand-offs: measured 300 us vs 90 us per 64 KiB range). RWF_NOWAIT
            # reads them on the loop only if no disk I/O is needed; else a thread does it.
            try:
                return self._stat_and_read(key, choose, limit, only_cached=True)
            except WouldBlock:
                pass
        return await finish_in_thread(self._stat_and_read, key, choose, limit)

    def _stat_and_read(self, key: str, choose, limit: int, only_cached: bool = False):
        path = self._path(key, for_reading=True)
        info = self._stat(key, path)
        if info is None:
            return None, None, None
        span = choose(info)
        if span is None or span[1] - span[0] + 1 > limit:
            return info, span, None
        start, end = span
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        try:
            if only_cached:
                data = read_cached(fd, end - start + 1, start)
            else:
                data = os.pread(fd, end - start + 1, start)
        finally:
            os.close(fd)
        return info, span, data

    async def stat_and_open(self, key: str, choose, limit: int):
        """At most one open per request, for the /media/ gateway (none for a file kept open,
        open_files.py): (stat or None, span, fd or None,
        bytes or None), with span = `choose(stat)` -> (start, end) or None.

        fd (the caller closes it): every byte of the span is in the page cache (checked with
        cachestat, one syscall), so it can be sent with sendfile on the event loop, zero-copy.
        bytes: a span of at most `limit` bytes not all cached, read in a worker thread (or
        with RWF_NOWAIT on the loop where cachestat is missing). Neither: no object, nothing
        to send, or a large uncached span (stream it with open_range, which uses threads).
        """
        stat, span, fd = self._open_for_span(key, choose)
        if fd is None:
            return stat, span, None, None
        start, end = span
        try:
            # Even 64 KiB ranges: sendfile measured 0.73x the bare app against 0.65x for
            # reading them (bench/stream.py, docs/performance.md).
            if all_cached(fd, start, end - start + 1):
                fd, handed_over = -1, fd
                return stat, span, handed_over, None
            if end - start + 1 > limit:
                return stat, span, None, None
            if self.inline_cached_reads:
                try:
                    return stat, span, None, read_cached(fd, end - start + 1, start)
                except WouldBlock:
                    pass
            return stat, span, None, await finish_in_thread(os.pread, fd, end - start + 1, start)
        finally:
            if fd >= 0:
                os.close(fd)

    def _open_for_span(self, key: str, choose):
        """On the loop: open the object, fstat it, `choose` the span. (stat, span, fd),
        fd open only when there is a span to send. A file opened in the last second is
        served as it was then (open_files.py): no open, fstat or xattr read."""
        kept = self._open_files.get(key)
        if kept is not None:
            fd, stat = kept
            return self._span_of(stat, fd, choose)
        path = self._path(key, for_reading=True)
        try:
            # Non-blocking open: a FIFO planted under the root must not hang the loop.
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
        except (FileNotFoundError, NotADirectoryError):
            return None, None, None
        except OSError as exc:
            if exc.errno == errno.ELOOP:  # a symlink: not an object
                return None, None, None
            raise
        try:
            # fstat of the open file: the stat and the bytes sent are of the same inode.
            info = os.fstat(fd)
            if not stat_module.S_ISREG(info.st_mode):
                os.close(fd)
                return None, None, None
            stat = ObjectStat(key=key, size=info.st_size,
                              etag=f"{info.st_size:x}-{info.st_mtime_ns:x}",
                              last_modified=info.st_mtime,
                              content_type=read_content_type(fd, key))
            self._open_files.keep(key, fd, stat)
        except BaseException:
            os.close(fd)
            raise
        return self._span_of(stat, fd, choose)

    @staticmethod
    def _span_of(stat: ObjectStat, fd: int, choose):
        try:
            span = choose(stat)
        except BaseException:
            os.close(fd)
            raise
        if span is None:
            os.close(fd)
            return stat, None, None
        return stat, span, fd

    async def open_range(self, key: str, start: int, end: int) -> AsyncIterator[bytes]:
        if start < 0 or end < start:
            raise ValueError(f"bad range {start}-{end}")
        # The first hop opens and reads; a small range is done in that one hop.
        fd, chunk = await finish_in_thread(self._open_and_read, key, start, end)
        try:
            position = start + len(chunk)
            if chunk:
                yield chunk
            while position <= end and chunk:
                want = min(READ_CHUNK, end - position + 1)
                chunk = await self._read_chunk(fd, want, position)
                if not chunk:
                    break  # the file shrank: stop rather than spin
                position += len(chunk)
                yield chunk
        finally:
            os.close(fd)

    async def _read_chunk(self, fd: int, size: int, offset: int) -> bytes:
        if self.inline_cached_reads:
            try:
                chunk = read_cached(fd, size, offset)
            except WouldBlock:
                pass
            else:
                # Let other tasks run between chunks, as a thread hop would: a consumer
                # whose sends never block (a dead client) must still see its disconnect.
                await asyncio.sleep(0)
                return chunk
        return await finish_in_thread(os.pread, fd, size, offset)

    def _open_and_read(self, key: str, start: int, end: int) -> tuple[int, bytes]:
        path = self._path(key, for_reading=True)
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        try:
            return fd, os.pread(fd, min(READ_CHUNK, end - start + 1), start)
        except BaseException:
            os.close(fd)
            raise

    async def list(self, prefix: str = "") -> AsyncIterator[ObjectStat]:
        check_key(prefix, prefix=True)
        base = prefix.rpartition("/")[0]
        pending = [base]
        while pending:
            relative = pending.pop()
            entries = await asyncio.to_thread(self._scan, relative)
            for key, is_dir, info in entries:
                if is_dir:
                    if (key + "/").startswith(prefix) or prefix.startswith(key + "/"):
                        pending.append(key)
                elif key.startswith(prefix):
                    yield info

    def _scan(self, relative: str) -> list[tuple[str, bool, ObjectStat | None]]:
        directory = os.path.join(self.root, relative) if relative else self.root
        try:
            self._check_inside(directory)
            scanner = os.scandir(directory)
        except (FileNotFoundError, NotADirectoryError, InvalidKey):
            return []
        found = []
        with scanner:
            for entry in scanner:
                if entry.name.startswith("."):
                    continue  # temp files of writes in progress (and anything hidden)
                key = f"{relative}/{entry.name}" if relative else entry.name
                if entry.is_dir(follow_symlinks=False):
                    if root_owner(entry.path) is None:
                        found.append((key, True, None))  # else another backend's root
                elif entry.is_file(follow_symlinks=False):
                    info = entry.stat(follow_symlinks=False)
                    found.append((key, False, ObjectStat(
                        key=key, size=info.st_size, etag=f"{info.st_size:x}-{info.st_mtime_ns:x}",
                        last_modified=info.st_mtime, content_type=guess_content_type(key))))
        return found

    # -- deleting ------------------------------------------------------------------

    async def delete(self, key: str) -> None:
        try:
            await asyncio.to_thread(self._delete, key)
        finally:
            self._open_files.forget(key)

    def _delete(self, key: str) -> None:
        path = self._path(key)
        try:
            os.unlink(path)
        except (FileNotFoundError, NotADirectoryError):
            return
        self._prune_empty_dirs(os.path.dirname(path))

    def _prune_empty_dirs(self, directory: str) -> None:
        while os.path.abspath(directory) != self.root:
            try:
                os.rmdir(directory)
            except OSError:
                return  # not empty (or already gone): stop climbing
            directory = os.path.dirname(directory)

    async def delete_prefix(self, prefix: str) -> int:
        check_key(prefix, prefix=True)
        keys = [info.key async for info in self.list(prefix)]
        for key in keys:
            await self.delete(key)
        return len(keys)

    async def sweep_temp_files(self, older_than: float) -> int:
        """Remove temp files of writes that died (a crash) before `older_than` (unix time)."""
        return await asyncio.to_thread(self._sweep_temp_files, older_than)

    def _sweep_temp_files(self, older_than: float) -> int:
        removed = 0
        for directory, _, names in os.walk(self.root):
            for name in names:
                if not name.startswith(TEMP_PREFIX):
                    continue
                path = os.path.join(directory, name)
                with contextlib.suppress(OSError):
                    if os.stat(path, follow_symlinks=False).st_mtime < older_than:
                        os.unlink(path)
                        removed += 1
        return removed

    # -- URLs ----------------------------------------------------------------------

    async def url(self, key: str, expires_in: int) -> str | None:
        check_key(key)
        return signed_media_url(self.secret_key, self.name, key, int(time.time()) + int(expires_in))

    async def presign_upload(self, key: str, content_type: str, max_size: int,
                             expires_in: int) -> PresignedUpload:
        """A signed policy (like an S3 presigned POST) for `POST /media/upload/<backend>`."""
        check_key(key)
        fields = {"backend": self.name, "key": key, "content_type": content_type,
                  "max_size": str(int(max_size)), "exp": str(int(time.time()) + int(expires_in))}
        fields["sig"] = upload_policy_signature(self.secret_key, fields)
        return PresignedUpload(url=f"/media/upload/{quote(self.name, safe='')}", fields=fields)

    def verify_upload_policy(self, fields: dict[str, str]) -> tuple[str, str, int]:
        return verify_upload_policy(self.secret_key, fields, backend=self.name)

    def accel_redirect(self, key: str) -> str | None:
        """The nginx internal URI for key when X-Accel-Redirect hand-off is configured."""
        if not self.x_accel_redirect:
            return None
        return f"{self.x_accel_redirect.rstrip('/')}/{quote(key, safe='/')}"


async def finish_in_thread(function, *args):
    """Run function in a worker thread; if cancelled, still wait for it before returning.

    The caller closes the file descriptor afterwards: closing it while a thread still
    reads or writes it could hit another file that reused the number.
    """
    future = asyncio.get_running_loop().run_in_executor(None, function, *args)
    try:
        return await asyncio.shield(future)
    except asyncio.CancelledError:
        with contextlib.suppress(BaseException):
            await future
        raise


async def wait_for_thread(future: asyncio.Future | None) -> None:
    """Wait until a worker thread's call has ended, even through cancellations (they are
    re-raised after): its file descriptor may be closed only then."""
    cancelled = False
    while future is not None and not future.done():
        try:
            await asyncio.wait({future})
        except asyncio.CancelledError:
            cancelled = True
    if cancelled:
        raise asyncio.CancelledError()


_scratch = threading.local()


class WouldBlock(Exception):
    """The bytes are not all in the page cache: read them in a worker thread instead."""


def read_cached(fd: int, size: int, offset: int) -> bytes:
    """pread that never waits for the disk: WouldBlock unless every byte is cached."""
    if not NOWAIT_FLAG:
        raise WouldBlock()
    # One scratch buffer per thread, copied out at once: a fresh 1 MiB buffer per read
    # costs more in page faults than the copy itself.
    scratch = getattr(_scratch, "buffer", None)
    if scratch is None or len(scratch) < size:
        scratch = _scratch.buffer = bytearray(max(size, READ_CHUNK))
    view = memoryview(scratch)[:size]
    try:
        count = os.preadv(fd, [view], offset, NOWAIT_FLAG)
    except OSError as exc:  # EAGAIN: not cached; EOPNOTSUPP: this filesystem cannot say
        raise WouldBlock() from exc
    if count != size:
        raise WouldBlock()  # partly cached (or the file shrank): let a thread sort it out
    return view.tobytes()


class _CacheRange(ctypes.Structure):
    _fields_ = [("off", ctypes.c_uint64), ("len", ctypes.c_uint64)]


class _CacheStat(ctypes.Structure):
    _fields_ = [(name, ctypes.c_uint64) for name in
                ("nr_cache", "nr_dirty", "nr_writeback", "nr_evicted", "nr_recently_evicted")]


CACHESTAT_SYSCALL = 451  # Linux >= 6.5, the same number on every architecture
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
_syscall = None  # libc's syscall(), once cachestat has been seen to work; False: it does not


def all_cached(fd: int, offset: int, length: int) -> bool:
    """Whether every page of the span is in the page cache (Linux cachestat(2)); False
    when that cannot be known (older kernels, other systems). One syscall, no copy."""
    global _syscall
    if _syscall is False:
        return False
    if _syscall is None:
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            _syscall = libc.syscall
            _syscall.restype = ctypes.c_long
        except (OSError, AttributeError):
            _syscall = False
            return False
    # The argument structs are made once per thread: per call they cost more than the syscall.
    args = getattr(_scratch, "cachestat", None)
    if args is None:
        span, counts = _CacheRange(), _CacheStat()
        args = _scratch.cachestat = (span, counts, ctypes.byref(span), ctypes.byref(counts))
    span, counts, span_ref, counts_ref = args
    span.off, span.len = offset, length
    if _syscall(CACHESTAT_SYSCALL, fd, span_ref, counts_ref, 0) != 0:
        if ctypes.get_errno() in (errno.ENOSYS, errno.EPERM, errno.EOPNOTSUPP):
            _syscall = False  # no cachestat here (or a seccomp filter refuses it)
        return False
    pages = (offset + length - 1) // PAGE_SIZE - offset // PAGE_SIZE + 1
    return counts.nr_cache >= pages


def write_all(fd: int, data: bytes | bytearray | list[bytes]) -> None:
    """Write bytes, or a list of them with writev (no joining copy), to the end."""
    views = [memoryview(piece) for piece in (data if isinstance(data, list) else [data]) if piece]
    while views:
        written = os.writev(fd, views)
        while views and written >= len(views[0]):
            written -= len(views[0])
            views.pop(0)
        if written:
            views[0] = views[0][written:]


def write_and_flush(fd: int, pieces: list[bytes], offset: int) -> None:
    """Write the next pieces of an object (at `offset`) and start writing them to disk.

    Without that start, a large upload's every byte is still dirty when `commit` fsyncs:
    measured 0.14-0.27 s per 256 MiB waited there (and writers throttled by the kernel's
    dirty limits), against 0.01-0.03 s when each MiB's writeback was started as it came;
    the pages stay cached for the reads that follow.
    """
    write_all(fd, pieces)
    start_writeback(fd, offset, sum(len(piece) for piece in pieces))


_sync_file_range = None  # libc's, once looked up; False where there is none


def start_writeback(fd: int, offset: int, length: int) -> None:
    """sync_file_range(SYNC_FILE_RANGE_WRITE): ask the kernel to start writing the span to
    disk without waiting for it (Linux); nothing where that is missing. The fsync in
    `commit` is still what makes the object durable."""
    global _sync_file_range
    if _sync_file_range is None:
        try:
            function = ctypes.CDLL(None, use_errno=True).sync_file_range
            function.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
            function.restype = ctypes.c_int
            _sync_file_range = function
        except (OSError, AttributeError):
            _sync_file_range = False
    if _sync_file_range and length:
        _sync_file_range(fd, offset, length, SYNC_FILE_RANGE_WRITE)


def commit(fd: int, temp_path: str, path: str) -> None:
    """Make the temp file the object: data on disk, then the rename, then the rename on disk."""
    os.fsync(fd)
    os.replace(temp_path, path)
    fsync_dir(os.path.dirname(path))


def fsync_dir(directory: str) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def make_dirs(directory: str, root: str) -> list[str]:
    """os.makedirs that returns the directories it created (their parents need an fsync)."""
    missing = []
    current = directory
    while not os.path.isdir(current) and os.path.abspath(current) != root:
        missing.append(current)
        current = os.path.dirname(current)
    for new_dir in reversed(missing):
        with contextlib.suppress(FileExistsError):
            os.mkdir(new_dir)
    return list(reversed(missing))


def root_owner(directory: str) -> str | None:
    try:
        return os.getxattr(directory, ROOT_OWNER_XATTR, follow_symlinks=False).decode()
    except (OSError, UnicodeDecodeError):
        return None


def read_content_type(path: str | int, key: str) -> str:
    """The type stored with the object (an xattr) of a path or an open file, else guessed."""
    try:
        if isinstance(path, int):
            value = os.getxattr(path, CONTENT_TYPE_XATTR)
        else:
            value = os.getxattr(path, CONTENT_TYPE_XATTR, follow_symlinks=False)
        return value.decode()
    except (OSError, UnicodeDecodeError):
        return guess_content_type(key)
