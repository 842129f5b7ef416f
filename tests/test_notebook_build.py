"""notebooks/build.py: a change to a chapter's prose keeps its stored outputs; a change to
its code does not (the outputs would no longer belong to it)."""

import importlib.util
from pathlib import Path

import jupytext
import nbformat

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("build", ROOT / "notebooks" / "build.py")
build = importlib.util.module_from_spec(spec)
spec.loader.exec_module(build)

SOURCE = "# %% [markdown]\n# The claim.\n\n# %%\nprint(1 + 1)\n"


def executed(text: str) -> nbformat.NotebookNode:
    nb = jupytext.reads(text, fmt="py:percent")
    nb.cells[1].outputs = [nbformat.v4.new_output("stream", name="stdout", text="2\n")]
    return nb


def test_prose_only_change_is_recognised():
    old = executed(SOURCE)
    prose = jupytext.reads(SOURCE.replace("The claim.", "What our run showed."), fmt="py:percent")
    code = jupytext.reads(SOURCE.replace("1 + 1", "1 + 2"), fmt="py:percent")
    extra_cell = jupytext.reads(SOURCE + "\n# %%\nprint(3)\n", fmt="py:percent")
    assert build.prose_only_change(old, prose)
    assert not build.prose_only_change(old, code)
    assert not build.prose_only_change(old, extra_cell)


def test_build_keeps_outputs_when_only_the_text_changed(tmp_path, monkeypatch):
    (tmp_path / "src").mkdir()
    src = tmp_path / "src" / "99_demo.py"
    src.write_text(SOURCE)
    nbformat.write(executed(SOURCE), tmp_path / "99_demo.ipynb")
    monkeypatch.setattr(build, "HERE", tmp_path)
    monkeypatch.setattr(build, "ROOT", tmp_path)
    (tmp_path / "_config.yml").write_text("repository:\n  url: https://example.org/sslkit\n")
    src.write_text(SOURCE.replace("The claim.", "What our run showed."))
    assert build.main(["99_demo"]) == 0
    nb = nbformat.read(tmp_path / "99_demo.ipynb", 4)
    assert nb.cells[0].source == "What our run showed."
    assert nb.cells[1].outputs[0]["text"] == "2\n"  # the stored output survived
    src.write_text(SOURCE.replace("1 + 1", "1 + 2"))
    assert build.main(["99_demo"]) == 0
    assert nbformat.read(tmp_path / "99_demo.ipynb", 4).cells[1].outputs == []  # stale: dropped
