"""The human report: ``OUT/report.html``, built from what ``linkage detect`` left in OUT.

- ``data``: read rings.json, rejected.csv and the evidence Parquet files into per-ring figures;
- ``svg``: each ring's network and timeline as inline SVG;
- ``page``: the self-contained page (summary, sortable ring table, lazily rendered ring sections);
- ``tables``: the SQL for the two evidence tables only the report needs (daily volume, prompt topics).
"""

from __future__ import annotations

from pathlib import Path

from ..errors import OutputError


def write_report(out_dir: str | Path, *, verify: bool | None = None) -> Path:
    """(Re)build ``out_dir/report.html`` from the run's files there; return its path.

    ``verify`` (default: on, unless ``linkage.run.verification(False)``) first checks the
    run's files against its manifest; the report is written whole or not at all (a temp
    file renamed over it, never through a link), and its new checksum recorded.

    >>> write_report("out/world")  # doctest: +SKIP
    PosixPath('out/world/report.html')
    """
    from .. import manifest
    from ..publish import replace_file
    from ..run import RunFolder
    from .data import load
    from .page import page_html

    RunFolder(out_dir, verify=verify, skip=("report.html",))
    data = load(out_dir)
    path = data.out / "report.html"
    try:
        replace_file(path, page_html(data))
        manifest.refresh(data.out, "report.html")
    except OSError as exc:
        raise OutputError(f"{path}: cannot write the report ({exc.strerror})") from None
    return path
