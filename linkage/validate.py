"""``linkage validate``: check a batch folder against the input contract without detecting.

It runs the same read as ``detect`` (``io.read_batch``; there is no second validator), so
what it reports and the ``rejected.csv`` it writes are exactly what ``detect`` would keep
and reject. Exit 0 when the folder can be read (rejected rows are not a failure), 2 when
the contract is broken (a missing table or column, a column given twice, an unreadable file).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from .cliutil import echo, friendly_errors
from .errors import LinkageError
from .read.contract import MAX_FIELD_BYTES
from .safetext import json_text
from .tabular import format_option, render

if TYPE_CHECKING:
    from .io import Batch


#: ``validate --format csv``: one row per input file.
FILE_COLUMNS = ["file", "read", "kept", "rejected"]


def summary(batch: Batch) -> dict[str, Any]:
    """Per-file counts and rejected rows by reason, as ``validate --json`` prints them."""
    reasons = batch.con.execute(
        "SELECT reason, count(*) FROM rejected GROUP BY reason ORDER BY count(*) DESC, reason").fetchall()
    return {"folder": str(batch.folder), "files": batch.records,
            "rejected": sum(f["rejected"] for f in batch.records.values()),
            "reasons": {reason: n for reason, n in reasons}}


def _text(doc: dict[str, Any]) -> str:
    width = max(len(name) for name in doc["files"])
    lines = [f"{'file':<{width}}  {'read':>12}  {'kept':>12}  {'rejected':>10}"]
    for name, f in doc["files"].items():
        lines.append(f"{name:<{width}}  {f['read']:>12,}  {f['kept']:>12,}  {f['rejected']:>10,}")
    if doc["reasons"]:
        lines.append("")
        lines.append("rejected rows by reason:")
        lines += [f"{n:>12,}  {reason}" for reason, n in list(doc["reasons"].items())[:20]]
        if len(doc["reasons"]) > 20:
            lines.append(f"{'':>12}  … and {len(doc['reasons']) - 20} more reasons (see rejected.csv)")
    return "\n".join(lines)


@click.command()
@click.argument("data", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Also write OUT/rejected.csv: the rows detect would reject, with line and reasons.")
@click.option("--max-field-bytes", type=click.IntRange(min=1), default=MAX_FIELD_BYTES, show_default=True,
              help="Largest value one field may hold; a longer one rejects its row.")
@format_option
@friendly_errors
def validate(data: Path, out_dir: Path | None, max_field_bytes: int, fmt: str) -> None:
    """Check the batch folder DATA against the input contract (docs/input.md), without detecting.

    Prints, per file, the records read, kept and rejected, and the reasons; exits 0 when the
    folder is readable (rejected rows included) and 2 when the contract is broken. --format json
    prints the whole summary; csv one row per file (the reasons are in rejected.csv, see --out).
    """
    from .io import connect, read_batch, write_rejected

    batch = read_batch(data, connect(), max_field_bytes=max_field_bytes)
    doc = summary(batch)
    if out_dir is not None:
        try:
            out_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise LinkageError(f"{out_dir}: cannot create the output folder ({exc.strerror})") from None
        write_rejected(batch.con, out_dir / "rejected.csv")
        doc["rejected_csv"] = str(out_dir / "rejected.csv")
    if fmt == "csv":
        echo(render(FILE_COLUMNS, [{"file": name, **f} for name, f in doc["files"].items()], "csv"), data=True)
        return
    echo(json_text(doc, indent=2) if fmt == "json" else _text(doc))
    if fmt == "text" and out_dir is not None:
        echo(f"\nwrote {out_dir / 'rejected.csv'}")
