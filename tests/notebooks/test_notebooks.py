"""Runs the notebooks top to bottom with small settings."""

import os

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

NOTEBOOKS = os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(__file__))), "notebooks"
)


def _run(name, env, tmp_path):
    with open(os.path.join(NOTEBOOKS, name)) as f:
        notebook = nbformat.read(f, as_version=4)
    saved = dict(os.environ)
    os.environ.update(env)
    try:
        client = NotebookClient(
            notebook,
            timeout=600,
            kernel_name="python3",
            resources={"metadata": {"path": str(tmp_path)}},
        )
        client.execute()
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return notebook


def _text(notebook):
    return "\n".join(
        output.get("text", "")
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.get("outputs", [])
    )


@pytest.mark.slow
@pytest.mark.parametrize(
    "name", ["01_quickstart.ipynb", "02_deploy_tflite.ipynb"]
)
def test_notebook_runs(name, cifar10_dir, tmp_path):
    notebook = _run(
        name,
        {
            "LCNET_NOTEBOOK_SMALL": "1",
            # The kernel runs in tmp_path: a relative path would not hold.
            "LCNET_DATA_DIR": os.path.abspath(cifar10_dir),
        },
        tmp_path,
    )
    text = _text(notebook)
    assert "CIFAR-10 from" in text
    if name.startswith("01"):
        assert "tau=0.9" in text and "top-1 accuracy" in text
    else:
        assert "same decisions as Keras: 100.0%" in text
        assert "GPU-delegable: True" in text


def test_committed_notebooks_carry_no_outputs():
    for name in os.listdir(NOTEBOOKS):
        if name.endswith(".ipynb"):
            with open(os.path.join(NOTEBOOKS, name)) as f:
                notebook = nbformat.read(f, as_version=4)
            for cell in notebook.cells:
                if cell.cell_type == "code":
                    assert not cell.outputs, f"{name} has stale outputs"
                    assert cell.execution_count is None


def test_missing_data_says_how_to_get_it(tmp_path):
    with pytest.raises(CellExecutionError, match="cifar-10-binary.tar.gz"):
        _run(
            "01_quickstart.ipynb",
            {"LCNET_DATA_DIR": str(tmp_path), "LCNET_NOTEBOOK_SMALL": "1"},
            tmp_path,
        )
