"""sslkit: minimal, correct and fast joint-embedding self-supervised learning.

The map of the package is in ARCHITECTURE.md at the repository root.
"""

__version__ = "0.1.0"
