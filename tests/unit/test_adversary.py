"""Adversary presets and benign traps: each produces the tradecraft or the honest sharing it claims."""

from __future__ import annotations

import re
from collections import Counter

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from linkage.cli import main
from linkage.errors import ConfigError
from linkage.synth import ADVERSARIES, TRAPS, generate
from linkage.synth.paraphrase import compile_clauses, render
from linkage.synth.playbooks import OPERATION_SETS, PUBLIC_LIBRARY

ADVERSARY_SPECS = [
    "stealth-pools:accounts=240,benign_overlap=0,template_set=0",
    "thin-operation:accounts=360,template_set=4",
    "mimicry:accounts=150,template_set=5",
    "heavy-paraphrase:accounts=200,template_set=6,intel=false",
]
TRAP_SPECS = ["hackathon:size=200", "eval-vendor:size=40", "university-lab:size=50",
              "households:size=150", "public-templates:size=250"]
FREE_MAIL = re.compile(r"@(?:gmail|outlook|yahoo|hotmail|icloud|qq|proton|gmx|web|163|naver|mail|orange|libero|aol|wp)")


def _read(folder, stem):
    return pd.read_csv(folder / f"{stem}.csv.gz", dtype=str, keep_default_na=False)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    out = tmp_path_factory.mktemp("adversarial")
    summary = generate(out, seed=21, accounts=1500, adversaries=ADVERSARY_SPECS, traps=TRAP_SPECS)
    t = {stem: _read(out, stem) for stem in ("accounts", "events", "payments", "intel")}
    truth = pd.read_csv(out / "truth.csv", dtype=str, keep_default_na=False)
    t["truth"] = truth
    group = truth["operator"].where(truth["operator"] != "", truth["cohort"])
    t["group"] = dict(zip(truth["account_id"], group))
    t["ring"] = dict(zip(truth["account_id"], truth["ring"]))
    for stem in ("accounts", "events", "payments"):
        t[stem]["group"] = t[stem]["account_id"].map(t["group"])
    t["events"]["ring"] = t["events"]["account_id"].map(t["ring"])
    return out, summary, t


def _of(t, stem, group):
    return t[stem][t[stem]["group"] == group]


def _volume(t, group):
    return _of(t, "events", group).groupby("account_id").size()


def test_truth_names_every_adversary_and_trap(world):
    _, summary, t = world
    ops = set(t["truth"]["operator"]) - {""}
    assert {"STEALTH-POOLS", "THIN-OPERATION", "MIMICRY", "HEAVY-PARAPHRASE"} <= ops
    assert {"hackathon", "eval_vendor", "university_lab", "households", "public_templates"} <= set(t["truth"]["cohort"])
    sizes = t["truth"].groupby(t["truth"]["operator"].where(t["truth"]["operator"] != "", t["truth"]["cohort"])).size()
    assert (sizes["STEALTH-POOLS"], sizes["THIN-OPERATION"], sizes["hackathon"], sizes["eval_vendor"]) == (240, 360, 200, 40)
    assert "operator STEALTH-POOLS (stealth-pools) [intel]" in summary
    assert "operator HEAVY-PARAPHRASE (heavy-paraphrase) [not in intel]" in summary


def test_stealth_pools_rings_share_no_infrastructure(world):
    _, _, t = world
    ev = _of(t, "events", "STEALTH-POOLS")
    assert ev.groupby("ip")["ring"].nunique().max() == 1  # each ring on its own proxy pool
    assert ev.groupby("device_id")["account_id"].nunique().max() == 1  # anti-detect: a fingerprint per profile
    pay = _of(t, "payments", "STEALTH-POOLS")
    assert pay.groupby("instrument_id")["account_id"].nunique().max() == 1  # one card per account
    assert pay.groupby("account_id")["instrument_id"].nunique().max() == 1
    acc = _of(t, "accounts", "STEALTH-POOLS")
    assert acc["email"].str.contains(FREE_MAIL).mean() > 0.9
    rings = t["truth"].loc[t["truth"]["operator"] == "STEALTH-POOLS", "ring"].value_counts()
    assert len(rings) >= 4 and rings.between(15, 70).all()
    # within a ring accounts do share exits, and residential ones on many ISPs
    assert (ev.groupby("ip")["account_id"].nunique() > 1).mean() > 0.5
    assert ev["asn"].nunique() >= 10
    created = pd.to_datetime(acc["created_at"]).groupby(acc["account_id"].map(t["ring"]))
    spread_days = (created.max() - created.min()).dt.total_seconds() / 86400
    assert spread_days.between(1, 4.01).all()


