"""What every benchmark needs: Debian tools on demand, free loopback ports, waiting for a server,
and the lines every one prints (the machine, the spread of ratios, whether targets are met)."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path


def ensure_debian_tools(*names: str) -> None:
    """Install the named Debian packages (nginx, wrk, ...) with apt-get if they are missing."""
    missing = [name for name in names
               if shutil.which(name) is None and not Path(f"/usr/sbin/{name}").exists()]
    if not missing:
        return
    print(f"installing {' '.join(missing)} with apt-get ...", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", *missing], check=True, env=env,
                   stdout=subprocess.DEVNULL)


def nginx_binary() -> str:
    ensure_debian_tools("nginx")
    return shutil.which("nginx") or "/usr/sbin/nginx"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listening on port {port}")


def stop_processes(processes: list[subprocess.Popen]) -> None:
    """SIGTERM every server the benchmark started, then wait (bounded) for each."""
    for process in processes:
        process.terminate()
    for process in processes:
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(10)


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process and its children so far (Linux /proc).

    Less sensitive to the machine's load than wall time: what a server's own work costs.
    """
    total = 0.0
    pids = [pid]
    for children in Path(f"/proc/{pid}/task").glob("*/children"):
        pids += [int(child) for child in children.read_text().split()]
    for one in pids:
        try:
            fields = Path(f"/proc/{one}/stat").read_text().rpartition(")")[2].split()
        except FileNotFoundError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def reaped_children_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of the children a process has waited for (cutime + cstime
    in /proc): an ffmpeg a server ran and reaped, which process_cpu_seconds no longer sees."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[13]) + int(fields[14])) / os.sysconf("SC_CLK_TCK")


def machine_line() -> str:
    """Cores and load: ratios measured in one run are what count, absolute numbers move
    with whatever else the machine runs."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load = " ".join(f"{value:.1f}" for value in os.getloadavg())
    return f"machine: {cores} cores (os.cpu_count() = {os.cpu_count()}), load average {load}"


def spread(values: list[float]) -> str:
    """`min-max` of per-round ratios (each round runs every server back to back)."""
    if not values:
        return "-"
    return f"{min(values):.2f}-{max(values):.2f}"


def verdict(checks: list[tuple[str, bool]]) -> str:
    missed = [name for name, met in checks if not met]
    return "targets met: yes" if not missed else f"targets met: NO ({', '.join(missed)})"


@contextlib.asynccontextmanager
async def scratch_database(server_url: str | None):
    """A fresh PostgreSQL database on `server_url`'s server for one run, dropped after it
    (a bench never fills a database someone uses); None (SQLite) passes through."""
    if not server_url:
        yield None
        return
    import uuid
    from urllib.parse import urlsplit, urlunsplit

    import asyncpg

    name = f"mediahub_bench_{uuid.uuid4().hex[:12]}"
    admin_url = server_url.replace("postgres://", "postgresql://", 1)
    admin = await asyncpg.connect(admin_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield urlunsplit(urlsplit(server_url)._replace(path=f"/{name}"))
    finally:
        admin = await asyncpg.connect(admin_url)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()
