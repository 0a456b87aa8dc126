"""Benchmark: an upload through mediahub's ingest path against a bare Hypercorn app and nginx.

    .venv/bin/python bench/upload.py [--size-mib 512] [--runs 3] [--dir /some/fs] [--form]
                                     [--parallel N] [--processes K]

Installs nginx with apt-get if it is missing. Starts nginx (its own config, a free loopback
port, WebDAV `PUT` into a file) and `mediahub serve` (a temp data dir, `[plugins] dirs` =
bench/plugins, whose route streams the raw body through `mediahub.uploads.ingest` to
local-disk), streams the same body to each (a valid WAV header, then data, generated on the
fly) and prints both throughputs, the ratio (plus a bare ASGI app under Hypercorn, which
reads and drops the body: the ceiling of the server stack), and mediahub's peak RSS and its growth over the
uploads (VmHWM). Each run uploads to every server in turn (interleaved); the best run of each
counts and the spread of the per-run ratios is printed, with the machine's cores and load.
With `--parallel N` each run sends N uploads at once to every server (the throughput is
their bytes over the time until the last ends); with `--processes K` mediahub is K
`mediahub serve --reuse-port` processes on one port and one data dir (the kernel spreads
the connections), against one bare Hypercorn process: what a machine gets past one process.
With `--form` mediahub gets the body as a browser sends it, the file part of a
multipart/form-data form (`ingest_multipart`); the references get the raw body as before.
Targets: >= 0.8x the bare Hypercorn app, RSS growth < 10 MiB per upload at once (each holds
its own few MiB of buffers, whatever its size; exit status 1 if missed); the
ratio to nginx is printed for reference. Not a test: numbers vary with the machine and load.

Both servers write to the same filesystem (`--dir`, default a temp dir). mediahub also
hashes (sha256) every byte, sniffs the type, writes ledger rows and fsyncs the object
before answering; nginx does none of that. Each server's CPU seconds per GiB are printed
too: on a loaded machine they say more than the throughputs.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import (free_port, machine_line, nginx_binary, process_cpu_seconds,  # noqa: E402
                     spread, stop_processes, verdict, wait_for_port)

MiB = 1024 * 1024
SEND_CHUNK = 1 * MiB
TARGET_RATIO = 0.8  # of the bare Hypercorn app's receive loop
TARGET_GROWTH_MIB = 10
PLUGIN_DIR = Path(__file__).resolve().parent / "plugins"








def nginx_config(work: Path, port: int) -> Path:
    config = work / "nginx.conf"
    config.write_text(textwrap.dedent(f"""
        worker_processes 1;
        daemon off;
        pid {work}/nginx.pid;
        error_log {work}/nginx-error.log warn;
        events {{ worker_connections 1024; }}
        http {{
            access_log off;
            client_body_temp_path {work}/nginx-body;
            proxy_temp_path {work}/nginx-proxy;
            fastcgi_temp_path {work}/nginx-fastcgi;
            uwsgi_temp_path {work}/nginx-uwsgi;
            scgi_temp_path {work}/nginx-scgi;
            server {{
                listen 127.0.0.1:{port};
                client_max_body_size 0;
                client_body_buffer_size 1m;
                location /upload/ {{
                    root {work}/nginx-root;
                    dav_methods PUT;
                    create_full_put_path on;
                }}
            }}
        }}
    """))
    return config


# The ceiling of the server stack: a bare ASGI app under Hypercorn that reads and drops the body.
RAW_ASGI_APP = """
async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    size = 0
    while True:
        message = await receive()
        size += len(message.get("body", b""))
        if not message.get("more_body"):
            break
    await send({"type": "http.response.start", "status": 201, "headers": []})
    await send({"type": "http.response.body", "body": str(size).encode()})
