"""Benchmark: mediahub's /media/ download path against a bare Hypercorn app and nginx, same 64 MiB file.

    .venv/bin/python bench/stream.py [--seconds 5] [--repeat 3] [--nginx-workers 1] [--no-extras]
                                     [--only 1mib|whole|64kib ...]

Installs nginx and wrk with apt-get if they are missing. Starts, on free loopback ports:

* nginx (its own config, sendfile on) serving the file from the local-disk root;
* a bare ASGI app under Hypercorn serving the same bytes from memory, no checks: the
  ceiling of the server stack mediahub runs on (the targets are ratios to it);
* `mediahub serve` (a temp data dir; the file is put through the local-disk backend and
  fetched by its signed /media/ URL);
* extras (skip with --no-extras): nginx in front of a second `mediahub serve` whose
  local-disk backend hands the bytes to nginx with X-Accel-Redirect (docs/nginx.md), and
  two `mediahub serve --reuse-port` processes sharing one port.

Each round drives every server in turn with wrk (interleaved: other load on the machine
then penalises all alike); the best round of each counts, and the spread of the per-round
ratios is printed. Prints the machine's cores and load, both ratios and whether the
targets are met (exit status 1 if not), and the CPU each request cost the bare app and
mediahub (less moved by the load than MB/s). Not a test: numbers vary by machine and load.

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
from harness import (ensure_debian_tools, free_port, machine_line, spread,  # noqa: E402
                     stop_processes, verdict, wait_for_port)

# What nginx must add itself to the files it sends for mediahub (docs/nginx.md).
from mediahub.security_headers import RESOURCE_POLICY  # noqa: E402

MiB = 1024 * 1024
FILE_SIZE = 64 * MiB
KEY = "bench/big.bin"

# (label, range size or None for the whole file, connections, target ratio to the bare app)
SCENARIOS = [
    ("1 MiB ranges, 32 conns", MiB, 32, 0.85),
    ("whole file, 8 conns", None, 8, 0.85),
    ("64 KiB ranges, 64 conns", 64 * 1024, 64, 0.85),
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


def nginx_config(work: Path, port: int, root: Path, workers: int,
                 accel: tuple[int, int] | None = None) -> Path:
    """nginx serving root under /media/local/ on `port`; with accel = (port, mediahub's
    port), also the docs/nginx.md front: /media/ proxied to mediahub, whose
    X-Accel-Redirect answers nginx serves from an internal location."""
    front = ""
    if accel:
        front_port, upstream_port = accel
        front = f"""
            upstream mediahub_accel {{ server 127.0.0.1:{upstream_port}; keepalive 64; }}
            server {{
                listen 127.0.0.1:{front_port};
                location /media/ {{
                    proxy_pass http://mediahub_accel;
                    proxy_http_version 1.1;
                    proxy_set_header Host $host;
                    proxy_set_header Connection "";
                    proxy_buffering off;
                }}
                location /_mediahub_files/ {{
                    internal;
                    alias {root}/;
                    add_header X-Content-Type-Options nosniff always;
                    add_header Content-Security-Policy "{RESOURCE_POLICY}" always;
                }}
            }}"""
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
            }}""") + front + "\n        }\n")
    return config


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


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


