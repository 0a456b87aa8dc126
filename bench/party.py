"""Benchmark: party message delivery to 100 / 500 / 1,000 WebSocket guests, against a bare Quart broadcast.

    .venv/bin/python bench/party.py [--guests 100,500,1000] [--commands 100] [--deflate on|off]
                                    [--server-compression] [--uvloop] [--profile out.prof]
                                    [--gc-log]

Starts two servers on loopback: a real `mediahub serve` (tests/support/server_process.py:
Hypercorn, SQLite in a temp dir) and the reference, a bare Quart + Hypercorn broadcast
(bench/party_reference.py: no database, no auth, no bus). For each size, measured on both
in the same run with the same clients, one after the other: N guests connect, then the host
sends `--commands` commands (pause / play alternately, paced like a person as the flood
control wants), each once the previous one reached every guest. Delivery latency = host send
-> the guest's bytes reaching this process (stamped when the event loop reads the socket, so
the parsing of the other 999 clients is not counted). Prints p50 / p95 / p99, server RSS, and
the ratio mediahub p99 / reference p99 — the number to compare across runs, because other
work on this machine moves both — and the server's CPU per command (from /proc), which that
other work inflates much less than it inflates latency.

On mediahub two more kinds follow in the same party (the reference has no queue): `--commands`
queue updates (move the last of 10 queued entries to the top, add a track, remove it: each
QUEUE_CHANGED carries the whole queue) and `--commands` reactions (a different guest each
time; delivered to every guest and the host).

`--deflate on` (default) makes clients offer permessage-deflate as every browser does;
whether it is used is the servers' decision: refused by both (mediahub's default) unless
`--server-compression`. `--uvloop` runs both servers on uvloop (needs `pip install uvloop`).
`--profile` runs mediahub under cProfile (the commands only, not the setup) and writes
the stats there. `--gc-log` runs it with a `gc.callbacks` hook (outside the product) and
prints the server's garbage collections while the guests joined and while each kind was
measured: how many of each generation, their total and longest pause.

This process's own collector is off while a kind is measured (collected before, on again
after, as `timeit` does): its 1,000 clients and the futures of each broadcast made it run a
full collection every 2-4 commands, 65-100 ms of CPU each (up to 600 ms of wall time on a
loaded machine), and arrivals that came in meanwhile were stamped that much late: a pause of
the measuring process, not of the server (docs/party-protocol.md).

Target (issue 5): p99 <= 60 ms at 1,000 guests. The clients share this machine's cores with
the servers. Not a test: numbers vary with the machine and whatever else it is running.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import httpx  # noqa: E402

from harness import free_port, machine_line, stop_processes, wait_for_port  # noqa: E402
from tests.support.multipart import multipart  # noqa: E402
from tests.support.party import wav_bytes  # noqa: E402
from tests.support.websocket_client import WebSocketClient  # noqa: E402
from tests.support.server_process import ServerProcess  # noqa: E402

TARGET_P99_MS = 60.0
COMMAND_GAP_S = 0.12
QUEUED = 10  # entries waiting while the queue is measured: each QUEUE_CHANGED carries them all
REFERENCE_APP = Path(__file__).resolve().parent / "party_reference.py"
# `mediahub serve`, optionally on uvloop (installed before asyncio.run picks a loop).
UVLOOP_SERVE = "import uvloop, sys; uvloop.install(); from mediahub.cli import main; main()"
# `mediahub serve` with cProfile switched on and off by SIGUSR1 (only the commands are
# profiled, not the setup) and written to argv[1] when it stops.
PROFILED_SERVE = """
import cProfile, signal, sys
path = sys.argv.pop(1)
profile, active = cProfile.Profile(), [False]
def toggle(*_):
    (profile.disable if active[0] else profile.enable)()
    active[0] = not active[0]
signal.signal(signal.SIGUSR1, toggle)
from mediahub.cli import main
try:
    main()
finally:
    profile.disable()
    profile.dump_stats(path)
"""

# `mediahub serve` with every garbage collection appended to argv[1]: end time, generation,
# wall and CPU milliseconds (the collecting thread's: other work on the machine does not
# inflate it).
GC_LOGGED_SERVE = """
import gc, sys, time
log, started = open(sys.argv.pop(1), "a", buffering=1), [0.0, 0.0]
def record(phase, info):
    if phase == "start":
        started[:] = time.perf_counter(), time.thread_time()
    else:
        log.write(f"{time.time():.4f} {info['generation']} "
                  f"{(time.perf_counter() - started[0]) * 1000:.2f} "
                  f"{(time.thread_time() - started[1]) * 1000:.2f}\\n")
