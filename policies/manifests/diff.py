"""Compare two rendered object sets (e.g. now vs. if a request were approved), by content hash.

A change that touches only egressui's own annotations (the grants an object serves, its content hash)
changes nothing in what the cluster enforces: renewing a grant renames the grant an object serves and
nothing else. Such changes are kept apart (`annotation_only`) so a preview can say "no effective
change" instead of counting them as changes."""

import difflib
from dataclasses import dataclass, field

from policies.manifests.serialize import canonical_json, content_hash, dump_object_yaml, object_key, object_sort_key

BOOKKEEPING_PREFIX = "egressui.io/"


@dataclass(frozen=True, slots=True)
class ObjectChange:
    """One object added (`before` is None), changed, or removed (`after` is None)."""

    kind: str
    namespace: str
    name: str
    before: dict | None
    after: dict | None
    diff: str  # unified diff of the two YAML texts

    @property
    def action(self) -> str:
        return "add" if self.before is None else "remove" if self.after is None else "change"

    @property
    def yaml(self) -> str:
        """The object as it would be (as it was, for a removal)."""
        return dump_object_yaml(_either(self.before, self.after))


@dataclass(slots=True)
class ObjectDiff:
    added: list[ObjectChange] = field(default_factory=list)
    changed: list[ObjectChange] = field(default_factory=list)
    removed: list[ObjectChange] = field(default_factory=list)
    unchanged: int = 0
    annotation_only: list[ObjectChange] = field(default_factory=list)  # no effective change

    @property
    def has_changes(self) -> bool:
        return bool(self.added or self.changed or self.removed)


def _label(obj: dict) -> str:
    kind, namespace, name = object_key(obj)
    return f"{kind} {namespace}/{name}"


def _either(before: dict | None, after: dict | None) -> dict:
    """The object of a change: as it will be, or as it was for a removal."""
    obj = after if after is not None else before
    if obj is None:
        raise ValueError("a change has an object before or after it")
    return obj


def _change(before: dict | None, after: dict | None) -> ObjectChange:
    obj = _either(before, after)
    kind, namespace, name = object_key(obj)
    old = dump_object_yaml(before).splitlines(keepends=True) if before is not None else []
    new = dump_object_yaml(after).splitlines(keepends=True) if after is not None else []
    text = "".join(
        difflib.unified_diff(old, new, fromfile=f"{_label(obj)} (now)", tofile=f"{_label(obj)} (after)", n=3)
    )
    return ObjectChange(kind, namespace, name, before, after, text)


def _effective(obj: dict) -> bytes:
    """The object without egressui's bookkeeping annotations, canonically serialised."""
    metadata = obj.get("metadata") or {}
    annotations = {k: v for k, v in (metadata.get("annotations") or {}).items() if not k.startswith(BOOKKEEPING_PREFIX)}
    return canonical_json({**obj, "metadata": {**metadata, "annotations": annotations}})


def diff_objects(before: list[dict], after: list[dict]) -> ObjectDiff:
    """What turning `before` into `after` adds, changes and removes; each list in apply order."""
    old = {object_key(obj): obj for obj in before}
    new = {object_key(obj): obj for obj in after}
    result = ObjectDiff()
    for obj in sorted(after, key=object_sort_key):
        previous = old.get(object_key(obj))
        if previous is None:
            result.added.append(_change(None, obj))
        elif content_hash(previous) != content_hash(obj):
            if _effective(previous) == _effective(obj):
                result.annotation_only.append(_change(previous, obj))
            else:
                result.changed.append(_change(previous, obj))
        else:
            result.unchanged += 1
    for obj in sorted(before, key=object_sort_key):
        if object_key(obj) not in new:
            result.removed.append(_change(obj, None))
    return result
