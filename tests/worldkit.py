"""Tiny hand-made worlds with known answers, for unit tests of each stage.

Each builder appends rows to a ``World``; ``write`` saves it as contract-v1
CSV files. Sizes are small enough to reason about by hand.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

START = pd.Timestamp("2026-04-01T00:00:00Z")
WORDS = ("alpha beta gamma delta river stone cloud maple orbit pixel quartz ember lunar cedar harbor "
         "violet copper meadow falcon prism summit velvet willow zephyr cobalt dune fjord glacier "
         "hazel iris jade kelp lotus mesa nectar onyx pearl quill raven sage tundra umber").split()


@dataclass
class World:
    seed: int = 1
    accounts: list[dict] = field(default_factory=list)
    events: list[dict] = field(default_factory=list)
    payments: list[dict] = field(default_factory=list)
    intel: list[dict] = field(default_factory=list)
    truth: dict[str, str] = field(default_factory=dict)

    def __post_init__(self):
        self.rng = random.Random(self.seed)

    def account(self, aid: str, created: pd.Timestamp, email: str, label: str, org: str | None = None) -> None:
        self.accounts.append({"account_id": aid, "created_at": created.strftime("%Y-%m-%dT%H:%M:%SZ"),
                              "email": email, "org_id": org or "", "country": "US"})
        self.truth[aid] = label

    def request(self, aid: str, ts: pd.Timestamp, ip: str, asn: int, device: str, prompt: str = "") -> None:
        self.events.append({"account_id": aid, "ts": ts.strftime("%Y-%m-%dT%H:%M:%SZ"), "ip": ip, "asn": asn,
                            "device_id": device, "user_agent": "ua", "prompt": prompt})

    def random_prompt(self, n: int = 12) -> str:
        return " ".join(self.rng.choice(WORDS) + str(self.rng.randrange(1000)) for _ in range(n))

    def write(self, folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        pd.DataFrame(self.accounts).to_csv(folder / "accounts.csv", index=False)
        pd.DataFrame(self.events).to_csv(folder / "events.csv", index=False)
        pd.DataFrame(self.payments or [{"account_id": "", "instrument_id": ""}][:0],
                     columns=["account_id", "instrument_id", "instrument_type", "bin"]).to_csv(
            folder / "payments.csv", index=False)
        if self.intel:
            pd.DataFrame(self.intel).to_csv(folder / "intel.csv", index=False)
        return folder


TEMPLATE = "write a complete python function that implements {} with full type hints and unit tests for {}"


def add_ring(w: World, name: str, n: int = 12, requests: int = 300, *, card_share: int = 6,
             asn: int = 14061, base_ip: str = "203.0.113", device: str | None = None, template: str = TEMPLATE,
             domain: str = "mailbox-x.top", t0: pd.Timestamp | None = None, bin: str = "411111") -> list[str]:
    """A harvesting ring: card batch, datacenter proxy pool, one harness, templated prompts, a sign-up burst."""
    t0 = t0 or START + pd.Timedelta(days=3)
    ids = [f"{name}-{i:03d}" for i in range(n)]
    device = device or f"harness-{name}"
    for i, aid in enumerate(ids):
        w.account(aid, t0 + pd.Timedelta(seconds=20 * i), f"u{i}@{domain}", name)
        w.payments.append({"account_id": aid, "instrument_id": f"tok_{name}_{i // card_share}",
                           "instrument_type": "card", "bin": bin})
        for k in range(requests):
            wave = t0 + pd.Timedelta(hours=1 + k)  # the harness fires every account in the same minute
            prompt = template.format(w.rng.choice(WORDS), w.rng.choice(WORDS)) if k % 3 == 0 else ""
            w.request(aid, wave + pd.Timedelta(seconds=i % 7), f"{base_ip}.{(i + k) % 8 + 1}", asn, device, prompt)
    return ids


def add_regulars(w: World, n: int = 150, requests: int = 8) -> list[str]:
    """Ordinary users: own home IP, own device, free-mail, own card, diverse prompts."""
    ids = []
    for i in range(n):
        aid = f"user-{i:04d}"
        ids.append(aid)
        w.account(aid, START - pd.Timedelta(days=w.rng.randrange(300)), f"p{i}@gmail.com", "regular")
        if i % 2 == 0:
            w.payments.append({"account_id": aid, "instrument_id": f"tok_user_{i}", "instrument_type": "card",
                               "bin": "520000"})
        for _ in range(requests):
            ts = START + pd.Timedelta(minutes=w.rng.randrange(91 * 24 * 60))
            w.request(aid, ts, f"10.{i // 200}.{i % 200}.7", 7922, f"dev-user-{i}", w.random_prompt())
    return ids


def add_family(w: World, name: str, n: int = 3) -> list[str]:
    """A family: one card, one home IP, one shared laptop; ordinary volume."""
    ids = [f"{name}-{i}" for i in range(n)]
    for i, aid in enumerate(ids):
        w.account(aid, START - pd.Timedelta(days=40 + i), f"{name}{i}@gmail.com", "family")
        w.payments.append({"account_id": aid, "instrument_id": f"tok_{name}", "instrument_type": "card", "bin": "520000"})
        for _ in range(10):
            ts = START + pd.Timedelta(minutes=w.rng.randrange(91 * 24 * 60))
            w.request(aid, ts, f"198.51.100.{len(name)}", 7922, f"laptop-{name}", w.random_prompt())
    return ids


def add_campus(w: World, name: str, n: int = 40) -> list[str]:
    """A class behind one NAT with lab machines, one university domain and a shared assignment prompt."""
    ids = [f"{name}-{i:03d}" for i in range(n)]
    for i, aid in enumerate(ids):
        w.account(aid, START + pd.Timedelta(days=1, minutes=3 * i), f"s{i}@cs.{name}.edu", "campus")
        for k in range(12):
            ts = START + pd.Timedelta(days=2 + w.rng.randrange(80), minutes=w.rng.randrange(600))
            prompt = (f"assignment three explain the difference between a stack and a queue using example {k}"
                      if k % 2 == 0 else w.random_prompt())
            w.request(aid, ts, "192.0.2.10", 11537, f"lab-{name}-{i % 4}", prompt)
    return ids


def add_household(w: World, name: str, home: str, *, own_bin: str | None = None, exit_ip: str | None = None) -> list[str]:
    """Three people behind one home address and laptop, paying with the family card; the first may also hold a
    card of its own (``own_bin``) and reach the platform through ``exit_ip`` a few times."""
    ids = [f"{name}-{i}" for i in range(3)]
    for i, aid in enumerate(ids):
        w.account(aid, START - pd.Timedelta(days=60 + i), f"{name}{i}@gmail.com", "household")
        w.payments.append({"account_id": aid, "instrument_id": f"tok_{name}", "instrument_type": "card", "bin": "520000"})
        for k in range(10):
            w.request(aid, START + pd.Timedelta(days=2 + k, hours=i), home, 7922, f"laptop-{name}", w.random_prompt())
    if own_bin:
        w.payments.append({"account_id": ids[0], "instrument_id": f"tok_{name}_own", "instrument_type": "card",
                           "bin": own_bin})
    for k in range(3 if exit_ip else 0):
        w.request(ids[0], START + pd.Timedelta(days=20, hours=k), exit_ip, 14061, f"laptop-{name}", w.random_prompt())
    return ids


def recruit_world(folder: Path) -> tuple[Path, list[str]]:
    """A ring of twelve paying from BIN 537410, 150 regulars and three households: ``quiet-0`` holds a card of
    the ring's batch and shares one exit with a member (a recruit), ``saver-0`` holds such a card and shares
    nothing, ``neighbour-0`` shares the exit without the card. Returns the written folder and the ring."""
    w = World(seed=31)
    ring = add_ring(w, "ringa", n=12, card_share=1, bin="537410")
    add_regulars(w, n=150)
    for k in range(3):
        w.request(ring[0], START + pd.Timedelta(days=21, hours=k), "198.18.0.9", 14061, "harness-ringa", "")
    add_household(w, "quiet", "192.0.2.1", own_bin="537410", exit_ip="198.18.0.9")
    add_household(w, "saver", "192.0.2.2", own_bin="537410")
    add_household(w, "neighbour", "192.0.2.3", exit_ip="198.18.0.9")
    return w.write(folder), ring
