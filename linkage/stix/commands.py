"""``linkage intel``: export a run as a STIX 2.1 bundle, check a bundle, see what a bundle would give.

Thin, like the rest of the CLI: each command parses options, calls ``linkage.stix`` and prints.
The sharing-group key is only ever named (``--share-key-env VAR``), never passed.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections import Counter
from pathlib import Path

import click

from ..cliutil import echo, friendly_errors, no_verify_option
from ..errors import ConfigError, LinkageError
from .hashing import DEFAULT_KEY_ENV
from .model import DEFAULT_TLP, MAX_NAME_CHARS, NAME, NAME_RULE, TLP_LEVELS

DEFAULT_PRODUCER = "linkage"
_KEY_HELP = ("Environment variable holding the sharing-group key (give its name, never the key). "
             "Without a key, account ids, device fingerprints and payment tokens are left out.")


@click.group(name="intel")
def intel_group() -> None:
    """Exchange intel with partners as STIX 2.1 bundles (docs/intel-exchange.md).

    Import needs no command here: `linkage detect DATA --intel bundle.json`, or put the
    bundle in the batch folder as intel.stix.json.
    """


@intel_group.command(name="export")
@click.argument("out_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--to", "target", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Bundle file to write (JSON).")
@click.option("--tlp", type=click.Choice(TLP_LEVELS), default=DEFAULT_TLP, show_default=True,
              help="TLP 2.0 marking on every object.")
@click.option("--share-key-env", "key_env", default=DEFAULT_KEY_ENV, show_default=True, metavar="VAR", help=_KEY_HELP)
@click.option("--producer", default=DEFAULT_PRODUCER, show_default=True,
              help="Name of the producing team: the bundle's identity, and the prefix of unattributed operations.")
@click.option("--validate", is_flag=True,
              help="Check the bundle with stix2-validator before writing it (15-40 ms per object; "
                   "pip install 'linkage[validate]').")
@no_verify_option
@friendly_errors
def export_command(out_dir: Path, target: Path, tlp: str, key_env: str, producer: str, validate: bool) -> None:
    """Write the operators and operations of the detect run in OUT_DIR as a STIX 2.1 bundle."""
    from .export import build_bundle
    from .hashing import load_key
    from .run import read_run
    from .validate import validate_bundle

    producer = producer.strip()
    if len(producer) > MAX_NAME_CHARS or not NAME.match(producer):
        raise ConfigError(f"--producer must be a plain name ({NAME_RULE})")
    key = load_key(key_env)
    run = read_run(out_dir)
    built = build_bundle(run, tlp=tlp, producer=producer, key=key)
    # stix2's pretty printer is quadratic in the bundle's size; indent the compact form instead.
    text = json.dumps(json.loads(built.bundle.serialize()), indent=2)
    verdict = ""
    if validate:
        started = time.perf_counter()
        result = validate_bundle(json.loads(text))
        if not result.valid:
            raise LinkageError(f"the bundle failed stix2-validator, nothing written: {result.errors[0]}")
        verdict = f"; valid STIX 2.1 (stix2-validator, {time.perf_counter() - started:.0f}s)"
    _write_atomically(target, text + "\n")
    for note in built.notes:
        echo(note)
    if not run.rings:
        echo(f"{out_dir}: no flagged rings, so the bundle holds no intel")
    c = built.counts
    kinds = ", ".join(f"{c[k]:,} {k}" for k in ("ip", "ip_prefix", "asn", "email_domain", "device", "instrument",
                                                 "account") if c.get(k))
    echo(f"wrote {target}: {c.get('intrusion sets', 0)} intrusion sets, {c.get('campaigns', 0)} campaigns, "
               f"{c.get('indicators', 0):,} indicators "
               f"({kinds or 'none'}), {c.get('templates', 0)} templates; TLP:{tlp.upper()}{verdict}")


@intel_group.command(name="validate")
@click.argument("bundle", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@friendly_errors
def validate_command(bundle: Path) -> None:
    """Check BUNDLE with the OASIS STIX 2.1 validator (exit 1 when it is not valid)."""
    from .importer import load_bundle
    from .validate import validate_bundle

    result = validate_bundle(load_bundle(bundle))
    for message in result.errors[:20] + result.warnings[:20]:
        echo(message)
    if not result.valid:
        raise LinkageError(f"{bundle.name}: not valid STIX 2.1 ({len(result.errors)} errors)")
    echo(f"{bundle.name}: valid STIX 2.1 ({len(result.warnings)} warnings)")


@intel_group.command(name="inspect")
@click.argument("bundle", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@friendly_errors
def inspect_command(bundle: Path) -> None:
    """Show the intel `linkage detect --intel BUNDLE` would read: values per operator and kind, and rejects."""
    from rich.console import Console
    from rich.text import Text

    from .importer import load_bundle, parse_bundle

    parsed = parse_bundle(load_bundle(bundle), bundle.name)
    console = Console(highlight=False)
    counts = Counter((op, kind) for op, kind, _, _ in parsed.rows)
    for (op, kind), n in sorted(counts.items()):
        console.print(Text(f"{op:<40} {kind:<16} {n:>8,}"))  # names from outside: Text, never markup
    for r in parsed.rejects[:50]:
        console.print(Text(f"rejected: object {r.line} {r.value or ''}: {r.reason}"))
    console.print(Text(f"{bundle.name}: {parsed.objects:,} objects, {len(parsed.rows):,} intel values of "
                       f"{len(parsed.operators)} operators, {len(parsed.rejects):,} objects rejected"))


def _write_atomically(target: Path, text: str) -> None:
    """Write the whole bundle or nothing: a partner must never receive half a file."""
    target = Path(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, target)
    except OSError as exc:
        raise LinkageError(f"{target}: cannot write the bundle ({exc.strerror})") from None


__all__ = ["intel_group"]
