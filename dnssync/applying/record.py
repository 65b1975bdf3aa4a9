"""What an apply did, typed: each provider/zone pair's `Outcome`, and the `ApplyResult`
that `run_apply` returns and saves as the apply's record (`<state>/applies/<id>.json`).

`watch` follows an apply from its record, maybe later or in another CI job, so the
record holds the whole plan (the old values and TTLs are read from it, never from
the live zone). The record is sealed as every state file is (state.py), and
its plan keeps its own checksum inside it, so an edited and re-summed record is
still caught. Format 2 holds the plan as a JSON object; format 1 (before it) held it
as a JSON string inside the JSON, and is still read.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from dnssync.applying.state import applies_dir, read_sealed, write_sealed
from dnssync.model.canonjson import pieces
from dnssync.model.errors import UsageError
from dnssync.model.plan import Plan

#: the apply record's layout; 1 (no `format_version` key) held the plan as a string
RECORD_FORMAT = 2


@dataclass
class Outcome:
    provider: str
    zone: str
    status: str  # applied | unchanged | failed | skipped | interrupted (Ctrl-C)
    changes: int = 0
    attempts: int = 0
    error: str | None = None
    pending: int | None = None  # changes still pending after a failure (None: unknown)
    started: str | None = None
    finished: str | None = None
    #: whether running apply again may help (a transient failure); a refusal of the
    #: data, or data a provider did not store, happens again the same way
    retryable: bool = True
    #: the provider reported success and reading it back contradicted it
    contradicted: bool = False

    @property
    def detail(self) -> str:
        if self.status == "applied":
            return f"{self.changes} change(s)" + (f" after {self.attempts} attempts" if self.attempts > 1 else "")
        if self.status == "interrupted":
            if self.attempts == 0:
                return f"{self.error} [not started: nothing was sent]"
            if self.pending is None:
                return f"{self.error} [live state unknown (could not re-read the provider)]"
            if self.pending == 0:
                return f"{self.error} [yet the zone now matches git]"
            if self.pending == self.changes:
                return f"{self.error} [nothing was changed]"
            return (f"{self.error} [PARTIALLY APPLIED: {self.pending} of {self.changes} change(s) still pending;"
                    " re-run apply to converge]")
        if self.status == "failed":
            if self.pending is None:
                state = "live state unknown (could not re-read the provider)"
            elif self.contradicted:
                state = f"read back: {self.pending} change(s) still pending"
            elif self.pending == 0:
                state = "yet the zone now matches git"
            elif self.pending == self.changes:
                state = "nothing was changed"
            else:
                state = f"PARTIALLY APPLIED: {self.pending} of {self.changes} change(s) still pending"
            hint = "; re-run apply to converge" if self.retryable and self.pending != 0 else ""
            return f"{self.error} [{state}{hint}]"
        return self.error or ""

    @property
    def incomplete(self) -> bool:
        """Whether this pair did not get (all of) its changes: failed, skipped or interrupted."""
        return self.status in ("failed", "skipped", "interrupted")


_OUTCOME_KEYS = frozenset(f.name for f in fields(Outcome))


@dataclass
class ApplyResult:
    """One apply: its id, the snapshot taken before it, each pair's outcome, and the plan
    it applied. Saved as the apply's record; `read` gives it back typed."""

    id: str
    snapshot: str | None
    plan: Plan
    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return any(o.status in ("failed", "interrupted") for o in self.outcomes)

    @property
    def interrupted(self) -> bool:
        return any(o.status == "interrupted" for o in self.outcomes)

    @property
    def exit_code(self) -> int:
        """130 when Ctrl-C stopped it, 1 when a pair failed, else 0."""
        return 130 if self.interrupted else 1 if self.failed else 0

    def incomplete(self) -> dict[str, str]:
        """provider -> why its apply did not complete (its first such pair's error)."""
        found: dict[str, str] = {}
        for o in self.outcomes:
            if o.incomplete:
                found.setdefault(o.provider, o.error or o.status)
        return found

    def to_json(self) -> dict[str, Any]:
        return {**self._fields(), "plan": self.plan.to_dict()}

    def _fields(self) -> dict[str, Any]:
        """The record but its plan."""
        return {"format_version": RECORD_FORMAT, "id": self.id, "snapshot": self.snapshot,
                "outcomes": [asdict(o) for o in self.outcomes]}

    @classmethod
    def from_json(cls, data: dict[str, Any], source: str) -> ApplyResult:
        """The record's content (seal already checked), either format; UsageError when
        it is not an apply record. The plan's own checksum is checked here."""
        try:
            version = data.get("format_version", 1)
            if version not in (1, RECORD_FORMAT):
                raise ValueError(f"record format {version!r}, this dnssync reads 1 and {RECORD_FORMAT}")
            text = data["plan"] if version == 1 else json.dumps(data["plan"])
            if not isinstance(text, str):
                raise TypeError(f"format 1 holds the plan as a string, not {type(text).__name__}")
            outcomes = [_outcome(o) for o in data["outcomes"]]
            snapshot = data.get("snapshot")
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            raise UsageError(f"{source} is not a dnssync apply record: {type(e).__name__}: {e}") from None
        plan = Plan.from_json(text, f"the plan in {source}")
        return cls(str(data.get("id") or Path(source).stem), snapshot, plan, outcomes)

    def save(self, state_dir: Path, sealed_plan: str | None = None) -> Path:
        """Write the record, sealed (state.write_sealed): its plan, the bulk of it, is
        serialised once, for the plan's checksum, the record's, and the file alike
        (`sealed_plan`: that text, `Plan.sealed_text()`, made beforehand)."""
        parts = pieces(self._fields(), default=str)
        parts["plan"] = self.plan.sealed_text() if sealed_plan is None else sealed_plan
        return write_sealed(applies_dir(state_dir) / f"{self.id}.json", parts)

    @classmethod
    def read(cls, path: Path) -> ApplyResult:
        """The apply record at `path`; UsageError when it is unreadable, edited or not one."""
        return cls.from_json(read_sealed(path, "apply record"), str(path))


def _outcome(data: Any) -> Outcome:
    if not isinstance(data, dict):
        raise TypeError(f"an outcome is {type(data).__name__}, not an object")
    unknown = sorted(set(data) - _OUTCOME_KEYS)
    if unknown:
        raise KeyError(f"unknown outcome key(s) {', '.join(unknown)}")
    return Outcome(**data)
