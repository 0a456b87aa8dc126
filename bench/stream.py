"""Benchmark: mediahub's /media/ download path against nginx (sendfile) on the same 64 MiB file.

    .venv/bin/python bench/stream.py [--seconds 5] [--repeat 2] [--nginx-workers 1]

Installs nginx and wrk with apt-get if they are missing. Starts nginx (its own config,
a free loopback port, sendfile on) and `mediahub serve` (a temp data dir; the file is put
through the local-disk backend and fetched by its signed /media/ URL), drives both with
wrk, and prints each throughput and the ratio to nginx. Also measured, for reference: a
bare ASGI app under Hypercorn serving the bytes from memory (the server's own ceiling).
Not a test: numbers vary by machine and by whatever else it is running.

`mediahub serve` is one process, so nginx runs one worker by default (per-process
comparison); pass --nginx-workers 0 for nginx's `auto`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import stop_processes, ensure_debian_tools, free_port, wait_for_port  # noqa: E402

MiB = 1024 * 1024
FILE_SIZE = 64 * MiB
KEY = "bench/big.bin"

# (label, range size or None for the whole file, connections, target ratio)
SCENARIOS = [
    ("1 MiB ranges, 32 conns", MiB, 32, 0.5),
    ("whole file, 8 conns", None, 8, 0.8),
    ("64 KiB ranges, 64 conns", 64 * 1024, 64, 0.3),
]

RANGE_SCRIPT = """
local size = tonumber(os.getenv("BENCH_SIZE"))
local chunk = tonumber(os.getenv("BENCH_CHUNK"))
local path = os.getenv("BENCH_PATH")
local slots = math.floor(size / chunk)
math.randomseed(os.time())
request = function()
  local first = math.random(0, slots - 1) * chunk
  return wrk.format("GET", path, {["Range"] = "bytes=" .. first .. "-" .. (first + chunk - 1)})
end
"""

WHOLE_SCRIPT = """
local path = os.getenv("BENCH_PATH")
request = function() return wrk.format("GET", path) end
"""


# The ceiling: the least an ASGI app under Hypercorn can do (bytes from memory, no checks).
# mediahub cannot beat it, so it tells how much of a gap is mediahub's and how much the server's.
CEILING_APP = """
import asyncio, sys
from hypercorn.asyncio import serve
from hypercorn.config import Config
data = open(sys.argv[1], "rb").read()

async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            await send({"type": message["type"] + ".complete"})
            if message["type"] == "lifespan.shutdown":
                return
    start, end = 0, len(data) - 1
    for name, value in scope["headers"]:
        if name == b"range":
            first, _, last = value[6:].partition(b"-")
            start, end = int(first), int(last)
    length = end - start + 1
    await send({"type": "http.response.start", "status": 200 if length == len(data) else 206,
                "headers": [(b"content-length", str(length).encode())]})
    for offset in range(start, end + 1, 1048576):
        await send({"type": "http.response.body", "body": data[offset:min(offset + 1048576, end + 1)],
                    "more_body": True})
    await send({"type": "http.response.body", "body": b""})

