"""The FCN notebook is dataset-agnostic: run it with DATASET = "voc" (on VOC's synthetic sample, quick profile).

The notebook reads ``COURSE_FCN_DATASET`` in its imports cell; this test executes every cell in a fresh kernel with
it set to ``voc``, as a student who switches the dataset would, and checks that the cells ran on VOC.
"""

import os
from pathlib import Path

import pytest

nbclient = pytest.importorskip("nbclient")
nbformat = pytest.importorskip("nbformat")

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_fcn_notebook_runs_on_voc(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_FCN_DATASET", "voc")
    monkeypatch.setenv("COURSE_PROFILE", "quick")
    monkeypatch.setenv("COURSE_WORK_DIR", str(tmp_path / "work"))
    monkeypatch.setenv("COURSE_DATA_ROOT", str(tmp_path / "data"))  # empty: the quick profile uses the sample
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    nb = nbformat.read(ROOT / "notebooks" / "ch03_fcn.ipynb", as_version=4)
    client = nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()  # raises CellExecutionError naming the cell that failed
    text = "\n".join(out.get("text", "") for cell in nb.cells if cell.cell_type == "code"
                     for out in cell.get("outputs", []))
    assert "PASCAL VOC 2012 {'train':" in text and "'test':" not in text  # VOC's two splits, not CamVid's three
    assert "0 background" in text and "fcn8s-voc" in text  # VOC's classes and recipes
