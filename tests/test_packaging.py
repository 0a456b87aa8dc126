"""`pip install .` (not editable) gives a working server: templates, static, plugins, migrations."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_wheel_ships_site_files_plugins_and_migrations(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "-q", "-w", str(tmp_path), str(ROOT)], check=True, capture_output=True)
    wheel = next(tmp_path.glob("mediahub-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    for template in (ROOT / "templates").rglob("*.html"):
        assert f"mediahub/_site/templates/{template.relative_to(ROOT / 'templates')}" in names
    for static in (ROOT / "static").rglob("*"):
        if static.is_file():
            assert f"mediahub/_site/static/{static.relative_to(ROOT / 'static')}" in names
    assert "mediahub/migrations/0001_initial.py" in names
    for plugin in (ROOT / "plugins").iterdir():
        if (plugin / "__init__.py").exists():
            assert f"{plugin.name}/__init__.py" in names, f"{plugin.name} is missing from the wheel"
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "local-disk = mediahub_local_disk" in text
    assert "mediahub = mediahub.cli:main" in text
