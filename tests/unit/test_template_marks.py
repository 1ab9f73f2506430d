"""Which sampled prompts carry each template phrase (``template_marks``), read end to end through detect."""

from __future__ import annotations

import pandas as pd
from worldkit import START, WORDS, World, add_regulars

from linkage import Config, detect

VARIANTS = ("write a complete python function that implements {} with full type hints for {}",
            "draft an agent plan calling the shell tool to refactor {} then benchmark {} quickly",
            "produce yaml describing kubernetes manifests deploying {} behind an ingress named {}")


def _split_ring(w: World, name: str, ip: str, n: int = 12, requests: int = 45) -> list[str]:
    """A harness rotating its prompts over three variants of its template: each prompt is one variant."""
    ids = [f"{name}-{i:03d}" for i in range(n)]
    t0 = START + pd.Timedelta(days=3)
    for i, aid in enumerate(ids):
        w.account(aid, t0 + pd.Timedelta(seconds=20 * i), f"{name}{i}@mailbox-x.top", "split")
        w.payments.append({"account_id": aid, "instrument_id": f"tok_{name}_{i // 6}", "instrument_type": "card",
                           "bin": "411111"})
        for k in range(requests):
            prompt = VARIANTS[k % 3].format(w.rng.choice(WORDS), w.rng.choice(WORDS))
            w.request(aid, t0 + pd.Timedelta(hours=1 + k, seconds=i % 7), f"{ip}.{(i + k) % 8 + 1}", 14061,
                      "harness-split", prompt)
    return ids


def test_a_template_split_over_variants_is_in_all_of_a_members_prompts(tmp_path):
    """No one phrase is in more than about a third of a member's prompts, but every prompt carries one
    of the template's phrases: OR-ing the marks says so, where the most used phrase's count cannot
    (``scoring.templated_sql`` reads them so: tests/unit/test_scoring_builders.py)."""
    w = World(seed=11)
    ring = _split_ring(w, "split", "203.0.113")
    add_regulars(w, n=60)
    result = detect(w.write(tmp_path / "world"), Config(keep_tables=True))
    con = result.con
    per = con.execute("""
        SELECT a.account_id, t.prompts, bit_count(bit_or(k.marks)) AS marked, max(i.requests) AS top
        FROM template_marks k JOIN incidence i USING (aid, family, entity) JOIN accounts a USING (aid)
        JOIN acct_topics t USING (aid) GROUP BY ALL""").df().set_index("account_id")
    members = per.loc[ring]
    assert (members["marked"] == members["prompts"].clip(upper=40)).all()
    assert (members["top"] / members["prompts"] < 0.5).all()
    # Regular users' own phrasing: no phrase of theirs recurs, so none of their prompts is marked.
    assert not set(per.index) - set(ring)
