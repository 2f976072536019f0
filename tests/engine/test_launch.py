"""The `layerdeck` script sends sub-commands to the CLI, wherever --db sits."""
from __future__ import annotations

import subprocess
import sys


def _layerdeck(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "app.launch", *args], capture_output=True, text=True, timeout=120)


def test_runs_list_with_db_before_the_command(tmp_path):
    url = f"sqlite:///{tmp_path / 'runs.db'}"
    for args in (["--db", url, "runs", "list"], [f"--db={url}", "runs", "list"], ["runs", "list", "--db", url]):
        out = _layerdeck(*args)
        assert out.returncode == 0, (args, out.stderr)
        assert "Traceback" not in out.stderr
