"""The rendered book: `jupyter-book build . -W` succeeds and every page is there and clean.

Builds into a temporary folder (about a minute on 2 cores: the notebooks are not executed,
the book shows their stored outputs). Checks, page by page of _toc.yml: the HTML exists;
no cell shows an error output or a traceback; a chapter whose stored notebook has figure
outputs shows them as images; the launch buttons point at Colab.
"""

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _toc_files() -> list[str]:
    files = re.findall(r"^\s*(?:root|- file):\s*(\S+)\s*$", (ROOT / "_toc.yml").read_text(),
                       flags=re.MULTILINE)
    assert files, "no pages found in _toc.yml"
    return files


@pytest.fixture(scope="module")
def html_dir(tmp_path_factory) -> Path:
    if shutil.which("jupyter-book") is None:
        pytest.skip("jupyter-book is not installed (pip install -e '.[dev]')")
    out = tmp_path_factory.mktemp("book")
    proc = subprocess.run(["jupyter-book", "build", str(ROOT), "--path-output", str(out), "-W",
                           "-n", "--keep-going"], capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0, f"book build failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    return out / "_build" / "html"


def test_every_page_of_the_toc_is_rendered(html_dir):
    missing = [f for f in _toc_files() if not (html_dir / f"{f}.html").exists()]
    assert not missing, f"pages in _toc.yml without HTML: {missing}"


def test_no_page_shows_an_error_output(html_dir):
    bad = []
    for f in _toc_files():
        page = (html_dir / f"{f}.html").read_text()
        if re.search(r'class="output (traceback|stderr)|Traceback \(most recent call last\)',
                     page):
            bad.append(f)
    assert not bad, f"pages that show an error output: {bad}"


def test_chapters_show_their_figures(html_dir):
    checked = 0
    for f in _toc_files():
        if not f.startswith("notebooks/"):
            continue
        nb = json.loads((ROOT / f"{f}.ipynb").read_text())
        figures = sum("image/png" in out.get("data", {})
                      for cell in nb["cells"] for out in cell.get("outputs", []))
        page = (html_dir / f"{f}.html").read_text()
        assert page.count("<img") >= figures, f"{f}: {figures} figures stored, fewer shown"
        checked += 1
    assert checked == 12, f"expected 12 chapter notebooks, checked {checked}"


def test_chapters_have_a_colab_launch_button(html_dir):
    from sslkit.course import REPOSITORY  # the one place the URL is set in code

    page = (html_dir / "notebooks" / "05_byol.html").read_text()
    repo = REPOSITORY.removeprefix("https://github.com/")
    assert f"colab.research.google.com/github/{repo}/blob/main/notebooks/05_byol.ipynb" in page
