"""Keyed hashes of the identifiers that must not leave in the clear.

Account ids, device fingerprints and payment tokens are personal or payment data: a partner
may learn *that* an account it holds is in a ring, never an id it does not hold. Both sides
hash with HMAC-SHA256 under a sharing-group key, so equal values give equal digests only to
holders of the key, and a digest cannot be reversed by hashing a dictionary of guesses
without it (a plain SHA-256 of a card token or an account id could be).

The message is ``<kind>:<value>`` in UTF-8 (kind ``account``, ``device`` or ``instrument``),
so the same string used as two kinds gives two unrelated digests, and anyone can reproduce a
digest with ``printf '%s' 'device:fp_1' | openssl dgst -sha256 -hmac "$KEY"``.

The key is read from an environment variable whose *name* is given (``--share-key-env``):
it never appears in argv, output, logs or error messages. ``ShareKey`` hides it from
``repr`` so that an accidental log line cannot print it either.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Iterable

from ..errors import ConfigError

DEFAULT_KEY_ENV = "LINKAGE_SHARE_KEY"
#: Shorter keys are refused: a sharing-group key is a shared secret, not a password to remember.
MIN_KEY_CHARS = 16
HASHED_KINDS = ("account", "device", "instrument")


class ShareKey:
    """A sharing-group key; only its digests and its ``key_id`` ever leave this object."""

    __slots__ = ("_base", "env", "key_id")

    def __init__(self, secret: bytes, env: str):
        self._base = hmac.new(secret, digestmod=hashlib.sha256)
        self.env = env
        #: Names the key without revealing it (itself a keyed hash): tells a partner's bundle made
        #: with another key from one that simply shares nothing with this batch.
        self.key_id = self.digest("key-id", "linkage")[:16]

    def __repr__(self) -> str:
        return f"ShareKey(env={self.env!r}, key_id={self.key_id!r})"

    def digest(self, kind: str, value: str) -> str:
        """Lower-case hex HMAC-SHA256 of ``<kind>:<value>``."""
        h = self._base.copy()
        h.update(f"{kind}:{value}".encode())
        return h.hexdigest()

    def digests(self, kind: str, values: Iterable[str]) -> list[str]:
        """``digest`` of many values; the key schedule is computed once, not per value."""
        base = self._base.copy()
        base.update(f"{kind}:".encode())
        out = []
        for value in values:
            h = base.copy()
            h.update(value.encode())
            out.append(h.hexdigest())
        return out


def load_key(env: str = DEFAULT_KEY_ENV) -> ShareKey | None:
    """The key in ``$env``, or None when the variable is unset or empty.

    >>> import os; os.environ["DOCTEST_KEY"] = "correct horse battery staple"
    >>> load_key("DOCTEST_KEY").digest("device", "fp_1")[:12]
    '49dea09c16cc'
    """
    if not env or not env.replace("_", "").isalnum():
        raise ConfigError(f"--share-key-env must name an environment variable, got {env!r}")
    text = os.environ.get(env, "")
    if not text:
        return None
    if len(text) < MIN_KEY_CHARS:
        raise ConfigError(f"the sharing-group key in ${env} is too short (at least {MIN_KEY_CHARS} characters)")
    return ShareKey(text.encode("utf-8"), env)


__all__ = ["DEFAULT_KEY_ENV", "HASHED_KINDS", "MIN_KEY_CHARS", "ShareKey", "load_key"]
