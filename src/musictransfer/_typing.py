"""Type aliases shared by the package's modules (standard library only).

Kept apart from every other module so that the lowest ones (the registries that the
Snakefile imports in Snakemake's own environment) can use them without importing more.
"""

from __future__ import annotations

import os

PathLike = str | os.PathLike[str]
"""A file-system path as the package's functions accept it: a string or a path object."""