config = Config()
config.bind = [f"127.0.0.1:{sys.argv[2]}"]
config.accesslog = None
asyncio.run(serve(app, config))
"""








async def put_file(data_dir: Path) -> str:
    """Store the file through the local-disk backend; return its signed URL."""
    from mediahub.host import load_secret_key
    from mediahub.testing import make_settings
    from mediahub_local_disk.backend import LocalDiskStorage

    settings = make_settings(data_dir)
    storage = LocalDiskStorage.from_settings({"name": "local", "data_dir": str(data_dir),
                                              "secret_key": load_secret_key(settings)})
    await storage.start()

    async def chunks():
        block = os.urandom(MiB)
        for _ in range(FILE_SIZE // MiB):
            yield block

    await storage.put(KEY, chunks(), "application/octet-stream", size=FILE_SIZE)
    return await storage.url(KEY, 24 * 3600)


def nginx_config(work: Path, port: int, root: Path, workers: int) -> Path:
    config = work / "nginx.conf"
    config.write_text(textwrap.dedent(f"""
        worker_processes {workers or 'auto'};
        daemon off;
        pid {work}/nginx.pid;
        error_log {work}/nginx-error.log warn;
        events {{ worker_connections 4096; }}
        http {{
            access_log off;
            sendfile on;
            tcp_nopush on;
            keepalive_requests 1000000;
            client_body_temp_path {work}/nginx-body;
            proxy_temp_path {work}/nginx-proxy;
            fastcgi_temp_path {work}/nginx-fastcgi;
            uwsgi_temp_path {work}/nginx-uwsgi;
            scgi_temp_path {work}/nginx-scgi;
            default_type application/octet-stream;
            server {{
                listen 127.0.0.1:{port};
                location /media/local/ {{ alias {root}/; }}
            }}
        }}
    """))
    return config


def run_wrk(url_base: str, path: str, chunk: int | None, connections: int, seconds: int,
            work: Path) -> tuple[float, float, int]:
    """(MB/s, requests/s, non-2xx responses) of one wrk run."""
    script = work / ("range.lua" if chunk else "whole.lua")
    script.write_text(RANGE_SCRIPT if chunk else WHOLE_SCRIPT)
    env = {**os.environ, "BENCH_PATH": path, "BENCH_SIZE": str(FILE_SIZE),
           "BENCH_CHUNK": str(chunk or FILE_SIZE)}
    threads = min(2, connections)
    result = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "30s",
         "-s", str(script), url_base],
        capture_output=True, text=True, env=env, check=True)
    output = result.stdout
    transfer = re.search(r"Transfer/sec:\s+([\d.]+)(\w+)", output)
    requests = re.search(r"Requests/sec:\s+([\d.]+)", output)
    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    if not transfer or not requests:
        raise RuntimeError(f"could not read wrk's output:\n{output}\n{result.stderr}")
    scale = {"B": 1, "KB": 1024, "MB": MiB, "GB": 1024 * MiB, "TB": 1024 * 1024 * MiB}
    megabytes = float(transfer.group(1)) * scale[transfer.group(2)] / 1e6
    return megabytes, float(requests.group(1)), int(errors.group(1)) if errors else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=5, help="length of each wrk run")
    parser.add_argument("--nginx-workers", type=int, default=1, help="0 = auto")
    parser.add_argument("--repeat", type=int, default=2, help="runs per server and scenario "
                        "(the best one counts)")
    args = parser.parse_args()
    ensure_debian_tools("nginx", "wrk")
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"

    with tempfile.TemporaryDirectory(prefix="mediahub-bench-") as tmp:
        work = Path(tmp)
        work.chmod(0o755)  # nginx workers run as an unprivileged user and must read the file
        data_dir = work / "data"
        signed_url = asyncio.run(put_file(data_dir))
        nginx_port, mediahub_port, ceiling_port = free_port(), free_port(), free_port()
        config_file = work / "mediahub.toml"
        config_file.write_text(f'[server]\ndata_dir = "{data_dir}"\nlog_level = "warning"\n')
        processes = []
        try:
            processes.append(subprocess.Popen(
                [nginx, "-c", str(nginx_config(work, nginx_port, data_dir / "media",
                                               args.nginx_workers)), "-p", str(work)],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            mediahub_cli = Path(sys.executable).with_name("mediahub")
            processes.append(subprocess.Popen(
                [str(mediahub_cli), "-c", str(config_file), "serve", "--host", "127.0.0.1",
                 "--port", str(mediahub_port)],
                stdout=subprocess.DEVNULL, stderr=open(work / "mediahub.log", "w")))
            processes.append(subprocess.Popen(
                [sys.executable, "-c", CEILING_APP, str(data_dir / "media" / KEY),
                 str(ceiling_port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            wait_for_port(nginx_port, processes[0])
            wait_for_port(mediahub_port, processes[1])
            wait_for_port(ceiling_port, processes[2])

            targets = {
                "nginx": (f"http://127.0.0.1:{nginx_port}", f"/media/local/{KEY}"),
                "mediahub": (f"http://127.0.0.1:{mediahub_port}", signed_url),
                "ceiling": (f"http://127.0.0.1:{ceiling_port}", f"/{KEY}"),
            }
            print(f"file: {FILE_SIZE // MiB} MiB, best of {args.repeat} x {args.seconds} s, "
                  f"nginx workers: {args.nginx_workers or 'auto'}, mediahub: 1 process")
            print(f"{'scenario':<26}{'nginx MB/s':>12}{'mediahub MB/s':>15}{'ratio':>8}"
                  f"{'target':>8}  ok   (bare Hypercorn app: MB/s, ratio)")
            all_met = True
            for label, chunk, connections, target in SCENARIOS:
                measured = {name: 0.0 for name in targets}
                for _ in range(args.repeat):
                    # Alternate the servers and keep each one's best run: other load on
                    # the machine then penalises both alike instead of one at random.
                    for name, (base, path) in targets.items():
                        megabytes, _, errors = run_wrk(base, path, chunk, connections,
                                                       args.seconds, work)
                        if errors:
                            print(f"  warning: {name} answered {errors} non-2xx responses")
                        measured[name] = max(measured[name], megabytes)
                ratio = measured["mediahub"] / measured["nginx"] if measured["nginx"] else 0.0
                met = ratio >= target
                all_met &= met
                ceiling = measured["ceiling"] / measured["nginx"] if measured["nginx"] else 0.0
                print(f"{label:<26}{measured['nginx']:>12.0f}{measured['mediahub']:>15.0f}"
                      f"{ratio:>7.2f}x{target:>7.1f}x  {'yes' if met else 'NO ':<3}"
                      f"  ({measured['ceiling']:.0f}, {ceiling:.2f}x)", flush=True)
            return 0 if all_met else 1
        finally:
            stop_processes(processes)


if __name__ == "__main__":
    sys.exit(main())
