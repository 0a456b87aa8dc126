"""`mediahub config check -c FILE` on plugin sections: each real mistake once, nothing else.

Run as a process, as a person runs it: the plugin host's log lines would reach the terminal there
(under pytest they go to its log capture instead)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def check(tmp_path: Path, text: str) -> subprocess.CompletedProcess:
    path = tmp_path / "mediahub.toml"
    path.write_text(f'[server]\ndata_dir = "{tmp_path}/data"\n{text}', encoding="utf-8")
    return subprocess.run([sys.executable, "-m", "mediahub.cli", "config", "check", "-c", str(path)],
                          capture_output=True, text=True, timeout=120)


def test_one_bad_plugin_value_is_reported_once_and_alone(tmp_path):
    result = check(tmp_path, '[plugins.listen_party]\nstart_lead_ms = "x"\n')
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "plugins.listen_party.start_lead_ms: Input should be a valid number, "
        "unable to parse string as a number (got 'x')",
        "1 problem(s) found",
    ]


def test_two_bad_values_in_two_plugins_are_two_problems(tmp_path):
    result = check(tmp_path, '[plugins.listen_party]\nstart_lead_ms = "x"\n'
                             '[plugins.library_sync]\nnot_a_key = 1\n')
    lines = result.stderr.splitlines()
    assert result.returncode == 1
    assert lines[-1] == "2 problem(s) found", result.stderr
    assert len(lines) == 3, result.stderr
    assert sorted(line.split(":")[0] for line in lines[:2]) == [
        "plugins.library_sync.not_a_key", "plugins.listen_party.start_lead_ms"]
    assert "disabled" not in result.stderr and "no settings" not in result.stderr


def test_a_section_nobody_reads_is_still_named_with_a_hint(tmp_path):
    result = check(tmp_path, '[plugins.listen_partyy]\nstart_lead_ms = 100\n')
    assert result.stderr.splitlines() == [
        "plugins.listen_partyy: no installed plugin reads this section; did you mean 'listen_party'?",
        "1 problem(s) found",
    ]


def test_the_section_of_a_plugin_disabled_by_config_is_not_called_settingless(tmp_path):
    """Disabled, the plugin is not loaded, so nothing can tell what its section may hold."""
    result = check(tmp_path, '[plugins]\ndisabled = ["listen-party"]\n'
                             '[plugins.listen_party]\nstart_lead_ms = 100\n')
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "config ok" and result.stderr == ""
