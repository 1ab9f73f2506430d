"""DataFrame rows for code that reads a frame's columns by name.

pandas-stubs types every field of an ``itertuples`` row as any scalar (``str | bytes | date |
… | complex``), which none of our columns is: the SQL or code that built the frame fixes each
column's type, and the stubs cannot see it. :func:`rows` is the one place that says so, so the
type checker takes a row's fields as the code uses them instead of as every scalar at once.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pandas as pd


def rows(df: pd.DataFrame) -> Iterator[Any]:
    """``df.itertuples(index=False)``: one named tuple per row, fields by column name."""
    return iter(df.itertuples(index=False))
