"""The book's scorecard page: which claims reproduced, chapter by chapter, read from the
executed notebooks.

Every chapter ends with `course.verdict_summary`, a table of the claims its runs checked,
computed from the runs. This script collects those tables into `book/scorecard.md`, so a
reader sees in one place what the course showed and what it did not, and never a count
typed by hand. `build.py` and the run queue regenerate the page whenever they write a
notebook; `tests/test_book.py` fails when it is out of date.

    python notebooks/scorecard.py           # write book/scorecard.md
    python notebooks/scorecard.py --check   # exit 1 if it differs from the notebooks
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PAGE = ROOT / "book" / "scorecard.md"

SUMMARY = re.compile(r"\*\*(\d+) of (\d+) claims reproduced(?: at profile `(\w+)`)?\.\*\*")
RUNS = re.compile(r"\*\*Runs behind these numbers:\*\* ([^.]*?) at profile `\w+`, "
                  r"([\d,]+) minutes? of training")


@dataclass
class Chapter:
    stem: str                      # 05_byol
    title: str                     # the notebook's first heading
    reproduced: int = 0
    claims: int = 0
    profile: str | None = None     # None: the chapter has no verdict table yet
    failed: list[tuple[str, str]] = field(default_factory=list)  # (claim, evidence)
    runs: str | None = None        # "9 runs of 3,000 / 6,000 steps, 119 min", if stated


def _markdown_outputs(nb) -> list[str]:
    return ["".join(o.get("data", {}).get("text/markdown", ""))
            for cell in nb.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]


def read(notebook: Path) -> Chapter:
    """The verdict table (and the stored runs' lengths, where stated) of one notebook."""
    nb = nbformat.read(notebook, 4)
    first = next((c.source for c in nb.cells if c.cell_type == "markdown"), "")
    title = first.splitlines()[0].lstrip("# ").strip() if first else notebook.stem
    chapter = Chapter(notebook.stem, title)
    for text in _markdown_outputs(nb):
        if match := RUNS.search(text):
            chapter.runs = f"{match.group(1)}, {match.group(2)} min"
        match = SUMMARY.search(text)
        if not match:
            continue
        chapter.reproduced, chapter.claims = int(match.group(1)), int(match.group(2))
        chapter.profile = match.group(3) or "?"
        previous = ""
        for line in text.splitlines():
            cells = [c.strip() for c in line.strip().strip("|").split(" | ")]
            if len(cells) != 3 or cells[0] not in ("✓", "✗"):
                continue
            claim = cells[1]
            if claim.startswith("... "):  # it continues the claim above it: say which
                claim = f"{previous} {claim}"
            else:
                previous = claim
            if cells[0] == "✗":
                chapter.failed.append((claim, cells[2]))
    return chapter


def render(chapters: list[Chapter]) -> str:
    scored = [c for c in chapters if c.profile]
    done, total = sum(c.reproduced for c in scored), sum(c.claims for c in scored)
    share = f" ({100 * done / total:.0f} %)" if total else ""
    lines = [
        "# What reproduced",
        "",
        "Every chapter checks the claims it teaches with its own runs, and ends with a table",
        "of them: ✓ where the runs showed the claim, ✗ where they did not, with the numbers",
        "either way. The verdicts are computed from the stored runs, and this page is",
        "generated from the executed chapters (`python notebooks/scorecard.py`), so no",
        "figure here was typed by hand.",
        "",
        "A ✗ is a result too: most often our run is far shorter than the paper's, or uses a",
        "small network on small images. Each chapter says what it tried and what the paper",
        "needed. The course's one definition of *learns*, *better* and *collapsed* is in",
        "{doc}`evaluation`.",
        "",
        f"**{done} of {total} claims reproduced{share}**, over {len(scored)} chapters.",
        "",
        "| chapter | reproduced | share | profile | stored runs |",
        "|---|---|---|---|---|",
    ]
    for c in chapters:
        link = f"{{doc}}`{c.title} <../notebooks/{c.stem}>`"
        if not c.profile:
            lines.append(f"| {link} | no verdicts yet | | | |")
            continue
        lines.append(f"| {link} | {c.reproduced} of {c.claims} | "
                     f"{100 * c.reproduced / c.claims:.0f} % | `{c.profile}` | {c.runs or '-'} |")
    if any(c.profile and not c.runs for c in chapters):
        lines += ["", "A dash under *stored runs*: that chapter's executed notebook does not state "
                  "the length of its runs yet (it predates the line that does)."]
    lines += ["", "## The claims that did not reproduce", ""]
    for c in chapters:
        if not c.failed:
            continue
        lines += [f"**{{doc}}`{c.title} <../notebooks/{c.stem}>`**", ""]
        lines += [f"- {claim}. *Evidence:* {evidence}" for claim, evidence in c.failed]
        lines.append("")
    if not any(c.failed for c in chapters):
        lines += ["None.", ""]
    return "\n".join(lines)


def chapters(root: Path = ROOT) -> list[Chapter]:
    return [read(nb) for nb in sorted((root / "notebooks").glob("[0-9][0-9]_*.ipynb"))]


def write(root: Path = ROOT) -> bool:
    """Regenerate `book/scorecard.md` under `root`; whether it changed."""
    page = root / "book" / "scorecard.md"
    text = render(chapters(root))
    if page.exists() and page.read_text() == text:
        return False
    page.parent.mkdir(parents=True, exist_ok=True)
    page.write_text(text)
    return True


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true",
                        help="exit 1 if book/scorecard.md differs from the notebooks")
    args = parser.parse_args(argv)
    if args.check:
        if not PAGE.exists() or PAGE.read_text() != render(chapters()):
            print("book/scorecard.md is out of date: run python notebooks/scorecard.py")
            return 1
        return 0
    print("wrote book/scorecard.md" if write() else "book/scorecard.md is up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
