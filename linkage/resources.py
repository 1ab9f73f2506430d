"""Files that ship inside the package: Cypher schema and queries, the Bloom perspective, the Neo4j pom.

They are read through ``importlib.resources`` so that a wheel installed anywhere
finds them, not only a source checkout. ``as_folder`` gives a real folder on disk
(a zipped install is unpacked to a temporary one for the life of the process).
"""

from __future__ import annotations

import atexit
import contextlib
from importlib import resources
from pathlib import Path

_STACK = contextlib.ExitStack()
atexit.register(_STACK.close)


def traversable(*parts: str) -> resources.abc.Traversable:
    """A packaged file or folder, e.g. ``traversable("cypher", "schema")``."""
    node = resources.files("linkage")
    for part in parts:
        node = node.joinpath(part)
    return node


def as_folder(*parts: str) -> Path:
    """A packaged file or folder as a path on disk, valid until the process exits."""
    return Path(_STACK.enter_context(resources.as_file(traversable(*parts))))


def cypher_dir(kind: str) -> Path:
    """``schema``, ``queries`` or ``bloom`` under the packaged ``cypher`` folder."""
    return as_folder("cypher", kind)
