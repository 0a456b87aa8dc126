"""Benchmark: what authenticating a request costs, with and without the sign-in cache, against an anonymous request.

    .venv/bin/python bench/auth.py [--seconds 3] [--repeat 3] [--connections 16] [--postgres URL]

Starts two `mediahub serve` processes on one database (SQLite in a temp dir, or a scratch
PostgreSQL database with --postgres): one with `[auth] sign_in_cache_seconds = 0` (every
request reads its token or session from the database, as before the cache) and one with
the default cache. Drives `GET /api/auth/me` with wrk, interleaved round by round:

* anonymous (no credential: no database read; the reference, what the route itself costs),
* a bearer token,
* a cookie session (signed in through the login form).

Prints the machine's cores and load, requests/s (best round) and the CPU each request cost
the server (from /proc, much less moved by the load), the cached/uncached ratios and the
ratio of the cached path to the anonymous one in the same run; the bar checked here is
that an authenticated request with the cache costs at most 1/0.85 of an anonymous one
(exit status 1 if not). Not a test: numbers vary by machine and load.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import (ensure_debian_tools, free_port, machine_line, process_cpu_seconds,  # noqa: E402
                     scratch_database, spread, stop_processes, verdict, wait_for_port)

PASSWORD = "correct horse battery"
TARGET = 0.85  # cached authenticated request / anonymous request, by CPU per request


def start_server(config: Path, port: int, log: Path) -> subprocess.Popen:
    mediahub_cli = Path(sys.executable).with_name("mediahub")
    return subprocess.Popen([str(mediahub_cli), "-c", str(config), "serve", "--host", "127.0.0.1",
                             "--port", str(port)], stdout=subprocess.DEVNULL, stderr=open(log, "w"))


def sign_in(base: str) -> tuple[str, str]:
    """(bearer access token, session cookie) of a fresh account on the server at `base`."""
    with httpx.Client(base_url=base) as client:
        client.post("/api/auth/register", json={"username": "bench", "password": PASSWORD})
        token = client.post("/api/auth/login",
                            json={"username": "bench", "password": PASSWORD}).json()["access_token"]
        page = client.get("/login").text
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        client.post("/login", data={"username": "bench", "password": PASSWORD, "csrf_token": csrf})
        cookie = client.cookies.get("mediahub_session")
    if not cookie:
        raise RuntimeError("the login form set no session cookie")
    return token, cookie


def run_wrk(base: str, header: str | None, connections: int, seconds: int) -> tuple[float, int, int]:
    """(requests/s, requests, responses other than the expected) of one wrk run."""
    command = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s"]
    if header:
        command += ["-H", header]
    output = subprocess.run(command + [f"{base}/api/auth/me"], capture_output=True, text=True,
                            check=True).stdout
    count = int(re.search(r"(\d+) requests in", output).group(1))
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    odd = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    return rate, count, int(odd.group(1)) if odd else 0


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--postgres", help="a PostgreSQL server URL (a scratch database is made)")
    args = parser.parse_args()
    ensure_debian_tools("wrk")

    async with scratch_database(args.postgres) as database_url:
        with tempfile.TemporaryDirectory(prefix="mediahub-bench-auth-") as tmp:
            work = Path(tmp)
            data_dir = work / "data"
            database = f'[database]\nurl = "{database_url}"\n' if database_url else ""
            configs = {}
            for name, seconds in (("uncached", 0), ("cached", 5)):
                configs[name] = work / f"{name}.toml"
                configs[name].write_text(
                    f'[server]\ndata_dir = "{data_dir}"\nlog_level = "warning"\n{database}'
                    f"[auth]\nsign_in_cache_seconds = {seconds}\n"
                    "failed_sign_ins_per_address_per_minute = 0\n")
            ports = {name: free_port() for name in configs}
            processes: dict[str, subprocess.Popen] = {}
            try:
                for name in configs:  # one after the other: the first applies migrations
                    processes[name] = start_server(configs[name], ports[name], work / f"{name}.log")
                    wait_for_port(ports[name], processes[name])
                bases = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
                token, cookie = sign_in(bases["uncached"])
                credentials = {"anonymous": None, "bearer": f"Authorization: Bearer {token}",
                               "cookie": f"Cookie: mediahub_session={cookie}"}
                print(machine_line())
                print(f"database: {'PostgreSQL' if database_url else 'SQLite'}, "
                      f"{args.repeat} rounds x {args.seconds} s, {args.connections} connections, "
                      "GET /api/auth/me, one process each")
                results = run_rounds(bases, processes, credentials, args)
            finally:
                stop_processes(list(processes.values()))
    return report(results)


def run_rounds(bases, processes, credentials, args) -> dict:
    """{(server, credential): {"rate": best req/s, "cpu": [seconds, requests], "ratios": [...]}}"""
    results = {(server, kind): {"rate": 0.0, "cpu": [0.0, 0]}
               for server in bases for kind in credentials
               if not (kind == "anonymous" and server == "uncached")}
    rounds: dict[str, list[float]] = {"bearer": [], "cookie": []}
    for _ in range(args.repeat):
        this_round = {}
        for (server, kind), result in results.items():
            pid = processes[server].pid
            before = process_cpu_seconds(pid)
            rate, count, odd = run_wrk(bases[server], credentials[kind], args.connections,
                                       args.seconds)
            expected_401 = kind == "anonymous"
            if (odd != count) if expected_401 else odd:
                print(f"  warning: {server}/{kind}: {odd} of {count} responses were not "
                      f"{'401' if expected_401 else '200'}")
            result["cpu"][0] += process_cpu_seconds(pid) - before
            result["cpu"][1] += count
            result["rate"] = max(result["rate"], rate)
            this_round[(server, kind)] = rate
        for kind in rounds:
            rounds[kind].append(this_round[("cached", kind)] / this_round[("uncached", kind)])
    for kind, values in rounds.items():
        results[("cached", kind)]["ratios"] = values
    return results


def report(results: dict) -> int:
    def per_request(key) -> float:
        seconds, count = results[key]["cpu"]
        return seconds / max(count, 1) * 1e6

    anonymous = per_request(("cached", "anonymous"))
    print(f"{'request':<22}{'req/s':>8}{'CPU/request':>13}")
    print(f"{'anonymous (401)':<22}{results[('cached', 'anonymous')]['rate']:>8.0f}{anonymous:>10.0f} us")
    checks = []
    for kind in ("bearer", "cookie"):
        for server in ("uncached", "cached"):
            key = (server, kind)
            print(f"{kind + ', ' + server:<22}{results[key]['rate']:>8.0f}"
                  f"{per_request(key):>10.0f} us")
        cached, uncached = per_request(("cached", kind)), per_request(("uncached", kind))
        to_anonymous = anonymous / max(cached, 1e-9)
        met = to_anonymous >= TARGET
        checks.append((f"{kind} cached / anonymous", met))
        print(f"  {kind}: cached/uncached req/s {results[('cached', kind)]['rate'] / results[('uncached', kind)]['rate']:.2f}x "
              f"(per-round spread {spread(results[('cached', kind)]['ratios'])}), CPU per request "
              f"{uncached / max(cached, 1e-9):.2f}x less; anonymous/cached CPU {to_anonymous:.2f}x "
              f"(bar {TARGET:.2f}x: {'yes' if met else 'NO'})")
    print(verdict(checks))
    return 0 if all(met for _, met in checks) else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
