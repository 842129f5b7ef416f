"""pytest at the repository root: the whole suite, notebooks included, runs at the smoke size.

nbmake starts each notebook's kernel from this process, so the kernels inherit the setting.
Set SSLKIT_PROFILE yourself to test the notebooks at another size.
"""

import os

os.environ.setdefault("SSLKIT_PROFILE", "smoke")


def pytest_collection_modifyitems(config, items):
    """A chapter notebook whose revision waits in notebooks/next/ is tested as that revision
    (tests/test_chapter_revisions.py): the revision is what the queue will put in its place,
    and running both would double the notebooks' share of CI's time."""
    from pathlib import Path

    import pytest

    revisions = Path(__file__).parent / "notebooks" / "next"
    for item in items:
        path = Path(str(item.fspath))
        if path.suffix == ".ipynb" and (revisions / f"{path.stem}.py").exists():
            item.add_marker(pytest.mark.skip(
                reason=f"superseded by notebooks/next/{path.stem}.py, which "
                       f"tests/test_chapter_revisions.py runs at the smoke size"))
