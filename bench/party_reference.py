"""The reference for bench/party.py: a bare Quart + Hypercorn broadcast, nothing of mediahub in it.

    .venv/bin/python bench/party_reference.py PORT [--compression] [--uvloop]

Speaks just enough of the party protocol for the benchmark's clients: every socket gets a
SNAPSHOT on connect; a `HOST_<X>` frame from any socket is answered by an `<X>` message
(as big as a real party state message) sent to every socket, the host's own included.
It is the textbook Quart broadcast (one asyncio.Queue and one sender task per socket), with
no database, no authentication and no bus: what delivery costs when a server does nothing
else. Served like `mediahub serve` (same backlog, no access log, compression refused
unless `--compression`, which leaves Hypercorn's default of accepting it).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from quart import Quart, websocket  # noqa: E402

app = Quart(__name__)
queues: set[asyncio.Queue] = set()
version = 1


def state_message(kind: str) -> str:
    """About the size and shape of a real `protocol.state_message`."""
    return json.dumps({"t": kind, "version": version, "serverTimestamp": time.time() * 1000 + 700,
                       "positionSec": 0.0, "playing": kind == "PLAY", "trackId": "x" * 32,
                       "trackUrl": "/api/track/" + "x" * 32, "filename": "b.wav",
                       "hostId": "00000000-0000-0000-0000-000000000000"},
                      separators=(",", ":"))


@app.websocket("/ws")
async def broadcast() -> None:
    global version
    queue: asyncio.Queue = asyncio.Queue()
    queues.add(queue)

    async def sender() -> None:
        while True:
            await websocket.send(await queue.get())

    task = asyncio.create_task(sender())
    try:
        await websocket.send(state_message("SNAPSHOT"))
        while True:
            message = json.loads(await websocket.receive())
            kind = str(message.get("t", ""))
            if kind.startswith("HOST_"):
                version += 1
                text = state_message(kind[len("HOST_"):])
                for other in queues:
                    other.put_nowait(text)
    finally:
        queues.discard(queue)
        task.cancel()


def main() -> None:
    from hypercorn.asyncio import serve
    from hypercorn.config import Config

    from mediahub._compat.hypercorn import set_websocket_compression

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("port", type=int)
    parser.add_argument("--compression", action="store_true")
    parser.add_argument("--uvloop", action="store_true")
    args = parser.parse_args()
    set_websocket_compression(args.compression)
    config = Config()
    config.bind = [f"127.0.0.1:{args.port}"]
    config.backlog = 1024
    config.accesslog = None
    if args.uvloop:
        import uvloop

        uvloop.install()
    asyncio.run(serve(app, config))


if __name__ == "__main__":
    main()
