"""Small input batches for the read tests: a folder from file texts, and what the read made of it."""

from __future__ import annotations

from pathlib import Path

ACCOUNTS = "account_id,created_at\na1,2026-04-01T00:00:00Z\na2,2026-04-01T00:00:00Z\n"
PAYMENTS = "account_id,instrument_id\na1,tok_1\n"
EVENTS = "account_id,ts\na1,2026-04-01T01:00:00Z\n"


def folder(path: Path, files: dict[str, str | bytes]) -> Path:
    """A batch folder holding ``files`` ({name: content}), with the minimal accounts, payments
    and events wherever the caller gives none of that table."""
    path.mkdir(parents=True, exist_ok=True)
    named = dict(files)
    defaults = {"accounts": ("accounts.csv", ACCOUNTS), "payments": ("payments.csv", PAYMENTS),
                "events": ("events.csv", EVENTS)}
    for table, (name, body) in defaults.items():
        if not any(n.split(".")[0] == table for n in named):
            named[name] = body
    for name, body in named.items():
        (path / name).write_bytes(body if isinstance(body, bytes) else body.encode())
    return path


def rejected(batch, file: str | None = None) -> list[tuple]:
    """(line, column, reason, value) of the rejected rows, of one file or all, by line."""
    if file is None:
        return batch.con.execute('SELECT file, line, "column", reason, value FROM rejected ORDER BY file, line'
                                 ).fetchall()
    return batch.con.execute('SELECT line, "column", reason, value FROM rejected WHERE file = ? ORDER BY line',
                             [file]).fetchall()


def accounted(batch) -> bool:
    """Every file's records are kept or rejected, once."""
    return all(f["read"] == f["kept"] + f["rejected"] for f in batch.counts()["records"].values())
