"""notebooks/scorecard.py: the book's page of verdicts is read from the executed chapters,
and the committed page agrees with them."""

import importlib.util
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("scorecard", ROOT / "notebooks" / "scorecard.py")
scorecard = importlib.util.module_from_spec(spec)
sys.modules["scorecard"] = scorecard  # its dataclass looks its module up by name
spec.loader.exec_module(scorecard)


def executed_chapter(path: Path, title: str, rows: list[tuple[bool, str, str]],
                     runs: str | None = None) -> None:
    """A notebook with a title cell and the outputs verdict_summary and run_lengths make."""
    done = sum(ok for ok, _, _ in rows)
    table = "\n".join(["| | claim | evidence from this run |", "|---|---|---|"]
                      + [f"| {'✓' if ok else '✗'} | {c} | {e} |" for ok, c, e in rows])
    outputs = [nbformat.v4.new_output("display_data", data={"text/markdown": (
        f"**{done} of {len(rows)} claims reproduced at profile `cpu`.** A ✗ is ...\n\n{table}")})]
    if runs:
        outputs.insert(0, nbformat.v4.new_output("display_data", data={"text/markdown": runs}))
    code = nbformat.v4.new_code_cell("course.verdict_summary(S)")
    code.outputs = outputs
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(f"# {title}\n\nText."),
                                         code])
    nbformat.write(nb, path)


def test_the_page_counts_the_chapters_verdicts(tmp_path):
    (tmp_path / "notebooks").mkdir()
    executed_chapter(tmp_path / "notebooks" / "01_first.ipynb", "First: a chapter",
                     [(True, "A learns", "kNN 0.5"), (False, "B collapses", "std 0.04"),
                      (True, "C beats D", "0.5 vs 0.4"), (False, "... by 5 points", "0.1")],
                     runs="**Runs behind these numbers:** 3 runs of 3,000 steps at profile "
                          "`cpu`, 42 minutes of training in all on cpu. To make them again: ...")
    executed_chapter(tmp_path / "notebooks" / "02_second.ipynb", "Second",
                     [(True, "E works", "yes")])
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Third")]),
                   tmp_path / "notebooks" / "03_third.ipynb")

    chapters = scorecard.chapters(tmp_path)
    assert [(c.reproduced, c.claims, c.profile) for c in chapters] == [
        (2, 4, "cpu"), (1, 1, "cpu"), (0, 0, None)]
    # a claim that continues the one above it ("... ") is listed with it
    assert chapters[0].failed == [("B collapses", "std 0.04"), ("C beats D ... by 5 points", "0.1")]
    assert chapters[0].runs == "3 runs of 3,000 steps, 42 min"
    assert scorecard.write(tmp_path) and not scorecard.write(tmp_path)  # idempotent
    page = (tmp_path / "book" / "scorecard.md").read_text()
    assert "**3 of 5 claims reproduced (60 %)**, over 2 chapters." in page
    assert "| {doc}`First: a chapter <../notebooks/01_first>` | 2 of 4 | 50 % | `cpu` | " \
           "3 runs of 3,000 steps, 42 min |" in page
    assert "| {doc}`Third <../notebooks/03_third>` | no verdicts yet |" in page
    assert "- B collapses. *Evidence:* std 0.04" in page
    assert "E works" not in page  # only the claims that did not reproduce are listed


def test_the_committed_page_agrees_with_the_notebooks():
    page = ROOT / "book" / "scorecard.md"
    assert page.read_text() == scorecard.render(scorecard.chapters(ROOT)), (
        "book/scorecard.md is out of date: run python notebooks/scorecard.py")
    assert "book/scorecard" in (ROOT / "_toc.yml").read_text()
