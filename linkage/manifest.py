"""The run manifest ``OUT/run.json``: what produced a run folder, and a checksum of every file in it.

A later step (``linkage report``, ``load``, ``explain --from``) reads files that a
person, a sync tool or a crash may have changed since the run. The manifest lets it
check, before it trusts them, that each file is the one the run wrote::

    {"format": "linkage-run", "version": 1, "linkage_version": "0.1.0",
     "command": "detect", "created_at": "2026-05-01T12:00:00Z",
     "batch_id": "batch-…",            # content hash of the input files
     "input": {"folder": …, "files": {…}},
     "params": {…},                    # Config.to_dict()
     "files": {"rings.json": {"bytes": 1234, "sha256": "…"}, "evidence/links.parquet": {…}, …}}

Which names are linkage's own is fixed here (:func:`is_own`), never taken from a
manifest: a tampered ``run.json`` cannot make linkage read, or delete, anything else.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from .errors import InputError
from .safetext import json_text

MANIFEST = "run.json"
FORMAT = "linkage-run"
VERSION = 1
#: The files a run writes at the top of its folder; evidence tables go under ``evidence/``.
TOP_FILES = ("rings.json", "ring_members.csv", "rejected.csv", "watchlist.csv", "report.html", MANIFEST)
EVIDENCE = "evidence"
_EVIDENCE_FILE = re.compile(r"[A-Za-z0-9_]+\.parquet")
#: Names of linkage's temporary files and folders (see ``linkage.publish.temp_name``).
TEMP = re.compile(r"\..+\.linkage-(?:tmp|old)-[0-9a-f]{8}-\d+-[A-Za-z0-9_]+")
_CHUNK = 1 << 20


def is_own(rel: str) -> bool:
    """Whether ``rel`` (a path inside a run folder, ``/``-separated) is a name linkage writes there."""
    parts = rel.split("/")
    if len(parts) == 1:
        name = parts[0].removesuffix(".tmp")
        return name in TOP_FILES or name == EVIDENCE or TEMP.fullmatch(parts[0]) is not None
    return (len(parts) == 2 and parts[0] == EVIDENCE
            and _EVIDENCE_FILE.fullmatch(parts[1].removesuffix(".tmp")) is not None)


def listing(folder: Path) -> tuple[list[str], list[str]]:
    """``(own, foreign)``: linkage's regular files in ``folder`` and every other entry, never following a link.

    A symbolic link is foreign whatever its name: linkage never makes one.
    """
    own: list[str] = []
    foreign: list[str] = []
    for entry in _scan(folder):
        if entry.name == EVIDENCE and entry.is_dir(follow_symlinks=False):
            for sub in _scan(Path(entry.path)):
                rel = f"{EVIDENCE}/{sub.name}"
                (own if sub.is_file(follow_symlinks=False) and is_own(rel) else foreign).append(rel)
        elif entry.is_file(follow_symlinks=False) and is_own(entry.name) and entry.name != EVIDENCE:
            own.append(entry.name)
        else:
            foreign.append(entry.name)
    return sorted(own), sorted(foreign)


def _scan(folder: Path) -> list[os.DirEntry[str]]:
    with os.scandir(folder) as it:
        return list(it)


def sha256(path: Path, *, sync: bool = False) -> tuple[int, str]:
    """Size and SHA-256 of the regular file ``path``, opened without following a link; ``sync`` flushes it to disk."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise InputError(f"{path}: not a regular file")
        h = hashlib.sha256()
        size = 0
        while chunk := os.read(fd, _CHUNK):
            h.update(chunk)
            size += len(chunk)
        if sync:
            os.fsync(fd)
        return size, h.hexdigest()
    finally:
        os.close(fd)


def _hash_all(folder: Path, rels: list[str], *, sync: bool = False) -> dict[str, tuple[int, str]]:
    """Checksums of several files at once (hashlib releases the GIL on large reads)."""
    from .limits import cores

    with ThreadPoolExecutor(max_workers=min(len(rels), cores()) or 1) as pool:
        return dict(zip(rels, pool.map(lambda r: sha256(folder / r, sync=sync), rels)))


