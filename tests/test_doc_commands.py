"""Every command line README.md, docs/*.md and config.example.toml show, run as a reader would.

The lines are read from the documents themselves (fenced blocks and inline `mediahub ...`), so a
document that shows an option the CLI does not take fails here. How each one is tried:

- ran: the command runs to its end in this process (click's runner), in a fresh directory
  holding `mediahub.toml`, with MEDIAHUB_CONFIG pointing at it for lines that give no `-c`;
  it must exit 0.
- started: `serve` (and `worker`, when MEDIAHUB_TEST_REDIS_URL gives it a Redis) runs as a real
  process until it answers (/healthz) or has stayed up, then gets SIGTERM.
- refused: `worker` without a Redis: it must exit with its documented refusal, not a usage error.
- parsed only: click parses the whole line (every option and argument, types converted) and
  nothing runs. Only for lines that would change the source tree (`makemigrations` writes
  migration files, `./scripts/serve` pip-installs this checkout into ./.venv, `./scripts/test`
  is this suite); `./scripts/serve` lines are also started as the `mediahub serve` they exec.

Placeholders are filled in: FILE and /etc/mediahub/mediahub.toml are the temp `mediahub.toml`,
NAME a new user name, `[--admin]` is given; a fixed `--port N` becomes a free port.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from mediahub.cli import main
from tests.support.ports import free_port

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), ROOT / "config.example.toml"]
# What click prints with a usage error (exit 2); "Usage:" alone is also in --help's answer.
USAGE_ERRORS = ("No such option", "no such option", "No such command", "Missing argument",
                "Missing option", "Invalid value", "Got unexpected extra argument", "for help.")


def command_lines(path: Path) -> list[str]:
    """The command lines one document shows."""
    text = path.read_text(encoding="utf-8")
    lines = []
    if path.suffix == ".md":
        for block in re.findall(r"```[^\n]*\n(.*?)```", text, flags=re.S):
            lines += [line for line in block.splitlines()
                      if re.match(r"\s*(\$ )?([A-Z_]+=\S+ )*(mediahub |\./scripts/)", line)]
        text = re.sub(r"```.*?```", "", text, flags=re.S)
    else:  # config.example.toml: "# Run with:   mediahub -c mediahub.toml serve"
        lines += re.findall(r"^#\s*[\w ]+:\s+(mediahub [^(\n]*)", text, flags=re.M)
    lines += re.findall(r"`(mediahub [^`]*)`", text)
    return lines


def normalise(line: str) -> str:
    line = re.sub(r"\s+#.*$", "", line.strip()).removeprefix("$ ")
    line = line.replace("/etc/mediahub/mediahub.toml", "mediahub.toml")
    line = re.sub(r"(-c|--config) FILE\b", r"\1 mediahub.toml", line)
    line = line.replace("[--admin]", "--admin").replace("user create NAME", "user create docs-admin")
    # Run after `user create` (the lines run sorted), on the account it made.
    line = line.replace("user set-password NAME", "user set-password docs-admin")
    return " ".join(line.split())


def shown() -> dict[str, list[str]]:
    """Each distinct command line -> the documents showing it."""
    found: dict[str, list[str]] = {}
    for path in DOCUMENTS:
        for line in command_lines(path):
            found.setdefault(normalise(line), []).append(path.name)
    return found


SHOWN = shown()


def test_the_documents_show_the_commands_this_test_relies_on():
    """The extraction works: the README's table and the deployment guide's lines are found."""
    assert {"mediahub config check -c mediahub.toml", "mediahub config show -c mediahub.toml",
            "mediahub -c mediahub.toml config check", "mediahub user create docs-admin --admin",
            "mediahub serve", "./scripts/serve --port 9000",
            "MEDIAHUB_CONFIG=mediahub.toml ./scripts/serve", "mediahub library scan",
            "mediahub -c mediahub.toml serve"} <= set(SHOWN), sorted(SHOWN)


def write_config(folder: Path, extra: str = "") -> int:
    """A `mediahub.toml` in `folder` (data, music folder and port of its own); returns the port."""
    port = free_port()
    (folder / "music").mkdir(parents=True, exist_ok=True)
    (folder / "mediahub.toml").write_text(
        f'[server]\ndata_dir = "{folder / "data"}"\nport = {port}\n{extra}'
        f'[plugins.music_library]\nfolders = ["{folder / "music"}"]\n', encoding="utf-8")
    return port


def split(line: str) -> tuple[dict[str, str], list[str]]:
    """(leading VAR=value assignments, the words after them)."""
    words = shlex.split(line)
    env = {}
    while words and re.fullmatch(r"[A-Z_]+=\S*", words[0]):
        name, value = words.pop(0).split("=", 1)
        env[name] = value
    return env, words


def subcommand(args: list[str]) -> str:
    """The first word that is not `-c FILE`: serve, worker, config, ..."""
    rest = list(args)
    while rest and rest[0] in ("-c", "--config"):
        rest = rest[2:]
    return rest[0] if rest else ""


def parse_only(args: list[str]) -> None:
    """Let click parse the whole line (options, arguments, types) without running anything."""
    ctx = main.make_context("mediahub", list(args), resilient_parsing=False)
    command: click.Command = main
    while isinstance(command, click.Group):
        words = ctx.protected_args + ctx.args
        if not words:
            break
        name, command, rest = command.resolve_command(ctx, words)
        ctx = command.make_context(name, rest, parent=ctx)


def start_process(args: list[str], cwd: Path, env: dict[str, str], ready) -> str:
    """Run `mediahub ARGS` until `ready(output_path)` holds, then SIGTERM; returns its output."""
    log = cwd / f"process-{time.monotonic_ns()}.log"
    with open(log, "w") as out:
        process = subprocess.Popen([sys.executable, "-m", "mediahub.cli", *args], cwd=cwd,
                                   env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 90
            while not ready(log):
                assert process.poll() is None, f"exited {process.returncode}: {log.read_text()}"
                assert time.monotonic() < deadline, f"never ready: {log.read_text()}"
                time.sleep(0.2)
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                raise
    return log.read_text()


def answers(port: int):
    def ready(_log: Path) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as resp:
                return resp.status == 200
        except OSError:
            return False
    return ready


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """One directory holding `mediahub.toml`, the reader's working directory for every line (as
    for someone following the documents: the database is migrated once, then reused)."""
    folder = tmp_path_factory.mktemp("reader")
    port = write_config(folder)
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(folder)
        yield folder, port


def with_port(args: list[str], port: int) -> list[str]:
    """A fixed `--port N` (9000 may be taken on this machine) becomes the world's free port."""
    out = list(args)
    if "--port" in out:
        out[out.index("--port") + 1] = str(port)
    return out