gc.callbacks.append(record)
from mediahub.cli import main
main()
"""


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds(pid: int) -> float:
    """User + system CPU the process has used: what a message costs the server, which other
    work on the machine does not inflate the way it inflates wall-clock latency."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def connect_all(urls: list[str], deflate: bool) -> list[WebSocketClient]:
    async def one(url: str) -> WebSocketClient:
        client = await WebSocketClient.connect(url, offer_deflate=deflate)
        await client.receive_json("SNAPSHOT", timeout=60)
        return client

    clients: list[WebSocketClient] = []
    for start in range(0, len(urls), 100):
        clients += await asyncio.gather(*(one(u) for u in urls[start:start + 100]))
    return clients


async def join_guests(base_url: str, code: str, count: int) -> list[str]:
    async def one(i: int) -> str:
        # A fresh client each: a kept session cookie would make the next join a cookie
        # request (which needs a CSRF token) instead of an anonymous one.
        async with httpx.AsyncClient(base_url=base_url, timeout=60) as http:
            response = await http.post(f"/api/parties/{code}/join", json={"display_name": f"g{i}"})
            response.raise_for_status()
            return response.json()["access_token"]

    tokens: list[str] = []
    for start in range(0, count, 50):
        tokens += await asyncio.gather(*(one(i) for i in range(start, min(count, start + 50))))
    return tokens


async def mediahub_party(url: str, guests: int, deflate: bool):
    """A party with a track selected: (host, guests, version, tracks), `tracks` = `QUEUED` + 1
    more uploaded tracks for the queue benchmark (queued only after the state updates, so
    those stay the small messages of a party without a queue, as measured before)."""
    async with httpx.AsyncClient(base_url=url, timeout=60) as http:
        username = f"bench{guests}{time.time_ns() % 10 ** 9}"
        host_token = (await http.post("/api/auth/register", json={
            "username": username, "password": "correct horse battery"})).json()["access_token"]
        auth = {"Authorization": f"Bearer {host_token}"}
        code = (await http.post("/api/parties", json={}, headers=auth)).json()["code"]
        tokens = await join_guests(url, code, guests)
        # Pause / play need a track the server knows: a tiny WAV; the queue a few more.
        tracks = []
        for n in range(QUEUED + 2):
            body, content_type = multipart([("audio", f"b{n}.wav", wav_bytes(0.2 + n / 100)),
                                            ("filename", None, f"Bench track {n:02d}.wav".encode())])
            tracks.append((await http.post("/api/upload-track", content=body,
                                           headers={**auth, **content_type})).json()["trackId"])
    ws = url.replace("http://", "ws://") + f"/ws/party/{code}?access_token="
    [host] = await connect_all([ws + host_token], deflate)
    clients = await connect_all([ws + t for t in tokens], deflate)
    await host.send_json({"t": "HOST_TRACK_SELECTED", "version": 1, "trackId": tracks[0]})
    version = (await host.receive_json("TRACK_SELECTED"))["version"]
    await asyncio.gather(*(c.receive_json("TRACK_SELECTED", timeout=60) for c in clients))
    return host, clients, version, tracks[1:]


async def fill_queue(host: WebSocketClient, clients: list[WebSocketClient],
                     tracks: list[str]) -> tuple[int, dict]:
    """Queue all but the last of `tracks`: (version, {"entries": entry ids, "spare": the last})."""
    for track in tracks[:-1]:
        await host.send_json({"t": "QUEUE_ADD", "trackId": track})
        state = await host.receive_json("QUEUE_CHANGED")
        await asyncio.gather(*(c.receive_json("QUEUE_CHANGED", timeout=60) for c in clients))
        await asyncio.sleep(COMMAND_GAP_S)  # the host's flood control
    return state["version"], {"entries": [e["entryId"] for e in state["queue"]], "spare": tracks[-1]}


async def reference_party(url: str, guests: int, deflate: bool):
    ws = url.replace("http://", "ws://") + "/ws"
    [host] = await connect_all([ws], deflate)
    clients = await connect_all([ws] * guests, deflate)
    return host, clients, 0, None