def test_stealth_rings_are_tied_only_by_templates(world):
    _, _, t = world
    ev = _of(t, "events", "STEALTH-POOLS")
    ev = ev[ev["prompt"] != ""]
    # the set's uncovered words survive paraphrase in every ring
    hits = ev["prompt"].str.contains("any code|interview").groupby(ev["ring"]).mean()
    assert (hits > 0.4).all()


def test_thin_operation_shares_one_pool_thinly(world):
    _, _, t = world
    ev = _of(t, "events", "THIN-OPERATION")
    pairs = ev[["account_id", "ip", "ring"]].drop_duplicates(["account_id", "ip"])
    per_account = pairs.groupby("account_id")["ip"].size()
    assert per_account.between(2, 5).all()
    users = pairs.groupby("ip")["account_id"].nunique()
    assert (users > 1).mean() > 0.5 and users.max() <= 12  # shared, but by a few accounts each
    assert (pairs.groupby("ip")["ring"].nunique() > 1).mean() > 0.3  # one pool across rings
    neighbours = pairs.merge(pairs, on="ip").query("account_id_x != account_id_y")
    assert neighbours.groupby("account_id_x")["account_id_y"].nunique().median() <= 10
    prompts = ev[ev["prompt"] != ""]
    uses = prompts["prompt"].str.contains("intermediate").groupby(prompts["account_id"]).agg(["any", "size"])
    assert uses.loc[uses["size"] >= 3, "any"].mean() > 0.95  # every account uses the operation's templates
    ratio = _volume(t, "THIN-OPERATION").median() / _volume(t, "regular").median()
    assert 2 < ratio < 10  # modest volume


def test_mimicry_bin_also_serves_ordinary_customers(world):
    _, _, t = world
    pay = _of(t, "payments", "MIMICRY")
    assert pay.groupby("account_id")["instrument_id"].nunique().max() == 1
    assert pay.groupby("instrument_id")["account_id"].nunique().max() == 1  # a fresh card each
    op_bin = pay["bin"].mode()[0]
    assert (pay["bin"] == op_bin).all()
    benign = t["payments"][(t["payments"]["bin"] == op_bin) & ~t["payments"]["group"].str.isupper()]
    assert benign["account_id"].nunique() >= 30
    ratio = _volume(t, "MIMICRY").median() / _volume(t, "regular").median()
    assert 0.5 < ratio < 4
    acc = _of(t, "accounts", "MIMICRY")
    created = pd.to_datetime(acc["created_at"]).groupby(acc["account_id"].map(t["ring"]))
    assert ((created.max() - created.min()).dt.days >= 21).all()  # sign-ups spread over weeks


def test_heavy_paraphrase_breaks_exact_4grams():
    rng = np.random.default_rng(0)

    def survival(rate, reorder, filler):
        shares = []
        for family in OPERATION_SETS:
            tpl = compile_clauses(family[0])
            canon = _grams(" ".join(family[0]).replace("{", " ").replace("}", " "))
            out = render(tpl, 300, rng, rate, reorder, filler)
            shares.append(np.mean([len(_grams(o) & canon) / len(canon) for o in out]))
        return float(np.mean(shares))

    assert survival(0, 0, 0) > 0.6  # only slot-adjacent 4-grams change
    light, heavy = survival(0.25, 0.1, 0.1), survival(0.6, 0.5, 0.4)
    assert 0.15 < light < 0.6
    assert heavy < 0.1


def test_paraphrase_rate_is_the_share_of_words_changed():
    rng = np.random.default_rng(1)
    clauses = ["Solve the following problem carefully.", "Reason through it one step at a time and check each step "
               "before moving on.", "State every assumption you make explicitly."]
    tpl = compile_clauses(clauses)
    words = " ".join(clauses).split()
    for rate in (0.0, 0.25, 0.5):
        out = render(tpl, 400, rng, rate)
        kept = np.mean([sum((Counter(words) & Counter(o.split())).values()) / len(words) for o in out])
        # a reworded phrase may keep a word ("one step at a time" -> "step by step"), so a little under the rate
        assert 0.7 * rate - 0.01 <= 1 - kept <= rate + 0.03


