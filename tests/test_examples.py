"""Every example script runs to the end in fast mode and writes its figure."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES_DIR = Path(__file__).resolve().parents[1] / "examples"
EXAMPLES = sorted(EXAMPLES_DIR.glob("*.py"))

pytest.importorskip("matplotlib")


def test_examples_are_found():
    assert len(EXAMPLES) >= 6


@pytest.mark.parametrize("script", EXAMPLES, ids=[path.name for path in EXAMPLES])
def test_example_runs(script, tmp_path):
    if "aeon" in script.read_text():
        pytest.importorskip("aeon")
    figure_dir = tmp_path / "figures"
    env = {
        **os.environ,
        "SKLEARN_WDIST_FAST": "1",
        "SKLEARN_WDIST_FIGURE_DIR": str(figure_dir),
        "MPLBACKEND": "Agg",
    }
    result = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,  # a script must not write into the working directory
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, (
        f"{script.name} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    )
    figures = list(figure_dir.glob("*.png"))
    assert figures, f"{script.name} wrote no PNG to SKLEARN_WDIST_FIGURE_DIR"
    assert all(path.stat().st_size > 1000 for path in figures)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["figures"]
    assert "Traceback" not in result.stderr
