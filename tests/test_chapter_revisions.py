"""Chapter revisions waiting in notebooks/next/ run top to bottom at the smoke size.

The background queue (notebooks/run_queue.py) executes each revision at the cpu profile and
then moves it to notebooks/src/, where nbmake tests it like every chapter. Until then CI
tests it here, so a revision that would fail after hours of training fails in minutes.
"""

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
REVISIONS = sorted((ROOT / "notebooks" / "next").glob("*.py"))


@pytest.mark.slow
@pytest.mark.parametrize("source", REVISIONS, ids=[p.stem for p in REVISIONS])
def test_chapter_revision_runs_at_the_smoke_size(source, tmp_path, monkeypatch):
    sys.path.insert(0, str(ROOT / "notebooks"))
    try:
        import build
    finally:
        sys.path.remove(str(ROOT / "notebooks"))
    monkeypatch.setenv("SSLKIT_RESULTS", str(tmp_path / "results"))
    monkeypatch.setenv("SSLKIT_PROFILE", "smoke")  # build.execute sets it; restored after
    notebook = build.render(source)
    build.execute(notebook, "smoke", timeout=1800)  # raises CellExecutionError on failure
    outputs = [o for cell in notebook.cells if cell.cell_type == "code"
               for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    text = "".join(o.get("text", "") for o in outputs if o.get("output_type") == "stream")
    assert "REPRODUCED" in text  # the chapter reached its verdicts


def test_no_revision_waits_for_a_chapter_that_does_not_exist():
    for source in REVISIONS:
        assert (ROOT / "notebooks" / "src" / source.name).exists(), source.name
