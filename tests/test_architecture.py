"""The dependency direction holds: ``python tools/dependencies.py`` finds no import cycle
and no module importing a layer above its own (layers/ importing models/, ...)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_imports_run_one_way_without_cycles():
    result = subprocess.run([sys.executable, str(ROOT / "tools" / "dependencies.py")],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 problem(s)" in result.stdout


def test_the_checker_finds_an_upward_import(tmp_path, monkeypatch):
    """The checker itself can fail: a layers module importing models is reported."""
    sys.path.insert(0, str(ROOT / "tools"))
    try:
        import dependencies
    finally:
        sys.path.pop(0)
    package = tmp_path / "neuralab"
    (package / "layers").mkdir(parents=True)
    (package / "models").mkdir()
    (package / "__init__.py").write_text("")
    (package / "layers" / "__init__.py").write_text("from ..models import thing\n")
    (package / "models" / "__init__.py").write_text("from ..layers import other\n")
    monkeypatch.setattr(dependencies, "ROOT", package)
    assert dependencies.main() == 1