def _grams(text):
    ws = re.findall(r"[a-z0-9'-]+", text.lower())
    return {tuple(ws[i:i + 4]) for i in range(len(ws) - 3)}


def test_hackathon_rush_on_venue_wifi(world):
    _, _, t = world
    acc = _of(t, "accounts", "hackathon")
    created = pd.to_datetime(acc["created_at"])
    assert created.max() - created.min() <= pd.Timedelta(hours=2)
    ev = _of(t, "events", "hackathon")
    venue = ev.groupby("ip")["account_id"].nunique().nlargest(2)
    assert venue.sum() >= 0.9 * len(acc)  # one or two venue addresses carry nearly everyone
    loaners = ev.groupby("device_id")["account_id"].nunique()
    assert ((loaners >= 3).sum() >= 2) and loaners.max() < 0.5 * len(acc)
    starter = ev[ev["prompt"].str.contains("starter]")]
    assert starter["account_id"].nunique() >= 0.6 * len(acc)
    assert starter["prompt"].str.extract(r"^\[(.*?) starter\]")[0].nunique() == 1
    first = pd.to_datetime(ev["ts"]).groupby(ev["account_id"]).agg(["min", "max"])
    assert ((first["max"] - first["min"]) <= pd.Timedelta(days=2, hours=1)).mean() > 0.6  # most stop after the event


def test_eval_vendor_is_one_verified_org_on_cloud(world):
    _, _, t = world
    acc = _of(t, "accounts", "eval_vendor")
    assert acc["org_id"].nunique() == 1 and acc["org_id"].iloc[0].startswith("org_")
    assert (t["accounts"]["org_id"] == acc["org_id"].iloc[0]).sum() == len(acc)
    assert acc["email"].str.split("@").str[1].nunique() == 1
    ev = _of(t, "events", "eval_vendor")
    assert set(ev["asn"].astype(int)) <= {16509, 14618, 15169}
    assert ev["device_id"].nunique() == 1  # one harness
    assert ev["prompt"].loc[ev["prompt"] != ""].str.startswith("### Task").mean() > 0.9
    assert _volume(t, "eval_vendor").median() > 20 * _volume(t, "regular").median()


def test_university_lab_shares_campus_infrastructure(world):
    _, _, t = world
    acc = _of(t, "accounts", "university_lab")
    assert acc["email"].str.split("@").str[1].nunique() == 1
    ev = _of(t, "events", "university_lab")
    nat = ev.groupby("ip")["account_id"].nunique().idxmax()
    assert (ev["ip"] == nat).groupby(ev["account_id"]).any().mean() >= 0.9  # behind the campus NAT...
    assert nat in set(_of(t, "events", "campus")["ip"])  # ...which the campus's students use too
    assert (ev.groupby("device_id")["account_id"].nunique() >= 3).sum() >= 2  # lab machines
    assert ev["prompt"].str.contains(r"lab group\]").mean() > 0.05
    pay = _of(t, "payments", "university_lab")
    assert pay.groupby("instrument_id")["account_id"].nunique().max() >= 5  # the grant card


def test_households_share_home_card_and_laptop(world):
    _, _, t = world
    ev = _of(t, "events", "households")
    per_ip = ev.groupby("ip")["account_id"].nunique()
    assert per_ip.max() <= 6 and (per_ip >= 2).mean() > 0.5
    pay = _of(t, "payments", "households")
    per_card = pay.groupby("instrument_id")["account_id"].nunique()
    assert per_card.max() <= 6 and (per_card >= 2).mean() > 0.5
    per_device = ev.groupby("device_id")["account_id"].nunique()
    assert per_device.max() <= 6 and (per_device >= 2).sum() > 10


def test_public_templates_used_by_unrelated_users(world):
    _, _, t = world
    ev = _of(t, "events", "public_templates")
    first = ev["prompt"].str.contains("You are an expert")
    assert ev.loc[first, "account_id"].nunique() >= 40
    users = ev[first].groupby("account_id")["ip"].first()
    assert users.nunique() >= 0.9 * len(users)  # their own home connections
    assert PUBLIC_LIBRARY[0][0].split("{")[0] in " ".join(ev.loc[first, "prompt"].head(1))


