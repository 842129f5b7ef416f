"""Build the chapter notebooks from their sources, and optionally run them for real results.

The source of each chapter is a readable percent-format script in `notebooks/src/`; the
`.ipynb` next to this file is generated from it (never edit it by hand). Executing with
`--profile cpu` stores the outputs of a real run in the notebook, which the book shows.

    python notebooks/build.py                        # regenerate every notebook (no outputs;
                                                     # a change to Markdown only keeps them)
    python notebooks/build.py 06_simsiam --execute   # regenerate and run (SSLKIT_PROFILE=cpu)
    python notebooks/build.py --check                # fail if a notebook is out of date
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from pathlib import Path

import jupytext
import nbformat

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

sys.path.insert(0, str(HERE))  # scorecard.py, next to this file
import scorecard  # noqa: E402


def repository_url() -> str:
    """The repository URL from `_config.yml`, the one place it is set."""
    match = re.search(r"^\s*url:\s*(\S+)", (ROOT / "_config.yml").read_text(), re.M)
    if not match:
        raise SystemExit("_config.yml has no repository url")
    return match.group(1)


def render(src: Path) -> nbformat.NotebookNode:
    text = src.read_text().replace("@REPOSITORY@", repository_url())
    nb = jupytext.reads(text, fmt="py:percent")
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nb.metadata.pop("jupytext", None)
    return nb


def sources(nb) -> list[tuple[str, str]]:
    return [(c.cell_type, c.source) for c in nb.cells]


def prose_only_change(old, fresh) -> bool:
    """Whether `fresh` differs from `old` in its Markdown cells only (same cells, same code),
    so that `old`'s stored outputs still belong to it."""
    return ([c.cell_type for c in old.cells] == [c.cell_type for c in fresh.cells]
            and all(o.source == f.source for o, f in zip(old.cells, fresh.cells)
                    if o.cell_type == "code"))


def execute(nb, profile: str, timeout: int) -> None:
    from nbclient import NotebookClient

    os.environ["SSLKIT_PROFILE"] = profile
    NotebookClient(nb, timeout=timeout, kernel_name="python3",
                   resources={"metadata": {"path": str(HERE)}}).execute()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("chapters", nargs="*", help="e.g. 06_simsiam (default: all)")
    parser.add_argument("--execute", action="store_true", help="run and keep the outputs")
    parser.add_argument("--profile", default="cpu", choices=["smoke", "cpu", "gpu"])
    parser.add_argument("--timeout", type=int, default=3600, help="per cell, seconds")
    parser.add_argument("--check", action="store_true",
                        help="only check that every notebook matches its source")
    args = parser.parse_args(argv)

    srcs = sorted((HERE / "src").glob("*.py"))
    if args.chapters:
        srcs = [s for s in srcs if s.stem in args.chapters]
        missing = set(args.chapters) - {s.stem for s in srcs}
        if missing:
            raise SystemExit(f"no source for {', '.join(sorted(missing))} in {HERE / 'src'}")
    stale = []
    for src in srcs:
        target = HERE / f"{src.stem}.ipynb"
        fresh = render(src)
        if args.check:
            if not target.exists() or sources(nbformat.read(target, 4)) != sources(fresh):
                stale.append(target.name)
            continue
        if not args.execute and target.exists():
            old = nbformat.read(target, 4)
            if sources(old) == sources(fresh):
                continue  # keep the stored outputs of a real run
            if prose_only_change(old, fresh):  # a fix to the text needs no new run
                for cell, new in zip(old.cells, fresh.cells):
                    cell.source = new.source
                nbformat.write(old, target)
                print(f"updated the text of {target.relative_to(ROOT)}, outputs kept")
                continue
        if args.execute:
            started = time.perf_counter()
            execute(fresh, args.profile, args.timeout)
            print(f"{src.stem}: executed at profile {args.profile} in "
                  f"{time.perf_counter() - started:.0f} s")
        nbformat.write(fresh, target)
        print(f"wrote {target.relative_to(ROOT)}")
    if stale:
        print("out of date (run python notebooks/build.py):", ", ".join(stale))
        return 1
    if not args.check and scorecard.write(ROOT):  # the page that collects the verdicts
        print("wrote book/scorecard.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
