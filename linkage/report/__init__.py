"""The human report: ``OUT/report.html``, built from what ``linkage detect`` left in OUT.

- ``data``: read rings.json, rejected.csv and the evidence Parquet files into per-ring figures;
- ``svg``: each ring's network and timeline as inline SVG;
- ``page``: the self-contained page (summary, sortable ring table, lazily rendered ring sections);
- ``tables``: the SQL for the two evidence tables only the report needs (daily volume, prompt topics).
"""

from __future__ import annotations

from pathlib import Path

from ..errors import LinkageError


def write_report(out_dir: str | Path) -> Path:
    """(Re)build ``out_dir/report.html`` from the run's files there; return its path.

    >>> write_report("out/world")  # doctest: +SKIP
    PosixPath('out/world/report.html')
    """
    from .data import load
    from .page import page_html

    data = load(out_dir)
    path = data.out / "report.html"
    try:
        path.write_text(page_html(data), encoding="utf-8")
    except OSError as exc:
        raise LinkageError(f"{path}: cannot write the report ({exc.strerror})") from None
    return path
