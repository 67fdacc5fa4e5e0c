"""examples/tutorial.ipynb runs headless, top to bottom, in a kernel from the project's venv."""

import shutil

import pytest

from conftest import REPO


@pytest.mark.timeout(1500)
def test_tutorial_notebook_executes(tmp_path):
    import nbformat
    from nbclient import NotebookClient

    work = tmp_path / "examples"
    shutil.copytree(REPO / "examples", work)
    nb = nbformat.read(work / "tutorial.ipynb", as_version=4)
    assert not any(c.get("outputs") for c in nb.cells if c.cell_type == "code"), "commit it without outputs"
    NotebookClient(nb, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(work)}}).execute()
    text, images, errors = [], 0, []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if out.output_type == "error":
                errors.append(out.ename)
            text.append(out.get("text", "") + str(out.get("data", {}).get("text/plain", "")))
            images += "image/png" in out.get("data", {})
    text = "\n".join(text)
    assert errors == []
    assert "Test accuracy: 0.9" in text
    assert "[7, 2, 1, 0, 4]" in text
    assert "2026" in text and "scribble: not a digit" in text and "seven: 7" in text
    assert images >= 4  # samples, curves, the number, the confusion matrix
    nbformat.write(nb, tmp_path / "executed.ipynb")
