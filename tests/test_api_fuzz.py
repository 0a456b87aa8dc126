"""schemathesis over /openapi.json against a real server: no 500, no response breaking its schema."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path

from tests.support.server_process import ServerProcess

CHECKS = ",".join([
    "not_a_server_error",
    "response_schema_conformance",
    "status_code_conformance",
    "content_type_conformance",
    "negative_data_rejection",
])
# Signing out revokes the token every other request is sent with: fuzzed on its own, after
# the rest. A password change's wrong guesses count as failed sign-ins (the throttle then
# refuses the admin's next sign-in): fuzzed on its own, last of all.
LOGOUT = "/api/auth/logout"
PASSWORD_CHANGE = "^/(api/auth|account)/password$"  # the API and the account page
# Routes deliberately left out of the document: static files and the document itself.
UNDOCUMENTED = re.compile(r"^/(static|openapi\.json)")
# At 25 examples per operation the run generates about 3,500 cases; far fewer means whole
# operations were skipped (a schema that fails to load, a filter that matches too much).
MIN_CASES = 2500


ADMIN, PASSWORD = "fuzz-admin", "fuzz admin password"


def create_admin(server: ServerProcess) -> None:
    """An admin account made as a self-hoster makes one (the CLI): every route is open to it."""
    subprocess.run([*server.args[:3], "user", "create", ADMIN, "--admin", "--password", PASSWORD],
                   env=server.env, check=True, capture_output=True, timeout=120)


def admin_token(url: str) -> str:
    """A fresh sign-in (the logout run revokes the token it is given)."""
    body = json.dumps({"username": ADMIN, "password": PASSWORD}).encode()
    request = urllib.request.Request(f"{url}/api/auth/login", data=body,
                                     headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)["access_token"]


async def test_every_http_route_is_in_the_fuzzed_schema(mediahub_app):
    document = await (await mediahub_app.test_client().get("/openapi.json")).get_json()
    documented = {(path, method.upper()) for path, operations in document["paths"].items()
                  for method in operations}
    missing = []
    for rule in mediahub_app.url_map.iter_rules():
        path = re.sub(r"<(?:[a-z]+:)?(\w+)>", r"{\1}", rule.rule)
        if rule.websocket or UNDOCUMENTED.match(path):
            continue
        missing += [f"{method} {path}" for method in sorted(rule.methods - {"HEAD", "OPTIONS"})
                    if (path, method) not in documented]
    assert missing == []
    # Every built-in plugin has operations in it.
    for prefix in ("/api/v1/threads", "/api/temp-upload/", "/api/parties", "/tracks/upload/",
                   "/api/me/library", "/api/auth/"):
        assert any(path.startswith(prefix) for path, _ in documented), prefix


def run_schemathesis(url: str, cwd: Path, *selection: str) -> tuple[subprocess.CompletedProcess, int]:
    """One schemathesis run with a fresh admin sign-in; (the process, test cases generated)."""
    schemathesis = Path(sys.executable).parent / "schemathesis"
    assert schemathesis.exists() or shutil.which("schemathesis"), "schemathesis is a test dependency"
    result = subprocess.run(
        [str(schemathesis), "run", f"{url}/openapi.json", "--checks", CHECKS,
         "--max-examples", "25", "--workers", "1", "--seed", "1", "--no-color",
         "--generation-codec", "utf-8", "--request-timeout", "20",
         "--header", f"Authorization: Bearer {admin_token(url)}", *selection],
        capture_output=True, text=True, timeout=600, cwd=cwd)
    generated = re.search(r"Test cases:\s*\n\s*(\d+) generated", result.stdout)
    return result, int(generated.group(1)) if generated else 0


def test_schemathesis_finds_no_server_error_and_no_schema_violation(tmp_path):
    # Join-code guessing is rate-limited (429 after a few misses); the fuzzer guesses codes
    # all the time, and must reach the party routes themselves.
    env = {"MEDIAHUB__PLUGINS__LISTEN_PARTY__CODE_MISSES_PER_MINUTE": "1000"}
    with ServerProcess(tmp_path / "data", env=env) as server:
        create_admin(server)
        everything, cases = run_schemathesis(server.url, tmp_path, "--exclude-path", LOGOUT,
                                             "--exclude-path-regex", PASSWORD_CHANGE)
        logout, logout_cases = run_schemathesis(server.url, tmp_path, "--include-path", LOGOUT)
        change, change_cases = run_schemathesis(server.url, tmp_path,
                                                "--include-path-regex", PASSWORD_CHANGE)
        server_log = server.output()
    for result in (everything, logout, change):
        report = result.stdout[-6000:]
        assert result.returncode == 0, f"{report}\n--- server log ---\n{server_log[-4000:]}"
        # With a revoked or wrong token most operations answer only 401: fuzzing nothing.
        # (One is expected: POST /login, the sign-in form, refuses whatever it is sent.)
        unauthenticated = re.search(r"Authentication failed: (\d+) operation", report)
        assert unauthenticated is None or int(unauthenticated.group(1)) <= 1, report
    assert "Traceback" not in server_log, server_log[-4000:]
    print(f"schemathesis: {cases + logout_cases + change_cases} test cases, 0 failures")
    assert cases >= MIN_CASES and logout_cases > 0 and change_cases > 0, (
        cases, logout_cases, change_cases)
