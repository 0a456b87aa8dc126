"""Loopback ports for test servers: one free now, several distinct at once, or one nobody listens on."""

from __future__ import annotations

import socket


def free_port() -> int:
    """A loopback port free right now (bound, read, released)."""
    return free_ports(1)[0]


def free_ports(count: int) -> list[int]:
    """Distinct ports free right now (held open together so none is handed out twice)."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def closed_port() -> int:
    """A port nothing listens on (bound then released)."""
    return free_port()