"""


def wav_header(data_size: int) -> bytes:
    """44.1 kHz mono 16-bit PCM: what the sniffer sees first."""
    fmt = (b"\x01\x00\x01\x00" + (44100).to_bytes(4, "little") + (88200).to_bytes(4, "little")
           + b"\x02\x00\x10\x00")
    riff_size = min(36 + data_size, 0xFFFFFFFF)
    return (b"RIFF" + riff_size.to_bytes(4, "little") + b"WAVE" + b"fmt " + (16).to_bytes(4, "little")
            + fmt + b"data" + min(data_size, 0xFFFFFFFF).to_bytes(4, "little"))


FORM_BOUNDARY = "mediahub-bench-7MA4YWxkTrZu0gW"


def put(port: int, path: str, total: int, form: bool = False) -> tuple[float, int, bytes]:
    """PUT `total` bytes (WAV header + data), or POST them as a form's file part;
    (seconds, status, response body)."""
    header = wav_header(total - 44)
    block = os.urandom(SEND_CHUNK)
    opening = closing = b""
    method, content_type = "PUT", "audio/wav"
    if form:
        method, content_type = "POST", f"multipart/form-data; boundary={FORM_BOUNDARY}"
        opening = (f"--{FORM_BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; "
                   f"filename=\"bench.wav\"\r\nContent-Type: audio/wav\r\n\r\n").encode()
        closing = f"\r\n--{FORM_BOUNDARY}--\r\n".encode()
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        request = (f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: {content_type}\r\n"
                   f"Content-Length: {len(opening) + total + len(closing)}\r\nConnection: close\r\n\r\n").encode()
        started = time.perf_counter()
        sock.sendall(request + opening + header)
        remaining = total - len(header)
        view = memoryview(block)
        while remaining:
            piece = view if remaining >= SEND_CHUNK else view[:remaining]
            sock.sendall(piece)
            remaining -= len(piece)
        sock.sendall(closing)
        response = b""
        while chunk := sock.recv(65536):
            response += chunk
        elapsed = time.perf_counter() - started
    status = int(response.split(b" ", 2)[1]) if response.startswith(b"HTTP/") else 0
    return elapsed, status, response.partition(b"\r\n\r\n")[2]


def put_many(port: int, path: str, total: int, count: int, form: bool = False
             ) -> tuple[float, list[tuple[float, int, bytes]]]:
    """`count` uploads at once (threads: sendall releases the GIL); (seconds until the last
    answered, each one's result)."""
    if count == 1:
        result = put(port, path, total, form)
        return result[0], [result]
    started = time.perf_counter()
    with ThreadPoolExecutor(count) as pool:
        results = list(pool.map(lambda _: put(port, path, total, form), range(count)))
    return time.perf_counter() - started, results


def listening(pid: int, port: int) -> bool:
    """Whether the process holds a socket listening on the loopback port (/proc/net/tcp)."""
    inodes = {fields[9] for fields in (line.split() for line in
                                       Path("/proc/net/tcp").read_text().splitlines()[1:])
              if fields[3] == "0A" and fields[1].endswith(f":{port:04X}")}
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            if os.readlink(fd).removeprefix("socket:[").rstrip("]") in inodes:
                return True
        except OSError:
            continue
    return False


def wait_listening(process: subprocess.Popen, port: int, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not listening(process.pid, port):
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"mediahub serve (pid {process.pid}) did not start listening")
        time.sleep(0.1)


def peak_rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise RuntimeError("no VmHWM in /proc status")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=512, help="body size (default 512 MiB)")
    parser.add_argument("--runs", type=int, default=3, help="uploads to each server; best counts")
    parser.add_argument("--dir", default=None, help="where both servers write (default: a temp dir)")
    parser.add_argument("--form", action="store_true",
                        help="send mediahub the body as a multipart/form-data file part")
    parser.add_argument("--parallel", type=int, default=1, help="uploads at once per run (default 1)")
    parser.add_argument("--processes", type=int, default=1,
                        help="mediahub serve --reuse-port processes on one port (default 1)")
    args = parser.parse_args()
    nginx = nginx_binary()
    total = args.size_mib * MiB
    route = "/bench/upload-form" if args.form else "/bench/upload"

    with tempfile.TemporaryDirectory(prefix="mediahub-upload-bench-", dir=args.dir) as tmp:
        work = Path(tmp)
        for name in ("nginx-root/upload", "nginx-body", "data"):
            (work / name).mkdir(parents=True)
        for path in [work, *work.rglob("*")]:
            path.chmod(0o777)  # nginx workers run as an unprivileged user
        nginx_port, mediahub_port, raw_port = free_port(), free_port(), free_port()
        (work / "raw_asgi.py").write_text(RAW_ASGI_APP)
        config_file = work / "mediahub.toml"
        config_file.write_text(textwrap.dedent(f"""
            [server]
            data_dir = "{work / 'data'}"
            log_level = "warning"
            max_upload_bytes = {total + MiB}
            [plugins]
            dirs = ["{PLUGIN_DIR}"]
        """))
        processes = []
        try:
            processes.append(subprocess.Popen(
                [nginx, "-c", str(nginx_config(work, nginx_port)), "-p", str(work)],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            mediahub_cli = Path(sys.executable).with_name("mediahub")
            reuse = ["--reuse-port"] if args.processes > 1 else []
            mediahub_processes = []
            for number in range(args.processes):  # one by one: the first applies the migrations
                mediahub_processes.append(subprocess.Popen(
                    [str(mediahub_cli), "-c", str(config_file), "serve", "--host", "127.0.0.1",
                     "--port", str(mediahub_port), *reuse],
                    stdout=subprocess.DEVNULL, stderr=open(work / f"mediahub{number}.log", "w")))
                processes.append(mediahub_processes[-1])
                wait_listening(mediahub_processes[-1], mediahub_port)
            processes.append(subprocess.Popen(
                [str(Path(sys.executable).with_name("hypercorn")), "--bind", f"127.0.0.1:{raw_port}",
                 "raw_asgi:app"], cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            raw_process = processes[-1]
            wait_for_port(nginx_port, processes[0])
            wait_for_port(raw_port, raw_process)
            mediahub_pids = [process.pid for process in mediahub_processes]

            # Warm-up: imports, database, thread pool, the first ledger rows (of each process).
            for _ in range(2 * args.processes):
                _, status, body = put(mediahub_port, route, 4 * MiB, args.form)
                if status != 201:
                    raise RuntimeError(f"mediahub warm-up upload answered {status}: {body[:300]!r}")
            put(nginx_port, "/upload/warmup.wav", 4 * MiB)
            rss_before = [peak_rss_kib(pid) for pid in mediahub_pids]
            count = args.parallel
            sent = count * total

            best = {"nginx": float("inf"), "mediahub": float("inf"), "raw": float("inf")}
            to_bare: list[float] = []
            cpu: dict[str, list[float]] = {"raw": [], "mediahub": []}
            print(machine_line())
            print(f"body: {args.size_mib} MiB (WAV header + data{', as a form file part to mediahub' if args.form else ''}), "
                  f"{args.runs} run(s) each, "
                  f"written under {work}")
            if count > 1 or args.processes > 1:
                print(f"{count} upload(s) at once per run; mediahub: {args.processes} process(es) "
                      f"on one port, the bare app: one process")
            for run in range(args.runs):
                seconds, results = put_many(nginx_port, f"/upload/run{run}.wav", total, count)
                if any(status not in (201, 204) for _, status, _ in results):
                    raise RuntimeError(f"nginx answered {[status for _, status, _ in results]}")
                (work / "nginx-root" / "upload" / f"run{run}.wav").unlink()
                best["nginx"] = min(best["nginx"], seconds)
                print(f"  nginx     run {run + 1}: {sent / seconds / 1e6:8.0f} MB/s", flush=True)
                cpu_before = process_cpu_seconds(raw_process.pid)
                seconds, results = put_many(raw_port, "/", total, count)
                cpu["raw"].append(process_cpu_seconds(raw_process.pid) - cpu_before)
                if any(status != 201 for _, status, _ in results):
                    raise RuntimeError("the bare ASGI app answered "
                                       f"{[status for _, status, _ in results]}")
                best["raw"] = min(best["raw"], seconds)
                raw_seconds = seconds
                print(f"  bare ASGI run {run + 1}: {sent / seconds / 1e6:8.0f} MB/s, "
                      f"{cpu['raw'][-1]:.2f} s CPU", flush=True)
                cpu_before = sum(process_cpu_seconds(pid) for pid in mediahub_pids)
                seconds, results = put_many(mediahub_port, route, total, count, args.form)
                cpu["mediahub"].append(sum(process_cpu_seconds(pid) for pid in mediahub_pids)
                                       - cpu_before)
                for _, status, body in results:
                    if status != 201:
                        raise RuntimeError(f"mediahub answered {status}: {body[:300]!r}")
                    stored = json.loads(body)
                    if stored["size"] != total:
                        raise RuntimeError(f"mediahub stored {stored['size']} bytes, not {total}")
                    (work / "data" / "media" / stored["key"]).unlink()  # keep the disk free
                best["mediahub"] = min(best["mediahub"], seconds)
                to_bare.append(raw_seconds / seconds)
                print(f"  mediahub  run {run + 1}: {sent / seconds / 1e6:8.0f} MB/s, "
                      f"{cpu['mediahub'][-1]:.2f} s CPU ({raw_seconds / seconds:.2f}x the bare app's run)",
                      flush=True)

            rss_after = [peak_rss_kib(pid) for pid in mediahub_pids]
            nginx_rate = sent / best["nginx"] / 1e6
            mediahub_rate = sent / best["mediahub"] / 1e6
            ratio = mediahub_rate / nginx_rate
            growth = max(after - before for before, after in zip(rss_before, rss_after)) / 1024
            raw_rate = sent / best["raw"] / 1e6
            to_raw = mediahub_rate / raw_rate
            print(f"nginx     {nginx_rate:8.0f} MB/s")
            print(f"bare ASGI {raw_rate:8.0f} MB/s   ({raw_rate / nginx_rate:.2f}x nginx: the ceiling "
                  f"of Hypercorn itself)")
            print(f"mediahub  {mediahub_rate:8.0f} MB/s   {to_raw:.2f}x the bare app "
                  f"(per-run spread {spread(to_bare)}; target >= {TARGET_RATIO}x: "
                  f"{'yes' if to_raw >= TARGET_RATIO else 'NO'}), {ratio:.2f}x nginx")
            # CPU per GiB (median run): what each server's own work costs, less moved by the
            # machine's load than the throughputs. mediahub's includes sha256 and the writes.
            per_gib = {name: sorted(values)[len(values) // 2] * (1 << 30) / sent
                       for name, values in cpu.items()}
            print(f"CPU per GiB received (median run): bare ASGI {per_gib['raw']:.2f} s, mediahub "
                  f"{per_gib['mediahub']:.2f} s ({per_gib['raw'] / per_gib['mediahub']:.2f}x)")
            # Each upload in flight holds its own buffers (a few MiB, whatever its size).
            growth_limit = TARGET_GROWTH_MIB * count
            print(f"mediahub peak RSS {max(rss_after) / 1024:.1f} MiB (the largest process), growth over the uploads "
                  f"{growth:.1f} MiB (target < {growth_limit} MiB, {TARGET_GROWTH_MIB} per upload at once: "
                  f"{'yes' if growth < growth_limit else 'NO'})")
            checks = [("upload / bare", to_raw >= TARGET_RATIO), ("RSS", growth < growth_limit)]
            print(verdict(checks))
            return 0 if all(met for _, met in checks) else 1
        finally:
            stop_processes(processes)


if __name__ == "__main__":
    sys.exit(main())
