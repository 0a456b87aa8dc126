"""Benchmark: party message delivery to 100 / 500 / 1,000 WebSocket guests on one `mediahub serve`.

    .venv/bin/python bench/party.py [--guests 100,500,1000] [--commands 100] [--deflate both|on|off]

Starts a real server (tests/server_process.py: Hypercorn, SQLite in a temp dir), makes a
party, joins N guests (guest accounts), connects their sockets, then the host sends
`--commands` commands (pause / play alternately, at most ~8 per second as the flood
control allows), each once the previous one reached every
guest. Delivery latency = host send -> guest receive, all clients in this process on the
same clock. Prints p50 / p95 / p99, the server's RSS, and as the reference measured in the
same run the latency with a single guest (ratio = p99 / reference p99).

`--deflate on` makes the clients offer permessage-deflate as every browser does (Hypercorn
accepts it); `off` is a client that does not ask. Target: p99 <= 60 ms at 1,000 guests.
The clients share this machine's cores with the server: the numbers include their cost.
Not a test: numbers vary with the machine and whatever else it is running.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx  # noqa: E402

from tests.party_helpers import multipart, wav_bytes  # noqa: E402
from tests.party_wsclient import WebSocketClient  # noqa: E402
from tests.server_process import ServerProcess  # noqa: E402

TARGET_P99_MS = 60.0
COMMAND_GAP_S = 0.12


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


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


async def connect_all(ws_base: str, code: str, tokens: list[str], deflate: bool) -> list[WebSocketClient]:
    async def one(token: str) -> WebSocketClient:
        client = await WebSocketClient.connect(f"{ws_base}/ws/party/{code}?access_token={token}",
                                               offer_deflate=deflate)
        await client.receive_json("SNAPSHOT", timeout=60)
        return client

    clients: list[WebSocketClient] = []
    for start in range(0, len(tokens), 100):
        clients += await asyncio.gather(*(one(t) for t in tokens[start:start + 100]))
    return clients


async def run(server: ServerProcess, guests: int, commands: int, deflate: bool) -> dict:
    async with httpx.AsyncClient(base_url=server.url, timeout=60) as http:
        username = f"bench{guests}{int(deflate)}{int(time.time() * 1000) % 100000}"
        host_token = (await http.post("/api/auth/register", json={
            "username": username, "password": "correct horse battery"})).json()["access_token"]
        auth = {"Authorization": f"Bearer {host_token}"}
        party = (await http.post("/api/parties", json={}, headers=auth)).json()
        code = party["code"]
        tokens = await join_guests(server.url, code, guests)
    ws_base = server.url.replace("http://", "ws://")
    host = await WebSocketClient.connect(f"{ws_base}/ws/party/{code}?access_token={host_token}",
                                         offer_deflate=deflate)
    version = (await host.receive_json("SNAPSHOT"))["version"]
    clients = await connect_all(ws_base, code, tokens, deflate)
    # Pause / play need a track the server knows: upload a tiny WAV.
    async with httpx.AsyncClient(base_url=server.url, timeout=60) as http:
        body, content_type = multipart({"audio": ("b.wav", wav_bytes(0.2))})
        track = (await http.post("/api/upload-track", content=body,
                                 headers={**auth, **content_type})).json()
    await host.send_json({"t": "HOST_TRACK_SELECTED", "version": version, "trackId": track["trackId"]})
    version = (await host.receive_json("TRACK_SELECTED"))["version"]
    await asyncio.gather(*(c.receive_json("TRACK_SELECTED", timeout=60) for c in clients))

    latencies: list[float] = []
    for i in range(commands):
        kind, reply = ("HOST_PLAY", "PLAY") if i % 2 == 0 else ("HOST_PAUSE", "PAUSE")

        async def arrival(client: WebSocketClient) -> float:
            await client.receive_json(reply, timeout=30)
            return time.perf_counter()

        waiting = [asyncio.create_task(arrival(c)) for c in clients]
        await asyncio.sleep(0)
        sent = time.perf_counter()
        await host.send_json({"t": kind, "version": version})
        arrivals = await asyncio.gather(*waiting)
        latencies += [(t - sent) * 1000 for t in arrivals]
        version = (await host.receive_json(reply))["version"]
        # A host is limited to 10 messages/s sustained (flood control): pace like a person.
        await asyncio.sleep(max(0.0, COMMAND_GAP_S - (time.perf_counter() - sent)))
    rss = rss_mib(server.process.pid)
    for client in [host, *clients]:
        await client.close()
    return {"guests": guests, "deflate": deflate, "p50": percentile(latencies, .5),
            "p95": percentile(latencies, .95), "p99": percentile(latencies, .99), "rss": rss}


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--guests", default="100,500,1000")
    parser.add_argument("--commands", type=int, default=100)
    parser.add_argument("--deflate", choices=["both", "on", "off"], default="both")
    args = parser.parse_args()
    modes = {"both": [False, True], "on": [True], "off": [False]}[args.deflate]
    sizes = [int(n) for n in args.guests.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        for deflate in modes:
            with ServerProcess(Path(tmp) / f"data-{int(deflate)}") as server:
                reference = await run(server, 1, args.commands, deflate)
                print(f"permessage-deflate {'offered' if deflate else 'not offered'}; reference "
                      f"(1 guest): p99 {reference['p99']:.1f} ms")
                for size in sizes:
                    result = await run(server, size, args.commands, deflate)
                    verdict = ""
                    if size == 1000:
                        verdict = "  (target p99 <= 60 ms: " + \
                                  ("met)" if result["p99"] <= TARGET_P99_MS else "NOT met)")
                    print(f"  {size:5d} guests: p50 {result['p50']:6.1f} ms  p95 {result['p95']:6.1f} ms"
                          f"  p99 {result['p99']:6.1f} ms  ({result['p99'] / reference['p99']:.1f}x "
                          f"reference)  server RSS {result['rss']:.0f} MiB{verdict}")


if __name__ == "__main__":
    asyncio.run(main())
