"""The world plan: every account, entity and habit, before a single request exists.

Cohort and operator generators describe accounts in bulk (one call per cohort,
ring or organisation) against this plan; the traffic stage then expands each
account into requests with array arithmetic alone. Keeping the plan separate
is what lets the 50-million-request world stream out in chunks: the plan is
small (one row per account), the requests are not.

Entities are global tables (IPs with their one ASN, devices with their user
agent, payment instruments) and each account points into them through ragged
"menus": ``ip_off/ip_len`` into ``ip_menu`` and ``dev_off/dev_len`` into
``dev_menu``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

T0 = int(np.datetime64("2026-04-01T00:00:00", "s").astype(np.int64))
DAY = 86_400
SPAN_DAYS = 91
T1 = T0 + SPAN_DAYS * DAY

#: prompt generators; operators get codes from OPERATOR_GEN; GEN_SET draws on ``Plan.template_sets``
GEN_GENERAL, GEN_CODING, GEN_PUBLIC, GEN_ORG, GEN_CLASS = range(5)
GEN_SET = 100
_M64 = np.uint64(0xFFFFFFFFFFFFFFFF)


def hash64(x: np.ndarray, salt: int) -> np.ndarray:
    """splitmix64 of ``x + salt``: opaque, well-mixed 64-bit values (tokens, fingerprints)."""
    with np.errstate(over="ignore"):
        z = np.asarray(x, dtype=np.uint64) + np.uint64(salt & 0xFFFFFFFFFFFFFFFF) * np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def mix32(x: np.ndarray, salt: int) -> np.ndarray:
    """A bijection on 32-bit integers (lowbias32 after a salted offset): distinct inputs, distinct ids."""
    with np.errstate(over="ignore"):
        z = (np.asarray(x, dtype=np.uint64) + np.uint64(salt & 0xFFFFFFFF)) & np.uint64(0xFFFFFFFF)
        z = z.astype(np.uint32)
        z ^= z >> np.uint32(16)
        z *= np.uint32(0x7FEB352D)
        z ^= z >> np.uint32(15)
        z *= np.uint32(0x846CA68B)
        z ^= z >> np.uint32(16)
        return z


def hex_tokens(prefix: str, values: np.ndarray) -> np.ndarray:
    """``prefix + lowercase hex`` for each unsigned value, without a Python loop."""
    values = np.asarray(values)
    width = values.dtype.itemsize * 2
    raw = values.astype(values.dtype.newbyteorder(">")).tobytes().hex().encode()
    hexes = np.frombuffer(raw, dtype=f"S{width}").astype(f"U{width}").astype(object)
    return prefix + hexes


_ALNUM = np.frombuffer(b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", dtype=np.uint8)
_LETTERS = _ALNUM[10:]


def payment_tokens(index: np.ndarray, salt: int) -> np.ndarray:
    """``tok_`` + 16 opaque alphanumerics per index, like a processor's token.

    Every fourth character is a letter, so no token can contain a run of 13+
    digits that a scanner would mistake for a card number.
    """
    h1, h2 = hash64(index, salt), hash64(index, salt + 1)
    j = np.arange(16, dtype=np.uint64)
    v = (((h1[:, None] >> (4 * j)) & np.uint64(15)) | (((h2[:, None] >> (4 * j)) & np.uint64(15)) << np.uint64(4)))
    v = v.astype(np.int64)
    chars = np.where(j.astype(np.int64) % 4 == 3, _LETTERS[v % len(_LETTERS)], _ALNUM[v % len(_ALNUM)])
    text = np.ascontiguousarray(chars.astype(np.uint8)).view("S16").ravel().astype("U16").astype(object)
    return "tok_" + text


def ip_strings(ips: np.ndarray) -> np.ndarray:
    ips = np.asarray(ips, dtype=np.int64)
    parts = [((ips >> s) & 255).astype(str).astype(object) for s in (24, 16, 8, 0)]
    return parts[0] + "." + parts[1] + "." + parts[2] + "." + parts[3]


class IpSpace:
    """Unique IPv4 addresses inside per-ASN /16 prefixes, so every IP maps to exactly one ASN."""

    PREFIXES_PER_ASN = 16

    def __init__(self, rng: np.random.Generator):
        bad_first = {0, 10, 100, 127, 169, 172, 192, 198, 203}
        firsts = np.array([o for o in range(1, 224) if o not in bad_first])
        pool = (firsts[:, None] * 256 + np.arange(256)[None, :]).ravel()
        self._free = rng.permutation(pool)  # /16 prefixes in random order
        self._next_prefix = 0
        self._prefixes: dict[int, np.ndarray] = {}
        self._used: dict[int, int] = {}
        self._stride: dict[int, int] = {}
        self._rng = rng

    def _space(self, asn: int) -> np.ndarray:
        if asn not in self._prefixes:
            k = self.PREFIXES_PER_ASN
            self._prefixes[asn] = self._free[self._next_prefix:self._next_prefix + k]
            self._next_prefix += k
            self._used[asn] = 0
            self._stride[asn] = int(self._rng.integers(1, 1 << 20)) * 2 + 1  # odd: coprime to 2**20
        return self._prefixes[asn]

    def alloc(self, asn: int, n: int) -> np.ndarray:
        """``n`` fresh addresses in ``asn``: an affine walk over its space, skipping .0 and .255."""
        prefixes = self._space(asn)
        cap = len(prefixes) << 16
        out = np.empty(0, dtype=np.int64)
        while len(out) < n:
            want = int((n - len(out)) * 1.02) + 4
            i = np.arange(self._used[asn], self._used[asn] + want, dtype=np.int64)
            if i[-1] >= cap:
                raise ValueError(f"IP space of AS{asn} exhausted")
            self._used[asn] += want
            j = (i * self._stride[asn] + 12345) % cap
            ip = (prefixes[j >> 16].astype(np.int64) << 16) | (j & 0xFFFF)
            out = np.concatenate([out, ip[((ip & 255) != 0) & ((ip & 255) != 255)]])
        return out[:n]


class Plan:
    """Accounts, entity tables, menus, payments and rings of one world (see module doc)."""

    def __init__(self, rng: np.random.Generator, seed: int):
        self.rng = rng
        self.seed = seed
        self.ipspace = IpSpace(rng)
        self._cols: dict[str, list] = {}
        self.n = 0
        self._ip_int: list[np.ndarray] = []
        self._ip_asn: list[np.ndarray] = []
        self.n_ips = 0
        self._dev_id: list[np.ndarray] = []
        self._dev_ua: list[np.ndarray] = []
        self.n_devs = 0
        self._fp_counter = 0
        self._ins: dict[str, list] = {"token": [], "type": [], "bin": []}
        self.n_ins = 0
        self._pay_acc: list[np.ndarray] = []
        self._pay_ins: list[np.ndarray] = []
        self._menus: dict[str, list[np.ndarray]] = {"ip": [], "dev": []}
        self.rings: list[dict] = []
        self.operators: dict[str, dict] = {}
        self.org_prompts: list[np.ndarray] = []  # per org: array of its internal template prefixes
        self.class_prompts: list[str] = []
        self.asn_pools: dict[int, np.ndarray] = {}
        self.sdk_idx: np.ndarray | None = None  # official SDK fingerprints, made once (benign.sdk_devices)
        self.campus_nat: dict[str, np.ndarray] = {}  # student e-mail domain -> the campus's NAT addresses
        self.template_sets: list = []  # paraphrase.TemplateSet per adversary operation or trap text

    @contextmanager
    def stream(self, *key: int) -> Iterator[None]:
        """Draw from a random stream of its own (``[seed, *key]``) inside the block.

        Adversaries and traps are built inside their own streams, so adding one
        leaves every account, address and device of the rest of the plan as it was.
        """
        saved = self.rng
        self.rng = self.ipspace._rng = np.random.default_rng([self.seed, *key])
        try:
            yield
        finally:
            self.rng = self.ipspace._rng = saved

    # --- entities ------------------------------------------------------------------------------
    def new_ips(self, asn: int, n: int) -> np.ndarray:
        """Allocate ``n`` addresses in ``asn``; return their indices in the IP table."""
        ips = self.ipspace.alloc(asn, n)
        self._ip_int.append(ips)
        self._ip_asn.append(np.full(n, asn, dtype=np.int64))
        idx = np.arange(self.n_ips, self.n_ips + n)
        self.n_ips += n
        return idx

    def pool(self, asn: int, n: int) -> np.ndarray:
        """A shared per-ASN pool (dynamic residential leases), grown on demand to at least ``n``."""
        have = self.asn_pools.get(asn, np.empty(0, dtype=np.int64))
        if len(have) < n:
            have = np.concatenate([have, self.new_ips(asn, n - len(have))])
            self.asn_pools[asn] = have
        return have[:n]

    def new_devices(self, ids: np.ndarray, uas: np.ndarray) -> np.ndarray:
        self._dev_id.append(np.asarray(ids, dtype=object))
        self._dev_ua.append(np.asarray(uas, dtype=object))
        idx = np.arange(self.n_devs, self.n_devs + len(ids))
        self.n_devs += len(ids)
        return idx

    def fingerprints(self, n: int) -> np.ndarray:
        """``n`` distinct browser/TLS fingerprint hashes (``fp_…``)."""
        vals = hash64(np.arange(self._fp_counter, self._fp_counter + n), self.seed * 7919 + 1)
        self._fp_counter += n
        return hex_tokens("fp_", vals)

    def new_browsers(self, n: int, uas: np.ndarray) -> np.ndarray:
        """``n`` fresh devices, each a distinct fingerprint with a UA drawn from ``uas``."""
        return self.new_devices(self.fingerprints(n), uas[self.rng.integers(len(uas), size=n)])

    def new_instruments(self, n: int, kind: str, bins: np.ndarray | None) -> np.ndarray:
        start = self.n_ins
        tok = payment_tokens(np.arange(start, start + n), self.seed * 104729 + 3)
        self._ins["token"].append(tok)
        self._ins["type"].append(np.full(n, kind, dtype=object))
        self._ins["bin"].append(np.full(n, None, dtype=object) if bins is None else np.asarray(bins, dtype=object))
        self.n_ins += n
        return np.arange(start, start + n)

    def set_bins(self, instruments: np.ndarray, bin_: str) -> None:
        """Re-issue existing instruments under ``bin_`` (an issuer that also serves these customers)."""
        bins = self.instrument_table()["bin"]
        bins[np.asarray(instruments, dtype=np.int64)] = bin_
        self._ins["bin"] = [bins]
        self._ins["token"] = [np.concatenate(self._ins["token"])]
        self._ins["type"] = [np.concatenate(self._ins["type"])]

    def cards_of(self, accounts: np.ndarray) -> np.ndarray:
        """Card instruments (not wallets or crypto) that any of ``accounts`` paid with."""
        acc, ins = self.payment_pairs() if self._pay_acc else (np.empty(0, np.int64), np.empty(0, np.int64))
        ins = np.unique(ins[np.isin(acc, accounts)])
        return ins[self.instrument_table()["type"][ins] == "card"]

    def pay(self, accounts: np.ndarray, instruments: np.ndarray) -> None:
        """Record that each account paid with the matching instrument (rows and times come later)."""
        accounts, instruments = np.broadcast_arrays(np.asarray(accounts), np.asarray(instruments))
        self._pay_acc.append(accounts.astype(np.int64).ravel())
        self._pay_ins.append(instruments.astype(np.int64).ravel())

    # --- accounts ------------------------------------------------------------------------------
    def add(self, n: int, *, ip_menu: tuple[np.ndarray, np.ndarray], dev_menu: tuple[np.ndarray, np.ndarray],
            **cols) -> np.ndarray:
        """Append ``n`` accounts; menus are ``(lengths, flat indices)``; scalars broadcast."""
        defaults = dict(operator="", ring="", org_id="", ring_idx=-1, ip_seq=False, pgen=GEN_GENERAL,
                        base_gen=GEN_GENERAL, pparam=0, pshare=0.0, lock_share=0.0, jitter=0, diurnal=True,
                        end=T1, tset=-1, tvariant=-1, regular_scale=False)
        for key, value in {**defaults, **cols}.items():
            arr = np.asarray(value)
            if arr.ndim == 0:
                arr = np.full(n, value, dtype=object if isinstance(value, str) else None)
            if len(arr) != n:
                raise ValueError(f"column {key}: {len(arr)} values for {n} accounts")
            self._cols.setdefault(key, []).append(arr)
        for name, (lengths, flat) in (("ip", ip_menu), ("dev", dev_menu)):
            lengths = np.asarray(lengths, dtype=np.int64)
            if len(lengths) != n or lengths.sum() != len(flat) or (lengths < 1).any():
                raise ValueError(f"{name} menu does not match {n} accounts")
            self._cols.setdefault(f"{name}_len", []).append(lengths)
            self._menus[name].append(np.asarray(flat, dtype=np.int64))
        idx = np.arange(self.n, self.n + n)
        self.n += n
        return idx

    # --- assembled views -----------------------------------------------------------------------
    def columns(self) -> dict[str, np.ndarray]:
        missing = [k for k, parts in self._cols.items() if sum(map(len, parts)) != self.n]
        if missing:
            raise ValueError(f"columns not given for every account: {missing}")
        return {k: np.concatenate(v) for k, v in self._cols.items()}

    def menus(self) -> dict[str, np.ndarray]:
        return {k: np.concatenate(v) if v else np.empty(0, dtype=np.int64) for k, v in self._menus.items()}

    def ip_table(self) -> tuple[np.ndarray, np.ndarray]:
        return np.concatenate(self._ip_int), np.concatenate(self._ip_asn)

    def device_table(self) -> tuple[np.ndarray, np.ndarray]:
        return np.concatenate(self._dev_id), np.concatenate(self._dev_ua)

    def instrument_table(self) -> dict[str, np.ndarray]:
        return {k: np.concatenate(v) for k, v in self._ins.items()}

    def payment_pairs(self) -> tuple[np.ndarray, np.ndarray]:
        return np.concatenate(self._pay_acc), np.concatenate(self._pay_ins)


def ragged(lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row id and position within row for a ragged layout with these lengths."""
    lengths = np.asarray(lengths, dtype=np.int64)
    rows = np.repeat(np.arange(len(lengths)), lengths)
    starts = np.cumsum(lengths) - lengths
    return rows, np.arange(lengths.sum()) - starts[rows]


def pick_distinct(rng: np.random.Generator, pool: np.ndarray, k: np.ndarray) -> np.ndarray:
    """For each row, ``k[row]`` distinct members of ``pool`` (flat, row-major): one argsort, no loop."""
    k = np.minimum(np.asarray(k, dtype=np.int64), len(pool))
    order = np.argsort(rng.random((len(k), len(pool))), axis=1)
    take = np.arange(len(pool))[None, :] < k[:, None]
    return pool[order[take]]


def groups_of(rng: np.random.Generator, n: int, lo: int, hi: int) -> np.ndarray:
    """Group id of each of ``n`` items, cut into consecutive groups of ``lo..hi`` items."""
    sizes = rng.integers(lo, hi + 1, size=n // max(lo, 1) + 1)
    return np.repeat(np.arange(len(sizes)), sizes)[:n]