def test_intel_covers_some_rings_of_intel_adversaries_only(world):
    _, _, t = world
    intel, truth = t["intel"], t["truth"]
    assert "HEAVY-PARAPHRASE" not in set(intel["operator"])
    assert "MIMICRY" not in set(intel["operator"])  # not in intel by default
    stealth = truth[truth["operator"] == "STEALTH-POOLS"]
    named = intel.loc[(intel["operator"] == "STEALTH-POOLS") & (intel["kind"] == "account"), "value"]
    covered = set(stealth.loc[stealth["account_id"].isin(named), "ring"])
    assert 1 <= len(covered) < stealth["ring"].nunique()
    # an uncovered ring shares no infrastructure with the indicators: only the templates tie it
    ev = _of(t, "events", "STEALTH-POOLS")
    uncovered = ev[~ev["ring"].isin(covered)]
    ips = set(intel.loc[intel["operator"] == "STEALTH-POOLS", "value"])
    assert not (set(uncovered["ip"]) | set(uncovered["device_id"])) & ips
    assert (intel.loc[intel["operator"] == "STEALTH-POOLS", "kind"] == "prompt").any()


def test_same_seed_same_bytes(world, tmp_path):
    out, _, _ = world
    generate(tmp_path, seed=21, accounts=1500, adversaries=ADVERSARY_SPECS, traps=TRAP_SPECS)
    for f in sorted(out.iterdir()):
        assert (tmp_path / f.name).read_bytes() == f.read_bytes(), f.name


def test_adding_a_trap_leaves_the_rest_of_the_plan_alone(tmp_path):
    generate(tmp_path / "a", seed=4, accounts=600, adversaries=["mimicry:accounts=40,bin_benign=0"])
    generate(tmp_path / "b", seed=4, accounts=600, adversaries=["mimicry:accounts=40,bin_benign=0"],
             traps=["hackathon:size=50"])
    a, b = _read(tmp_path / "a", "accounts"), _read(tmp_path / "b", "accounts")
    truth = pd.read_csv(tmp_path / "a" / "truth.csv", dtype=str, keep_default_na=False)
    mimicry = a["account_id"].isin(truth.loc[truth["operator"] == "MIMICRY", "account_id"])
    key = ["account_id", "created_at", "org_id", "country"]
    merged = a.loc[~mimicry, key].merge(b[key], how="left", indicator=True)  # the default population, id for id
    assert (merged["_merge"] == "both").all()
    assert len(b) == len(a) + 50
    # the adversary itself is the same operation (its ids move: accounts are numbered in order)
    assert set(a.loc[mimicry, "created_at"]) <= set(b["created_at"])


def test_no_default_operators_and_knobs_take_effect(tmp_path):
    generate(tmp_path, seed=8, accounts=800, default_operators=False,
             adversaries=["stealth-pools:accounts=120,ring_size=30-30,ips=3-3,volume=40,name=ASH-LANTERN,coverage=0.5",
                          "thin-operation:accounts=100,intel=false"])
    truth = pd.read_csv(tmp_path / "truth.csv", dtype=str, keep_default_na=False)
    assert set(truth["operator"]) - {""} == {"ASH-LANTERN", "THIN-OPERATION"}
    assert (truth[truth["operator"] == "ASH-LANTERN"].groupby("ring").size() == 30).all()
    ev = _read(tmp_path, "events")
    ev["op"] = ev["account_id"].map(dict(zip(truth["account_id"], truth["operator"])))
    lantern = ev[ev["op"] == "ASH-LANTERN"]
    assert (lantern.groupby("account_id")["ip"].nunique() <= 3).all()
    regular = ev[ev["account_id"].isin(truth.loc[truth["cohort"] == "regular", "account_id"])]
    ratio = lantern.groupby("account_id").size().median() / regular.groupby("account_id").size().median()
    assert 20 < ratio < 70
    intel = _read(tmp_path, "intel")
    assert set(intel["operator"]) == {"ASH-LANTERN"}


