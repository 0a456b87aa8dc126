"""Run `mediahub serve` as a real process on a free loopback port, for end-to-end tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from tests.support.ports import free_port



class ServerProcess:
    """`with ServerProcess(data_dir) as server: server.url` — stopped (SIGTERM) on exit.

    For crash tests: `server.kill()` SIGKILLs it, `server.start()` runs it again on the
    same port, data dir and config (the log file is appended to, not replaced).
    """

    def __init__(self, data_dir: Path, env: dict[str, str] | None = None, config: Path | None = None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "MEDIAHUB__SERVER__DATA_DIR": str(data_dir), **(env or {})}
        self.args = [sys.executable, "-m", "mediahub.cli"]
        if config is not None:
            self.args += ["-c", str(config)]
        self.args += ["serve", "--port", str(self.port)]
        self.log_path = Path(data_dir).parent / f"server-{self.port}.log"
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> "ServerProcess":
        return self.start()

    def start(self) -> "ServerProcess":
        """Start the process and wait until /healthz answers."""
        self.log = open(self.log_path, "a")
        self.process = subprocess.Popen(self.args, env=self.env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited: {self.log_path.read_text()}")
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=2):
                    return self
            except OSError:
                time.sleep(0.1)
        self.__exit__()
        raise RuntimeError(f"server did not answer: {self.log_path.read_text()}")

    def __exit__(self, *exc) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.log.close()

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, as in a power cut or an OOM kill."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()
        self.log.close()

    def output(self) -> str:
        return self.log_path.read_text()
