"""pytest at the repository root: the whole suite, notebooks included, runs at the smoke size.

nbmake starts each notebook's kernel from this process, so the kernels inherit the setting.
Set SSLKIT_PROFILE yourself to test the notebooks at another size.
"""

import os

os.environ.setdefault("SSLKIT_PROFILE", "smoke")