async def broadcast(sender: WebSocketClient, frame: dict, reply: str,
                    clients: list[WebSocketClient]) -> list[float]:
    """Send `frame`; every client's delivery latency (ms) of the `reply` it causes."""
    # Uncompressed frames carry the JSON text as is: each arrival is noticed by the event
    # loop's read itself (no task per client has to run, see tests/support/websocket_client.py).
    raw = not any(c.extensions for c in clients)
    if raw:
        waiting = [c.reader.watch(f'"t":"{reply}"'.encode()) for c in clients]
    else:
        waiting = [asyncio.create_task(c.receive_json_stamped(reply, timeout=30)) for c in clients]
        await asyncio.sleep(0)  # every reader waits on its socket before the command leaves
    sent = time.perf_counter()
    await sender.send_json(frame)
    arrivals = await asyncio.wait_for(asyncio.gather(*waiting), 30)
    if raw:
        await asyncio.gather(*(c.receive_json(reply) for c in clients))  # consume them
    else:
        arrivals = [arrived for _, arrived in arrivals]
    return [(arrived - sent) * 1000 for arrived in arrivals]


async def pace(started: float) -> None:
    # A member is limited to 10 messages/s sustained (flood control): pace like a person.
    await asyncio.sleep(max(0.0, COMMAND_GAP_S - (time.perf_counter() - started)))


async def measure(host: WebSocketClient, clients: list[WebSocketClient], version: int,
                  commands: int) -> tuple[list[float], list[float], int]:
    """State updates (pause / play): every guest's delivery latency, and per command the
    first guest's (the server's time to decide, before the fan-out)."""
    latencies: list[float] = []
    firsts: list[float] = []
    for i in range(commands):
        kind, reply = ("HOST_PLAY", "PLAY") if i % 2 == 0 else ("HOST_PAUSE", "PAUSE")
        started = time.perf_counter()
        delivered = await broadcast(host, {"t": kind, "version": version}, reply, clients)
        latencies += delivered
        firsts.append(min(delivered))
        version = (await host.receive_json(reply))["version"]
        await pace(started)
    return latencies, firsts, version


async def measure_queue(host: WebSocketClient, clients: list[WebSocketClient], version: int,
                        commands: int, queue: dict) -> tuple[list[float], list[float], int, dict]:
    """Queue updates, in turn: the last entry moved to the top, the spare track added (a
    free command: the server looks the track up first), that entry removed. Every
    QUEUE_CHANGED carries the whole queue; returns its size in bytes and, per kind, the
    median first-guest latency (the server's time to decide) too."""
    latencies: list[float] = []
    firsts: list[float] = []
    by_kind: dict[str, list[float]] = {"QUEUE_MOVE": [], "QUEUE_ADD": [], "QUEUE_REMOVE": []}
    entries, size = list(queue["entries"]), 0
    for i in range(commands):
        step = i % 3
        if step == 0:
            frame = {"t": "QUEUE_MOVE", "version": version, "entryId": entries[-1], "toIndex": 0}
        elif step == 1:
            frame = {"t": "QUEUE_ADD", "trackId": queue["spare"]}
        else:
            frame = {"t": "QUEUE_REMOVE", "version": version, "entryId": entries[-1]}
        started = time.perf_counter()
        delivered = await broadcast(host, frame, "QUEUE_CHANGED", clients)
        latencies += delivered
        firsts.append(min(delivered))
        by_kind[frame["t"]].append(min(delivered))
        state = await host.receive_json("QUEUE_CHANGED")
        version, entries = state["version"], [entry["entryId"] for entry in state["queue"]]
        size = max(size, len(json.dumps(state, separators=(",", ":"), ensure_ascii=False)))
        await pace(started)
    return latencies, firsts, size, {kind: percentile(v, .5) for kind, v in by_kind.items() if v}


async def measure_reactions(host: WebSocketClient, clients: list[WebSocketClient],
                            commands: int) -> tuple[list[float], list[float]]:
    """Reactions: a different guest each time sends one; its delivery to every guest and
    the host (not stored, no database on the way: the bus only)."""
    latencies: list[float] = []
    firsts: list[float] = []
    everyone = [host, *clients]
    for i in range(commands):
        started = time.perf_counter()
        sender = clients[(i * 7919) % len(clients)]
        delivered = await broadcast(sender, {"t": "REACT", "emoji": "🔥"}, "REACTION", everyone)
        latencies += delivered
        firsts.append(min(delivered))
        await pace(started)
    return latencies, firsts


