"""Pure comparison of desired and live objects into an ordered plan (no I/O).

An object is rewritten when its content-hash annotation differs from the desired one, or when the
hash matches but the fields we set were changed behind our back (drift). Fields other managers or
the API server added are ignored: server-side apply leaves them alone, so a diff on them could never
converge. The inventory (what the previous runs left in the cluster) tells a deletion behind our back
from an object that is simply new.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from policies.manifests.kinds import APPLY_ORDER
from policies.reconciler.resources import ObjectKey, content_hash_of

CREATE, UPDATE, DELETE, UNCHANGED = "create", "update", "delete", "unchanged"


@dataclass(frozen=True, slots=True)
class Change:
    action: str
    key: ObjectKey
    desired: dict | None = None
    live: dict | None = None
    drift: str = ""  # why this is a repair of something changed behind our back, if it is

    @property
    def writes(self) -> bool:
        return self.action != UNCHANGED


def first_difference(desired: object, live: object, path: str = "") -> str | None:
    """Where `live` departs from `desired`, as a dotted path, or None. Keys only in `live` are allowed
    (defaults, other managers); an empty map or list we set may be absent (the server drops empties)."""
    if type(desired) is type(live) and desired == live:  # the usual case, at C speed
        return None
    if isinstance(desired, Mapping):
        if not isinstance(live, Mapping):
            return path or "."
        for key, value in desired.items():
            child = f"{path}.{key}" if path else str(key)
            if key not in live:
                if value in ({}, []):
                    continue
                return child
            found = first_difference(value, live[key], child)
            if found is not None:
                return found
        return None
    if isinstance(desired, list):
        if not isinstance(live, list) or len(live) != len(desired):
            return path
        for index, (want, have) in enumerate(zip(desired, live, strict=True)):
            found = first_difference(want, have, f"{path}[{index}]")
            if found is not None:
                return found
        return None
    return None if desired == live else path


def managed_difference(desired: dict, live: dict, *, fields: bool = True) -> str | None:
    """Compare what we own: our labels and annotations, and (with `fields`) everything outside
    metadata and status."""
    want_meta, have_meta = desired.get("metadata") or {}, live.get("metadata") or {}
    for field in ("labels", "annotations"):
        found = first_difference(want_meta.get(field) or {}, have_meta.get(field) or {}, f"metadata.{field}")
        if found is not None:
            return found
    if not fields:
        return None
    for field, value in desired.items():
        if field in ("apiVersion", "kind", "metadata", "status"):
            continue
        if field not in live:
            if value in ({}, []):
                continue
            return field
        found = first_difference(value, live[field], field)
        if found is not None:
            return found
    return None


def _order(change: Change) -> tuple:
    rank = APPLY_ORDER.get(change.key.kind, len(APPLY_ORDER))
    if change.action == DELETE:  # break after make: deletes last, in reverse kind order
        return (1, -rank, change.key.namespace, change.key.name)
    return (0, rank, change.key.namespace, change.key.name)


def plan(
    desired: Mapping[ObjectKey, dict],
    live: Mapping[ObjectKey, dict],
    inventory: Mapping[ObjectKey, str] | None = None,
    *,
    compare_fields: bool = True,
) -> list[Change]:
    """Every desired or live key once: creates and updates in apply order, then deletes in reverse.
    `inventory` maps keys to the content hash the last run left in the cluster. Without
    `compare_fields` (live objects listed as metadata only), objects whose hash matches are compared
    by labels and annotations only: edits of the spec are left to a full run (the periodic resync)."""
    inventory = inventory or {}
    changes: list[Change] = []
    for key, want in desired.items():
        have = live.get(key)
        if have is None:
            drift = "deleted behind our back" if key in inventory else ""
            changes.append(Change(CREATE, key, want, None, drift))
            continue
        want_hash, have_hash = content_hash_of(want), content_hash_of(have)
        if want_hash and want_hash == have_hash:
            found = managed_difference(want, have, fields=compare_fields)
            if found is None:
                changes.append(Change(UNCHANGED, key, want, have))
            else:
                changes.append(Change(UPDATE, key, want, have, f"edited behind our back ({found} differed)"))
            continue
        edited = key in inventory and inventory[key] != have_hash
        drift = "edited behind our back (content-hash annotation changed)" if edited else ""
        changes.append(Change(UPDATE, key, want, have, drift))
    for key, have in live.items():
        if key not in desired:
            changes.append(Change(DELETE, key, None, have))
    changes.sort(key=_order)
    return changes


def phases(changes: Iterable[Change]) -> list[list[Change]]:
    """Group the writing changes into consecutive batches that may run in parallel: one batch per kind
    for applies (apply order), then one per kind for deletes (reverse order)."""
    batches: list[list[Change]] = []
    current: tuple | None = None
    for change in changes:
        if not change.writes:
            continue
        marker = (change.action == DELETE, change.key.kind)
        if marker != current:
            batches.append([])
            current = marker
        batches[-1].append(change)
    return batches
