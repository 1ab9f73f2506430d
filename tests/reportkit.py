"""A hand-made ``linkage detect`` output folder for report tests: rings of any size, built in a second.

Detecting a 400-member ring takes a world of thousands of accounts; the report only reads
rings.json and the evidence Parquet files, so this writes those directly. Each ring mimics a
harvesting crew as the synthetic worlds make them: three n-grams of one template sent by most
members, a few proxy IPs, e-mail domains and sign-up bursts splitting them into sub-crews, a
handful of devices and one card batch, with deterministic pseudo-random membership so a large
ring has a hundred distinct patterns. Labels are chosen to be awkward: a long template text, an
IPv6 address, a separator-less 32-hex fingerprint (a JA3 hash), and markup that must come out escaped.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pandas as pd

LONG_TEMPLATE = "write the complete implementation of the following function with full type hints and unit tests"
HOSTILE_TEMPLATE = "<script>alert('n-gram')</script> step by step"
#: family -> (entity, share of members using it); the first ring's entities, suffixed per ring.
ENTITIES = [
    ("prompt", "t1", 0.7), ("prompt", "t2", 0.7), ("prompt", "t3", 0.7),
    ("ip", "2001:0db8:85a3:0000:0000:8a2e:0370:7334", 0.3), ("ip", "203.0.113.7", 0.3), ("ip", "198.51.100.23", 0.3),
    ("email", "mailbox-relay.example-domain.top", 0.2), ("email", "quopix28.top", 0.2),
    ("signup", "2026-05-17T23:30:00Z", 0.12), ("signup", "2026-03-02T18:20:00Z", 0.12),
    ("device", "9cba1f4967827652a0b1c2d3e4f50617", 0.06), ("device", "fp_560ab18b41ade11e", 0.05),
    ("payment", "tok_8IZpykXZrmqzQBfS", 0.04),
]


def _memberships(rng: random.Random, n: int) -> dict[str, list[int]]:
    """Which members use each entity: twins for the template, crews for IPs, independent draws for the rest."""
    template = [i for i in range(n) if rng.random() < 0.7]
    uses = {"t1": template, "t2": template, "t3": template}
    for family, entity, share in ENTITIES[3:]:
        if family == "ip":
            crew = [e for f, e, _ in ENTITIES if f == "ip"].index(entity)
            uses[entity] = [i for i in range(n) if i % 3 == crew and rng.random() < 0.9 or rng.random() < 0.05]
        else:
            uses[entity] = [i for i in range(n) if rng.random() < share]
    return {e: (m if len(m) >= 2 else list(range(min(n, 2)))) for e, m in uses.items()}


def write_out(folder: Path, sizes: list[int], seed: int = 13) -> Path:
    """An OUT folder with one ring per size (ring ``ring-<size>``); returns the folder."""
    rng = random.Random(seed)
    ev = folder / "evidence"
    ev.mkdir(parents=True, exist_ok=True)
    rings, accounts, incidence, entities, texts = [], [], [], [], {}
    aid = 0
    for size in sizes:
        members = [f"acc_{size}_{i:04d}" for i in range(size)]
        for i, m in enumerate(members):
            accounts.append({"aid": aid + i, "account_id": m,
                             "created_at": pd.Timestamp("2026-04-01", tz="UTC") + pd.Timedelta(minutes=7 * i)})
        uses = _memberships(rng, size)
        for family, entity, _ in ENTITIES:
            key = f"{entity}#{size}" if family == "prompt" else entity
            if family == "prompt":
                texts[key] = {"t1": LONG_TEMPLATE, "t2": "single code block followed by",
                              "t3": HOSTILE_TEMPLATE}[entity]
            used = uses[entity]
            incidence += [{"aid": aid + i, "family": family, "entity": key} for i in used]
            entities.append({"family": family, "entity": key, "accounts": len(used) + 3, "hub": False,
                             "pair_weight": 0.5})
        rings.append({"ring_id": f"ring-{size}", "score": 0.9, "size": size, "members": members,
                      "operator": "CRIMSON-LATHE", "operator_confidence": 0.8, "requests": 100 * size,
                      "first_seen": "2026-04-01T00:00:00Z", "last_seen": "2026-06-30T00:00:00Z",
                      "signals": {}, "features": {}, "evidence": []})
        aid += size
    entities = list({(e["family"], e["entity"]): e for e in entities}.values())  # IPs recur across rings
    users = pd.DataFrame(incidence).groupby(["family", "entity"]).size()
    for e in entities:
        e["accounts"] = int(users[(e["family"], e["entity"])]) + 3
    pd.DataFrame(accounts).to_parquet(ev / "accounts.parquet", index=False)
    pd.DataFrame(incidence).to_parquet(ev / "incidence.parquet", index=False)
    pd.DataFrame(entities).to_parquet(ev / "entities.parquet", index=False)
    pd.DataFrame([{"entity": k, "text": v} for k, v in texts.items()]).to_parquet(ev / "shingle_texts.parquet",
                                                                                  index=False)
    doc = {"version": 1, "generated_at": "2026-07-01T00:00:00Z", "input": {"folder": "reportkit"},
           "params": {"threshold": 0.5, "seed": seed}, "rings": rings}
    (folder / "rings.json").write_text(json.dumps(doc))
    (folder / "rejected.csv").write_text("file,line,reason\n")
    return folder
