"""Alert kinds, priorities and the status an alert may move to from each status."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal, get_args


class AlertStatus(StrEnum):
    NEW = "new"
    ACKNOWLEDGED = "acknowledged"
    IN_PROGRESS = "in_progress"
    RESOLVED = "resolved"
    FALSE_ALARM = "false_alarm"


class Priority(StrEnum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


# Forward only. A false alarm can be called at any open stage (it is often obvious at a
# glance); resolving needs someone to have taken the alert first, so the record always
# shows who looked at it.
TRANSITIONS: dict[AlertStatus, frozenset[AlertStatus]] = {
    AlertStatus.NEW: frozenset({AlertStatus.ACKNOWLEDGED, AlertStatus.IN_PROGRESS,
                                AlertStatus.FALSE_ALARM}),
    AlertStatus.ACKNOWLEDGED: frozenset({AlertStatus.IN_PROGRESS, AlertStatus.RESOLVED,
                                         AlertStatus.FALSE_ALARM}),
    AlertStatus.IN_PROGRESS: frozenset({AlertStatus.RESOLVED, AlertStatus.FALSE_ALARM}),
    AlertStatus.RESOLVED: frozenset(),
    AlertStatus.FALSE_ALARM: frozenset(),
}

OPEN = frozenset({AlertStatus.NEW, AlertStatus.ACKNOWLEDGED, AlertStatus.IN_PROGRESS})

# Rule kind -> alert kind (an "offline" rule raises a camera_offline alert).
_KIND_OF_RULE = {"offline": "camera_offline"}

# The kinds an alert can be (API parameters take only these).
AlertKind = Literal["intrusion", "line_crossing", "tamper", "crowd", "loitering",
                    "camera_offline", "motion", "storage_low"]
ALERT_KINDS: tuple[AlertKind, ...] = get_args(AlertKind)

PRIORITY_OF_KIND: dict[str, Priority] = {
    "intrusion": Priority.HIGH,
    "line_crossing": Priority.HIGH,
    "tamper": Priority.HIGH,
    "crowd": Priority.MEDIUM,
    "loitering": Priority.MEDIUM,
    "camera_offline": Priority.MEDIUM,
    "motion": Priority.LOW,
    # Recording has stopped for lack of disk: evidence is being lost right now.
    "storage_low": Priority.CRITICAL,
}

assert tuple(PRIORITY_OF_KIND) == ALERT_KINDS, "every alert kind needs a priority"


def alert_kind(rule_kind: str) -> str:
    return _KIND_OF_RULE.get(rule_kind, rule_kind)


def allowed_next(status: AlertStatus) -> list[str]:
    return sorted(s.value for s in TRANSITIONS[status])
