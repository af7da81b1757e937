"""The README's Python blocks run as written, in order, as one script.

The blocks build on each other (the usage block loads the data and fits the
embedder that the later blocks use), so they run in sequence in a fresh
interpreter, in an empty working directory. A few checks are appended to test
what the README states about the results, not only that nothing raises.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCK = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL)

# What the README claims of the names its blocks define.
CLAIMS = """
import numpy as _np
_accuracy = knn.fit(E_train, y_train).score(E_test, y_test)
assert _accuracy > 0.95, _accuracy          # README: 0.982 +/- 0.001 over seeds
assert D.shape == (len(X_test), len(X_test))
assert _np.allclose(D, D.T) and _np.all(_np.diag(D) == 0)
assert set(search.best_params_) == {
    "wassersteinsequenceembedder__n_quantiles", "kneighborsclassifier__n_neighbors"}
assert labels.shape == (len(X_test),) and (labels >= 0).any()   # not all noise
assert label_free.transform(X_test).shape == E_test.shape
_expected = embedder.transform(X_equal_length)
assert E.shape == _expected.shape
assert _np.allclose(E, _expected, atol=1e-4), _np.abs(E - _expected).max()
print("README CLAIMS OK")
"""


def readme_blocks() -> list[str]:
    return BLOCK.findall(README.read_text(encoding="utf-8"))


def test_readme_has_its_blocks():
    blocks = readme_blocks()
    assert len(blocks) >= 5
    assert "WassersteinSequenceEmbedder(random_state=0).fit" in blocks[0]


def test_readme_python_blocks_run_in_sequence(tmp_path):
    for module in ("aeon", "sktime", "onnx", "onnxruntime"):
        pytest.importorskip(module, reason=f"the README uses {module}")
    script = tmp_path / "readme.py"
    script.write_text("\n\n".join([*readme_blocks(), CLAIMS]), encoding="utf-8")
    work = tmp_path / "work"
    work.mkdir()
    result = subprocess.run(
        [sys.executable, str(script)],
        cwd=work,
        env={**os.environ, "MPLBACKEND": "Agg"},
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert result.returncode == 0, (
        f"README blocks failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    )
    assert "README CLAIMS OK" in result.stdout
    # The ONNX block writes its file where it runs, and nothing else is left.
    assert sorted(path.name for path in work.iterdir()) == ["embedder.onnx"]