@contextlib.contextmanager
def measuring(windows: dict, kind: str):
    """This process's collector off while `kind` is timed (see the module docstring); the
    phase's wall-clock window is kept to find the server's collections in it."""
    gc.collect()
    gc.disable()
    started = time.time()
    try:
        yield
    finally:
        windows[kind] = (started, time.time())
        gc.enable()


def server_collections(log: Path, window: tuple[float, float]) -> str:
    """The server's collections inside `window`: count per generation, total and longest."""
    rows = [line.split() for line in log.read_text().splitlines()]
    inside = [(int(gen), float(wall), float(cpu)) for at, gen, wall, cpu in rows
              if window[0] <= float(at) <= window[1]]
    parts = []
    for gen in (0, 1, 2):
        mine = [(wall, cpu) for g, wall, cpu in inside if g == gen]
        if mine:
            parts.append(f"gen{gen} {len(mine)}x total {sum(c for _, c in mine):.0f} ms CPU, "
                         f"longest {max(c for _, c in mine):.1f} CPU / {max(w for w, _ in mine):.1f} wall")
        else:
            parts.append(f"gen{gen} 0x")
    return "; ".join(parts)


def summary(latencies: list[float], firsts: list[float], rss: float, cpu: float) -> dict:
    """`cpu`: the server's CPU seconds over the phase, reported per command in ms."""
    return {"p50": percentile(latencies, .5), "p95": percentile(latencies, .95),
            "p99": percentile(latencies, .99), "rss": rss, "cpu": cpu * 1000 / len(firsts),
            "first50": percentile(firsts, .5), "first99": percentile(firsts, .99)}


async def run(make_party, url: str, pid: int, guests: int, commands: int, deflate: bool,
              profiled: bool = False) -> dict[str, dict]:
    """{"state": ..., and for mediahub "queue" and "reaction"}: each a `summary`, and
    "windows": each kind's (start, end) wall-clock time, and "joined": the guests'."""
    joining = time.time()
    host, clients, version, tracks = await make_party(url, guests, deflate)
    joined = (joining, time.time())
    if profiled:
        os.kill(pid, signal.SIGUSR1)
    windows: dict[str, tuple[float, float]] = {"joined": joined}
    cpu = cpu_seconds(pid)
    with measuring(windows, "state"):
        latencies, firsts, version = await measure(host, clients, version, commands)
    results = {"state": summary(latencies, firsts, rss_mib(pid), cpu_seconds(pid) - cpu),
               "windows": windows}
    if tracks is not None:  # mediahub: the queue and reactions too
        version, queue = await fill_queue(host, clients, tracks)
        cpu = cpu_seconds(pid)
        with measuring(windows, "queue"):
            latencies, firsts, size, decide = await measure_queue(host, clients, version,
                                                                  commands, queue)
        results["queue"] = {**summary(latencies, firsts, rss_mib(pid), cpu_seconds(pid) - cpu),
                            "bytes": size, "decide": decide}
        cpu = cpu_seconds(pid)
        with measuring(windows, "reaction"):
            latencies, firsts = await measure_reactions(host, clients, commands)
        results["reaction"] = summary(latencies, firsts, rss_mib(pid), cpu_seconds(pid) - cpu)
    if profiled:
        os.kill(pid, signal.SIGUSR1)
    for client in [host, *clients]:
        await client.close()
    await asyncio.sleep(0.5)  # let the server see the sockets go before the next round
    return results


