"""The planted-truth benchmark's --quick form: its table prints (true and SAE-trained rows) and every
target is met."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow  # ~30 s alone (LASSO, a 512-latent SAE), more under load


def test_bench_planted_quick(capsys, tmp_path):
    from tests.benchmarks.bench_planted import main

    out = tmp_path / "validation.md"
    assert main(["--quick", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "CO_ACTIVATES default" in text and "EXCLUDES default" in text and "targets: all met" in text
    assert "SAE-trained (" in text and "true features recovered" in text
    written = out.read_text()
    assert "Validation on planted ground truth" in written and "## SAE-trained activations" in written
