"""The planted-truth benchmark's --quick form: its table prints and every target is met."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow  # ~40 s alone (numba compile, sae_lens sampling, LASSO rows), more under load


def test_bench_planted_quick(capsys, tmp_path):
    from tests.benchmarks.bench_planted import main

    out = tmp_path / "validation.md"
    assert main(["--quick", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "CO_ACTIVATES default" in text and "EXCLUDES default" in text and "targets: all met" in text
    assert "Validation on planted ground truth" in out.read_text()