def line(label: str, result: dict) -> str:
    return (f"  {label:<10} p50 {result['p50']:6.1f} ms  p95 {result['p95']:6.1f} ms  "
            f"p99 {result['p99']:6.1f} ms  RSS {result['rss']:4.0f} MiB  first guest p50 "
            f"{result['first50']:5.1f} / p99 {result['first99']:5.1f} ms  server CPU "
            f"{result['cpu']:5.1f} ms/command")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--guests", default="100,500,1000")
    parser.add_argument("--commands", type=int, default=100, help="of each kind")
    parser.add_argument("--deflate", choices=["on", "off"], default="on",
                        help="whether clients offer permessage-deflate (browsers do)")
    parser.add_argument("--server-compression", action="store_true",
                        help="let both servers accept permessage-deflate (Hypercorn's default)")
    parser.add_argument("--uvloop", action="store_true")
    parser.add_argument("--profile", metavar="PATH", help="cProfile mediahub into PATH")
    parser.add_argument("--gc-log", action="store_true",
                        help="log mediahub's garbage collections, print them per measured kind")
    args = parser.parse_args()
    deflate = args.deflate == "on"
    sizes = [int(n) for n in args.guests.split(",")]

    reference_port = free_port()
    reference_args = [sys.executable, str(REFERENCE_APP), str(reference_port)]
    reference_args += ["--compression"] * args.server_compression + ["--uvloop"] * args.uvloop
    env = {"MEDIAHUB__SERVER__WEBSOCKET_COMPRESSION": "true" if args.server_compression else "false",
           "MEDIAHUB__SERVER__LOG_LEVEL": "warning",
           # Every guest joins from 127.0.0.1: no per-address limit on guest accounts.
           "MEDIAHUB__AUTH__GUESTS_PER_ADDRESS_PER_MINUTE": "0"}
    reference = subprocess.Popen(reference_args, stdout=subprocess.DEVNULL)
    try:
        with tempfile.TemporaryDirectory() as tmp, ServerProcess(Path(tmp) / "data", env) as server:
            gc_log = Path(tmp) / "gc.log"
            if args.gc_log and (args.uvloop or args.profile):
                parser.error("--gc-log goes with neither --uvloop nor --profile")
            if args.uvloop or args.profile or args.gc_log:
                # Restart mediahub the way asked (ServerProcess has migrated the data dir).
                # SIGTERM at the end stops Hypercorn gracefully, so cProfile writes its file.
                server.__exit__()
                serve = ["-c", UVLOOP_SERVE] if args.uvloop else ["-m", "mediahub.cli"]
                if args.profile:
                    serve = ["-c", PROFILED_SERVE, args.profile]
                if args.gc_log:
                    serve = ["-c", GC_LOGGED_SERVE, str(gc_log)]
                server.args = [sys.executable, *serve, *server.args[3:]]
                server.__enter__()
            wait_for_port(reference_port, reference)
            print(machine_line(), flush=True)
            print(f"clients {'offer' if deflate else 'do not offer'} permessage-deflate; servers "
                  f"{'accept' if args.server_compression else 'refuse'} it; "
                  f"{'uvloop' if args.uvloop else 'asyncio'} event loop", flush=True)
            for size in sizes:
                ours = await run(mediahub_party, server.url, server.process.pid, size,
                                 args.commands, deflate, profiled=bool(args.profile))
                bare = await run(reference_party, f"http://127.0.0.1:{reference_port}",
                                 reference.pid, size, args.commands, deflate)
                verdict = ""
                if size == 1000:
                    met = all(ours[kind]["p99"] <= TARGET_P99_MS for kind in ("state", "queue", "reaction"))
                    verdict = " (target p99 <= 60 ms for every kind: " + ("met)" if met else "NOT met)")
                print(f"{size} guests, {args.commands} commands of each kind: mediahub p99 / "
                      f"reference p99 = {ours['state']['p99'] / bare['state']['p99']:.2f}{verdict}")
                print(line("state", ours["state"]))
                decide = ", ".join(f"{kind.split('_')[1].lower()} {ms:.1f}"
                                   for kind, ms in ours["queue"]["decide"].items())
                print(line("queue", ours["queue"]) + f"  ({ours['queue']['bytes']} B messages; "
                      f"first guest p50 by kind: {decide} ms)")
                print(line("reaction", ours["reaction"]))
                print(line("reference", bare["state"]), flush=True)
                if args.gc_log:
                    windows = ours["windows"]
                    print(f"  mediahub GC while the guests joined: "
                          f"{server_collections(gc_log, windows['joined'])}")
                    for kind in ("state", "queue", "reaction"):
                        print(f"  mediahub GC while {kind} was measured: "
                              f"{server_collections(gc_log, windows[kind])}")
            print(machine_line(), flush=True)
    finally:
        stop_processes([reference])


if __name__ == "__main__":
    asyncio.run(main())
