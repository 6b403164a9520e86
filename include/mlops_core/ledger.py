"""The promotion ledger: an append-only history of champion changes, kept in the lake.

Each entry is its own object, ``registry/<model>/ledger/<seq>.json``, created with
create-if-absent semantics (hard link locally, conditional PUT on S3). Two promoters racing
for the same sequence number cannot both win: the loser gets RegistryConflictError and must
re-gate against the new champion. Entries chain (``from_version`` of entry n+1 is the
``to_version`` of entry n), and "which model was champion on day D" is answered from them.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass

from mlops_core.errors import NoChampionError, RegistryConflictError
from mlops_core.storage import Storage

PROMOTION, ROLLBACK = "promotion", "rollback"


@dataclass(frozen=True)
class LedgerEntry:
    seq: int
    model: str
    kind: str
    from_version: str | None
    to_version: str
    at: str
    effective_from: str  # first partition day this champion is responsible for
    actor: str
    reason: str
    verdict: str | None = None

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), indent=2, sort_keys=True).encode()


def ledger_prefix(model: str) -> str:
    return f"registry/{model}/ledger/"


def read_ledger(storage: Storage, model: str) -> list[LedgerEntry]:
    entries = [
        LedgerEntry(**json.loads(storage.read_bytes(key)))
        for key in storage.list(ledger_prefix(model))
        if key.endswith(".json")
    ]
    return sorted(entries, key=lambda e: e.seq)


def append(
    storage: Storage,
    *,
    model: str,
    kind: str,
    from_version: str | None,
    to_version: str,
    at: dt.datetime,
    actor: str,
    reason: str,
    verdict: str | None = None,
    expected_last_seq: int | None = None,
) -> LedgerEntry:
    """Append the next entry; raise RegistryConflictError if another writer took its place.

    ``expected_last_seq`` is the sequence number the caller based its decision on; when the
    ledger has moved since, the append is refused rather than silently reordered.
    """
    entries = read_ledger(storage, model)
    last = entries[-1].seq if entries else 0
    if expected_last_seq is not None and expected_last_seq != last:
        raise RegistryConflictError(
            f"the promotion ledger of {model} moved from entry {expected_last_seq} to {last} while "
            "this promotion was being decided; re-run the gate against the new champion"
        )
    entry = LedgerEntry(
        seq=last + 1,
        model=model,
        kind=kind,
        from_version=from_version,
        to_version=to_version,
        at=at.isoformat(),
        effective_from=at.date().isoformat(),
        actor=actor,
        reason=reason,
        verdict=verdict,
    )
    if not storage.create_exclusive(f"{ledger_prefix(model)}{entry.seq:08d}.json", entry.to_json()):
        winner = read_ledger(storage, model)[-1]
        raise RegistryConflictError(
            f"another promotion of {model} won the race (entry {winner.seq}: version "
            f"{winner.to_version} by {winner.actor}); version {to_version} was not promoted. "
            "Re-run the gate against the new champion."
        )
    return entry


def champion_as_of(storage: Storage, model: str, day: dt.date) -> LedgerEntry:
    """The ledger entry that made the champion responsible for ``day``."""
    candidates = [e for e in read_ledger(storage, model) if e.effective_from <= day.isoformat()]
    if not candidates:
        raise NoChampionError(
            f"no version of {model} was champion on {day} according to the promotion ledger "
            f"({ledger_prefix(model)}); score with model_selection=champion instead"
        )
    return candidates[-1]