@pytest.mark.parametrize("line", sorted(SHOWN), ids=lambda line: line[:60])
def test_every_documented_command_line_works(line, world):
    folder, port = world
    env, words = split(line)
    config = {"MEDIAHUB_CONFIG": str(folder / "mediahub.toml"), **env}  # `-c` in the line wins
    if words[0].startswith("./scripts/"):
        script = ROOT / words[0]
        assert script.is_file() and os.access(script, os.X_OK), f"{words[0]} is not an executable"
        if words[0] == "./scripts/test":
            return  # parsed only: it is this suite (its arguments go to pytest)
        # parsed only as a script (it pip-installs into ./.venv); what it runs is started below.
        assert 'exec .venv/bin/mediahub serve "$@"' in script.read_text()
        words = ["mediahub", "serve", *words[1:]]
    assert words[0] == "mediahub", line
    args = words[1:]
    what = subcommand(args)
    if what == "makemigrations":  # parsed only: it would write migration files into the checkout
        parse_only(args)
        return
    if what == "serve":
        output = start_process(with_port(args, port), folder, config, answers(port))
        assert not any(word in output for word in USAGE_ERRORS), output
        return
    if what == "worker":
        redis = os.environ.get("MEDIAHUB_TEST_REDIS_URL")
        if redis is None:  # refused: jobs run inside `serve` on the embedded default
            result = CliRunner().invoke(main, args, env=config)
            assert result.exit_code == 1, result.output
            assert '`mediahub worker` needs jobs.backend = "arq"' in result.output
            return
        folder = folder / "worker"  # a world of its own: the jobs of this one stay in-process
        folder.mkdir(exist_ok=True)
        write_config(folder, f'[jobs]\nbackend = "arq"\nredis_url = "{redis}"\n')
        config["MEDIAHUB_CONFIG"] = str(folder / "mediahub.toml")
        started = time.monotonic()
        output = start_process(args, folder, config, lambda _log: time.monotonic() - started > 8)
        assert not any(word in output for word in USAGE_ERRORS), output
        return
    result = CliRunner().invoke(main, args, env=config,
                                input="a-long-password\na-long-password\n")
    assert not any(word in result.output for word in USAGE_ERRORS), result.output
    assert result.exit_code == 0, f"{line} (from {SHOWN[line]}): {result.output}"


def test_config_check_takes_c_before_and_after_the_command_with_the_same_answer(tmp_path):
    """The README's `mediahub config check -c FILE` and the older `mediahub -c FILE config check`."""
    (tmp_path / "bad.toml").write_text(f'[server]\ndata_dir = "{tmp_path}"\nprot = 1\n')
    before = CliRunner().invoke(main, ["-c", str(tmp_path / "bad.toml"), "config", "check"])
    after = CliRunner().invoke(main, ["config", "check", "-c", str(tmp_path / "bad.toml")])
    long_form = CliRunner().invoke(main, ["config", "check", f"--config={tmp_path / 'bad.toml'}"])
    assert before.exit_code == after.exit_code == long_form.exit_code == 1
    assert before.output == after.output == long_form.output
    assert "server.prot: unknown key; did you mean 'port'?" in after.output


def test_a_plugin_command_finds_its_plugin_from_a_config_given_after_it(tmp_path):
    """`[plugins] dirs` in FILE adds `shout`: `mediahub shout hello -c FILE` must see it."""
    path = tmp_path / "mediahub.toml"
    path.write_text(f'[server]\ndata_dir = "{tmp_path}/data"\n[plugins]\n'
                    f'dirs = ["{ROOT / "tests" / "plugins" / "command_dir"}"]\n')
    result = CliRunner().invoke(main, ["shout", "hello", "-c", str(path)])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "HELLO!"


@pytest.mark.parametrize("args", [["serve"], ["config", "check"], ["config", "show"], ["plugins"],
                                  ["migrate"], ["cleanup"], ["user", "create"], ["worker"],
                                  ["library", "scan"]])
def test_every_command_help_shows_the_config_option(args):
    result = CliRunner().invoke(main, [*args, "--help"])
    assert result.exit_code == 0, result.output
    assert "-c, --config FILE" in result.output
    assert "before or after the command" in " ".join(result.output.split())