def start_mediahub(config_file: Path, port: int, work: Path, name: str,
                   *extra: str) -> subprocess.Popen:
    mediahub_cli = Path(sys.executable).with_name("mediahub")
    return subprocess.Popen(
        [str(mediahub_cli), "-c", str(config_file), "serve", "--host", "127.0.0.1",
         "--port", str(port), *extra],
        stdout=subprocess.DEVNULL, stderr=open(work / f"{name}.log", "w"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=5, help="length of each wrk run")
    parser.add_argument("--nginx-workers", type=int, default=1, help="0 = auto")
    parser.add_argument("--repeat", type=int, default=3, help="rounds per scenario "
                        "(every server once per round; the best round of each counts)")
    parser.add_argument("--no-extras", action="store_true",
                        help="skip the X-Accel-Redirect front and the two-process run")
    parser.add_argument("--only", choices=["1mib", "whole", "64kib"], action="append",
                        help="run only this scenario (repeatable)")
    args = parser.parse_args()
    scenarios = [scenario for scenario, name in zip(SCENARIOS, ("1mib", "whole", "64kib"))
                 if not args.only or name in args.only]
    ensure_debian_tools("nginx", "wrk")
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"

    with tempfile.TemporaryDirectory(prefix="mediahub-bench-") as tmp:
        work = Path(tmp)
        work.chmod(0o755)  # nginx workers run as an unprivileged user and must read the file
        data_dir = work / "data"
        signed_url = asyncio.run(put_file(data_dir))
        ports = {name: free_port() for name in ("nginx", "ceiling", "mediahub", "accel front",
                                                 "accel mediahub", "2 processes")}
        config_file = work / "mediahub.toml"
        config_file.write_text(f'[server]\ndata_dir = "{data_dir}"\nlog_level = "warning"\n')
        accel_config = work / "mediahub-accel.toml"
        accel_config.write_text(config_file.read_text() + textwrap.dedent("""
            [storage]
            default = "local"
            [storage.local]
            type = "local-disk"
            x_accel_redirect = "/_mediahub_files/"
        """))
        extras = not args.no_extras
        processes: list[subprocess.Popen] = []
        try:
            accel = (ports["accel front"], ports["accel mediahub"]) if extras else None
            processes.append(subprocess.Popen(
                [nginx, "-c", str(nginx_config(work, ports["nginx"], data_dir / "media",
                                               args.nginx_workers, accel)), "-p", str(work)],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            processes.append(subprocess.Popen(
                [sys.executable, "-c", CEILING_APP, str(data_dir / "media" / KEY),
                 str(ports["ceiling"])], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            processes.append(start_mediahub(config_file, ports["mediahub"], work, "mediahub"))
            for process, name in zip(processes, ("nginx", "ceiling", "mediahub")):
                wait_for_port(ports[name], process)
            targets = {
                "nginx": (f"http://127.0.0.1:{ports['nginx']}", f"/media/local/{KEY}"),
                "bare": (f"http://127.0.0.1:{ports['ceiling']}", f"/{KEY}"),
                "mediahub": (f"http://127.0.0.1:{ports['mediahub']}", signed_url),
            }
            pair: list[subprocess.Popen] = []
            if extras:
                processes.append(start_mediahub(accel_config, ports["accel mediahub"], work,
                                                "mediahub-accel"))
                wait_for_port(ports["accel mediahub"], processes[-1])
                # One after the other: the first applies migrations, the second finds none.
                for number in (1, 2):
                    pair.append(start_mediahub(config_file, ports["2 processes"], work,
                                               f"mediahub-pair{number}", "--reuse-port"))
                    processes.append(pair[-1])
                    wait_for_port(ports["2 processes"], pair[-1])
                targets["X-Accel"] = (f"http://127.0.0.1:{ports['accel front']}", signed_url)
                targets["2 procs"] = (f"http://127.0.0.1:{ports['2 processes']}", signed_url)
                for name in ("X-Accel", "2 procs"):  # warm-up, and a check that it works
                    base, path = targets[name]
                    _, _, errors = run_wrk(base, path, MiB, 4, 1, work)
                    if errors:
                        raise RuntimeError(f"{name} answered non-2xx responses")

            single = {"bare": processes[1], "mediahub": processes[2]}
            print(machine_line())
            print(f"file: {FILE_SIZE // MiB} MiB, {args.repeat} rounds x {args.seconds} s per "
                  f"server (best round counts), nginx workers: {args.nginx_workers or 'auto'}, "
                  f"mediahub: 1 process")
            print(f"{'scenario':<26}{'nginx':>7}{'bare':>7}{'mediahub':>9}   "
                  f"{'/bare':>6} {'spread':>10} {'target':>6} ok   {'/nginx':>6}"
                  + ("   X-Accel /nginx   2 procs /bare  cpu split" if extras else ""))
            checks = []
            for label, chunk, connections, target in scenarios:
                measured = {name: 0.0 for name in targets}
                rounds: list[float] = []
                split = [0.0, 0.0]
                # CPU seconds and requests of the bare app and mediahub: CPU per request is
                # what each one's code costs, much less moved by the machine's load.
                cost = {"bare": [0.0, 0], "mediahub": [0.0, 0]}
                for _ in range(args.repeat):
                    this_round = {}
                    for name, (base, path) in targets.items():
                        before = [cpu_seconds(process.pid) for process in pair] if name == "2 procs" else []
                        own = single.get(name)
                        own_before = cpu_seconds(own.pid) if own else 0.0
                        megabytes, per_second, errors = run_wrk(base, path, chunk, connections,
                                                                args.seconds, work)
                        if own:
                            cost[name][0] += cpu_seconds(own.pid) - own_before
                            cost[name][1] += int(per_second * args.seconds)
                        if before:
                            split = [a + cpu_seconds(process.pid) - b
                                     for a, b, process in zip(split, before, pair)]
                        if errors:
                            print(f"  warning: {name} answered {errors} non-2xx responses")
                        this_round[name] = megabytes
                        measured[name] = max(measured[name], megabytes)
                    rounds.append(this_round["mediahub"] / this_round["bare"])
                to_bare = measured["mediahub"] / measured["bare"]
                to_nginx = measured["mediahub"] / measured["nginx"]
                met = to_bare >= target
                checks.append((label, met))
                line = (f"{label:<26}{measured['nginx']:>7.0f}{measured['bare']:>7.0f}"
                        f"{measured['mediahub']:>9.0f}   {to_bare:>5.2f}x {spread(rounds):>10} "
                        f"{target:>5.2f}x {'yes' if met else 'NO ':<3}  {to_nginx:>5.2f}x")
                if extras:
                    share = split[0] / (sum(split) or 1)
                    line += (f"   {measured['X-Accel']:>5.0f} {measured['X-Accel'] / measured['nginx']:>5.2f}x"
                             f"   {measured['2 procs']:>5.0f} {measured['2 procs'] / measured['bare']:>5.2f}x"
                             f"  {share:.0%}/{1 - share:.0%}")
                print(line, flush=True)
                per_request = {name: seconds / max(count, 1) * 1e6
                               for name, (seconds, count) in cost.items()}
                print(f"{'':<26}CPU per request: bare {per_request['bare']:.0f} us, mediahub "
                      f"{per_request['mediahub']:.0f} us "
                      f"({per_request['bare'] / max(per_request['mediahub'], 1e-9):.2f}x)", flush=True)
            print("(MB/s; /bare and /nginx: mediahub's best round over theirs; spread: the "
                  "per-round mediahub/bare ratios)")
            print(verdict(checks))
            return 0 if all(met for _, met in checks) else 1
        finally:
            stop_processes(processes)


if __name__ == "__main__":
    sys.exit(main())
