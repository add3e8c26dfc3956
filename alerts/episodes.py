"""Alert episodes: one row per firing period of an alert (first firing window → recovery), so
the weekly report can say how many alerts fired, how long they took to resolve and how many
were noise. `changes` is pure; the outbox applies them in the transaction of the round."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from .decision import Alert, AlertState, Group


@dataclass(frozen=True)
class EpisodeChange:
    kind: Literal["open", "update", "close"]
    alert: Alert
    window_end: datetime | None  # event time of the window behind the finding
    notified: bool  # this round sent a notice for the alert
    streak: int


def changes(alerts: Iterable[tuple[Alert, datetime | None]], old: Mapping[str, AlertState],
            new: Mapping[str, AlertState], groups: Iterable[Group]) -> list[EpisodeChange]:
    notified = {a.fingerprint for g in groups for a, d in g.decisions if d.action != "resolve"}
    out = []
    for alert, window_end in alerts:
        before = old.get(alert.fingerprint, AlertState()).status
        after = new.get(alert.fingerprint, AlertState()).status
        streak = new.get(alert.fingerprint, AlertState()).streak
        kind: Literal["open", "update", "close"] | None = None
        if after == "firing":
            kind = "update" if before == "firing" else "open"
        elif before == "firing":
            kind = "close"
        if kind is not None:
            out.append(EpisodeChange(kind, alert, window_end,
                                     alert.fingerprint in notified, streak))
    return out


def is_noise(windows: int, acknowledged: bool, resolved: bool, ticketed: bool) -> bool:
    """An episode that fired for a single window, resolved by itself, was never acknowledged
    and led to no ticket: most likely a false alarm or a blip nobody needed to act on."""
    return resolved and windows <= 1 and not acknowledged and not ticketed
