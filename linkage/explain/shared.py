"""Small pieces both sources of an explanation use: checks, the stored link, paths and their order."""

from __future__ import annotations

from typing import Any

from ..errors import InputError


def short(text: str, limit: int = 60) -> str:
    """An id for an error message: quoted, and cut when long (ids come from the user)."""
    return repr(text if len(text) <= limit else text[: limit - 1] + "…")


def check_pair(a: str, b: str) -> None:
    if a == b:
        raise InputError(f"A and B are the same account ({short(a)})")


def sort_shared(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Heaviest first, then rarest: the order a reader wants the evidence in."""
    return sorted(rows, key=lambda s: (-s["pair_weight"], s["accounts"] or 0, s["family"], s["entity"]))


def link_of(weight: Any, signals: Any, per_family: dict[str, Any]) -> dict[str, Any] | None:
    """The stored link as ``{"weight", "signals", "per_family"}``, or None when there is none."""
    if weight is None:
        return None
    if isinstance(signals, str):
        signals = [s for s in signals.split(",") if s]
    return {"weight": float(weight), "signals": list(signals or []),
            "per_family": {f: float(w) for f, w in per_family.items() if w}}


def path_of(steps: list[dict[str, Any]], accounts: list[str]) -> dict[str, Any]:
    return {"hops": len(steps), "cost": sum(e["accounts"] - 1 for e in steps),
            "weakest": min(e["pair_weight"] for e in steps), "accounts": accounts, "steps": steps}


def rank_paths(paths: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Fewest hops, then rarest (lowest cost), then strongest weakest step; ties by ids."""
    return sorted(paths, key=lambda p: (p["hops"], p["cost"], -p["weakest"], p["accounts"],
                                        [(e["family"], e["entity"]) for e in p["steps"]]))


__all__ = ["short", "check_pair", "sort_shared", "link_of", "path_of", "rank_paths"]