def test_two_of_one_preset_get_distinct_names_and_templates(tmp_path):
    summary = generate(tmp_path, seed=2, accounts=400, adversaries=["stealth-pools:accounts=40"] * 2)
    assert "STEALTH-POOLS-2" in summary
    truth = pd.read_csv(tmp_path / "truth.csv", dtype=str, keep_default_na=False)
    assert {"STEALTH-POOLS", "STEALTH-POOLS-2"} <= set(truth["operator"])


@pytest.mark.parametrize("kwargs, match", [
    (dict(adversaries=["nope"]), "unknown adversary 'nope'"),
    (dict(adversaries=["stealth-pools:paraphras=0.2"]), "unknown knob paraphras"),
    (dict(adversaries=["stealth-pools:paraphrase=1.5"]), r"paraphrase must be a number in \[0, 1\]"),
    (dict(adversaries=["stealth-pools:paraphrase=lots"]), "paraphrase must be"),
    (dict(adversaries=["stealth-pools:ips=6-2"]), "ips must be a range"),
    (dict(adversaries=["stealth-pools:accounts=3"]), "accounts must be an integer >= 8"),
    (dict(adversaries=["stealth-pools:intel=maybe"]), "intel must be true or false"),
    (dict(adversaries=["stealth-pools:proxy=satellite"]), "proxy must be one of residential, datacenter"),
    (dict(adversaries=["stealth-pools:paraphrase"]), "expected knob=value"),
    (dict(adversaries=["stealth-pools:volume=2,volume=3"]), "given twice"),
    (dict(adversaries=[("mimicry", {"template_set": 99})]), "template_set must be"),
    (dict(adversaries=["mimicry:name=GLASS-HERON"]), "already in use"),
    (dict(adversaries=["mimicry:name=A", "thin-operation:name=A"]), "already in use"),
    (dict(traps=["barbecue"]), "unknown trap 'barbecue'"),
    (dict(traps=["households:members=0-3"]), "members must be a range"),
    (dict(traps=["hackathon:name=regular"]), "already in use"),
    (dict(traps=["hackathon:window=0"]), "window must be a number >= 0.1"),
])
def test_bad_specs_are_config_errors_before_anything_is_written(tmp_path, kwargs, match):
    with pytest.raises(ConfigError, match=match):
        generate(tmp_path / "w", accounts=300, **kwargs)
    assert not (tmp_path / "w").exists()


def test_every_preset_and_trap_has_documented_knobs():
    for preset in list(ADVERSARIES.values()) + list(TRAPS.values()):
        assert preset.doc and set(preset.defaults) == set(preset.knobs), preset.name
        for key, knob in preset.knobs.items():
            assert knob.doc, (preset.name, key)
            if preset.defaults[key] is not None:
                assert knob.coerce(preset.name, key, preset.defaults[key]) == preset.defaults[key]


def test_cli_options_parse_and_errors_are_one_line(tmp_path):
    runner = CliRunner()
    result = runner.invoke(main, ["synth", str(tmp_path / "w"), "--seed", "3", "--accounts", "400",
                                  "--no-default-operators", "--adversary", "thin-operation:accounts=60,ips=1-3",
                                  "--adversary", "mimicry:accounts=40,intel=true", "--trap", "hackathon:size=30",
                                  "--trap", "eval-vendor:size=10,verified=false"])
    assert result.exit_code == 0, result.output
    truth = pd.read_csv(tmp_path / "w" / "truth.csv", dtype=str, keep_default_na=False)
    assert set(truth["operator"]) - {""} == {"THIN-OPERATION", "MIMICRY"}
    assert {"hackathon", "eval_vendor"} <= set(truth["cohort"])
    acc = _read(tmp_path / "w", "accounts")
    vendor = acc["account_id"].isin(truth.loc[truth["cohort"] == "eval_vendor", "account_id"])
    assert (acc.loc[vendor, "org_id"] == "").all()  # verified=false
    listing = runner.invoke(main, ["synth", "--list-presets"])
    assert listing.exit_code == 0
    for name in list(ADVERSARIES) + list(TRAPS):
        assert name in listing.output
    bad = runner.invoke(main, ["synth", str(tmp_path / "x"), "--adversary", "stealth-pools:ring_size=big"])
    assert bad.exit_code == 2
    assert "ring_size must be a range" in bad.output and "Traceback" not in bad.output
