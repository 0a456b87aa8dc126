"""schemathesis over /openapi.json against a real server: no 500, no response breaking its schema."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path

from tests.server_process import ServerProcess

CHECKS = ",".join([
    "not_a_server_error",
    "response_schema_conformance",
    "status_code_conformance",
    "content_type_conformance",
    "negative_data_rejection",
])


def guest_token(url: str) -> str:
    request = urllib.request.Request(f"{url}/api/auth/guest", data=b'{"display_name": "fuzz"}',
                                     headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)["access_token"]


def test_schemathesis_finds_no_server_error_and_no_schema_violation(tmp_path):
    schemathesis = Path(sys.executable).parent / "schemathesis"
    assert schemathesis.exists() or shutil.which("schemathesis"), "schemathesis is a test dependency"
    with ServerProcess(tmp_path / "data") as server:
        token = guest_token(server.url)
        result = subprocess.run(
            [str(schemathesis), "run", f"{server.url}/openapi.json", "--checks", CHECKS,
             "--max-examples", "25", "--workers", "1", "--seed", "1", "--no-color",
             "--generation-codec", "utf-8", "--request-timeout", "20",
             "--header", f"Authorization: Bearer {token}",
             # Sign-out links end the fuzzer's own session; pages are fuzzed, static files are not.
             "--exclude-path-regex", "^/static/"],
            capture_output=True, text=True, timeout=600, cwd=tmp_path)
        server_log = server.output()
    report = result.stdout[-6000:]
    assert result.returncode == 0, f"{report}\n--- server log ---\n{server_log[-4000:]}"
    assert "Traceback" not in server_log, server_log[-4000:]
