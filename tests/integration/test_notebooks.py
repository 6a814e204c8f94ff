"""Both notebooks run top to bottom (nbclient) against a tiny quick-demo output; committed stripped."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.demo_fixtures import tiny_quick_settings

pytestmark = pytest.mark.slow  # executes the notebooks end to end (~30 s each)

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ("explore.ipynb", "universality.ipynb")


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory) -> Path:
    from saegraph.demo.pipeline import run_demo

    out = tmp_path_factory.mktemp("nbdemo") / "demo"
    settings = tiny_quick_settings()
    run_demo(out, settings, progress=False)
    return out


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_is_committed_without_outputs(name):
    nb = nbformat.read(ROOT / "notebooks" / name, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, (
                f"{name}: strip outputs before committing"
            )


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs_top_to_bottom(name, demo_dir, monkeypatch):
    monkeypatch.setenv("SAEGRAPH_DEMO_DIR", str(demo_dir))
    monkeypatch.setenv("SAEGRAPH_NB_DRAWS", "3")
    monkeypatch.setenv("SAEGRAPH_NB_PERM", "20")
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.delenv("NEO4J_URI", raising=False)
    nb = nbformat.read(ROOT / "notebooks" / name, as_version=4)
    client = nbclient.NotebookClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(ROOT / "notebooks")}}
    )
    client.execute()  # raises CellExecutionError on the first failing cell
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors
    # the notebooks hold no logic: every code cell is short and imports only the library
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert "def " not in cell.source and len(cell.source.splitlines()) <= 25
            for line in cell.source.splitlines():
                if line.startswith(("import ", "from ")):
                    assert not line.split()[1].startswith("ingest"), f"{name}: notebooks need only `queries`"