def build(folder: Path, *, command: str, batch_id: str | None, input: dict[str, Any],
          params: dict[str, Any]) -> dict[str, Any]:
    """The manifest of the files now in ``folder`` (flushed to disk while hashed, so the checksums are of what stays)."""
    from . import __version__

    own, foreign = listing(folder)
    if foreign:  # the folder is linkage's own temporary one: anything else there is a bug
        raise InputError(f"{folder}: unexpected entries {', '.join(foreign[:5])}")
    files = [r for r in own if r != MANIFEST]
    sums = _hash_all(folder, files, sync=True)
    return {"format": FORMAT, "version": VERSION, "linkage_version": __version__, "command": command,
            "created_at": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "batch_id": batch_id, "input": input, "params": params,
            "files": {r: {"bytes": sums[r][0], "sha256": sums[r][1]} for r in files}}


def write(folder: Path, doc: dict[str, Any]) -> None:
    """Write ``folder/run.json`` whole or not at all (a temp file renamed over it, never through a link)."""
    from .publish import replace_file

    replace_file(folder / MANIFEST, json_text(doc, indent=1) + "\n")


def read(folder: Path) -> dict[str, Any]:
    """The manifest of ``folder``; InputError when it is absent or not one."""
    path = folder / MANIFEST
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        with os.fdopen(fd, "rb") as fh:
            doc = json.loads(fh.read().decode("utf-8"))
    except FileNotFoundError:
        raise InputError(f"{folder}: no {MANIFEST}, so its files cannot be checked (a run of linkage before "
                         "manifests, or not a `linkage detect` folder): re-run `linkage detect`, or pass "
                         "--no-verify") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: not a readable run manifest ({exc})") from None
    files = doc.get("files") if isinstance(doc, dict) else None
    if not isinstance(files, dict) or doc.get("format") != FORMAT or not all(
            isinstance(v, dict) and isinstance(v.get("sha256"), str) and isinstance(v.get("bytes"), int)
            for v in files.values()):
        raise InputError(f"{path}: not a linkage run manifest")
    odd = [r for r in files if not is_own(r) or r == MANIFEST]
    if odd:
        raise InputError(f"{path}: lists a file linkage never writes ({odd[0]!r})")
    return dict(doc)


def problems(folder: Path, doc: dict[str, Any], *, skip: tuple[str, ...] = ()) -> list[str]:
    """What differs between ``folder`` and its manifest, one short phrase per file (empty when it matches)."""
    files = {r: e for r, e in doc["files"].items() if r not in skip}
    found: list[str] = []
    to_hash: list[str] = []
    for rel, entry in files.items():
        try:
            st = os.lstat(folder / rel)
        except FileNotFoundError:
            found.append(f"{rel} is missing")
            continue
        if stat.S_ISLNK(st.st_mode):
            found.append(f"{rel} is now a symbolic link")
        elif not stat.S_ISREG(st.st_mode):
            found.append(f"{rel} is no longer a file")
        elif st.st_size != entry["bytes"]:
            found.append(f"{rel} changed after the run (size)")
        else:
            to_hash.append(rel)
    for rel, (_, digest) in _hash_all(folder, to_hash).items():
        if digest != files[rel]["sha256"]:
            found.append(f"{rel} changed after the run (checksum)")
    own, _ = listing(folder)
    found += [f"{rel} was not written by this run" for rel in own
              if rel not in doc["files"] and rel != MANIFEST and rel not in skip and not _temporary(rel)]
    return found


def _temporary(rel: str) -> bool:
    return rel.endswith(".tmp") or TEMP.fullmatch(rel.rsplit("/", 1)[-1]) is not None


def verify(folder: Path, *, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    """The manifest, once every file it lists is as the run wrote it; else one InputError naming the files."""
    doc = read(folder)
    found = problems(folder, doc, skip=skip)
    if found:
        more = f" (and {len(found) - 3} more)" if len(found) > 3 else ""
        raise InputError(f"{folder}: {'; '.join(found[:3])}{more}; the folder no longer holds the run that "
                         f"{MANIFEST} describes: re-run `linkage detect`, or pass --no-verify")
    return doc


def refresh(folder: Path, rel: str) -> None:
    """Record the new checksum of ``rel`` (a file a later step rebuilt, e.g. report.html) in the manifest."""
    try:
        doc = read(folder)
    except InputError:
        return  # no manifest to keep up to date
    size, digest = sha256(folder / rel, sync=True)
    doc["files"][rel] = {"bytes": size, "sha256": digest}
    write(folder, doc)


__all__ = ["MANIFEST", "is_own", "listing", "build", "write", "read", "verify", "problems", "refresh"]
