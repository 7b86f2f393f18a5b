"""The notebooks of examples/notebooks: stored without outputs, and each one runs top to
bottom on a real Jupyter kernel (nbclient + ipykernel), failing when a cell raises.

A notebook lists the ``../shared/data`` folders it reads in its metadata
(``"neuralab": {"shared_data": ["mnist"]}``); it is skipped with a reason when one is absent.
"""

from __future__ import annotations

import json

import pytest

from .conftest import REPO, SHARED_DATA

FOLDER = REPO / "examples" / "notebooks"
NOTEBOOKS = sorted(FOLDER.glob("*.ipynb"))
_REASON = "executing notebooks needs neuralab[notebook]: nbformat, nbclient, ipykernel"


def _ids(path):
    return path.stem


def test_there_is_a_notebook_per_piece_of_course_material():
    prefixes = {p.name[:3] for p in NOTEBOOKS}
    assert prefixes >= {"000", "001", "002", "003", "004"}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids)
def test_notebook_is_stored_without_outputs(path):
    notebook = json.loads(path.read_text(encoding="utf-8"))
    cells = notebook["cells"]
    assert cells[0]["cell_type"] == "markdown" and cells[0]["source"][0].startswith("# ")
    for cell in cells:
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None, \
                f"{path.name}: a code cell was stored with its outputs (clear them before committing)"
    assert set(notebook["metadata"]["neuralab"]["shared_data"]) <= \
        {"mnist", "instruments_audio", "audio-features", "eee443_assign2", "fashion_mnist"}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids)
def test_notebook_runs_top_to_bottom_on_a_kernel(path, monkeypatch):
    nbformat = pytest.importorskip("nbformat", reason=_REASON)
    nbclient = pytest.importorskip("nbclient", reason=_REASON)
    pytest.importorskip("ipykernel", reason=_REASON)
    notebook = nbformat.read(path, as_version=4)
    missing = [name for name in notebook.metadata["neuralab"]["shared_data"]
               if not (SHARED_DATA / name).exists()]
    if missing:
        pytest.skip(f"{path.name} needs shared data: {', '.join(missing)} under {SHARED_DATA}")
    # the kernel inherits the environment: the same data folder as the tests, no GUI, and
    # one BLAS thread (the notebooks' matrices are small; on a busy machine OpenBLAS' second
    # thread made a 1024x200 MLP 60 times slower)
    monkeypatch.setenv("NEURALAB_SHARED_DATA", str(SHARED_DATA))
    for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        monkeypatch.setenv(variable, "1")
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    client = nbclient.NotebookClient(notebook, timeout=300, kernel_name="python3",
                                     resources={"metadata": {"path": str(FOLDER)}})
    client.execute()  # CellExecutionError names the cell and its traceback
    errors = [out for cell in notebook.cells if cell.cell_type == "code"
              for out in cell.outputs if out.output_type == "error"]
    assert errors == []
