"""Field ownership (`managedFields`): server-side apply, and the merge and JSON patches of other managers.

An object's fields are its leaves (lists are atomic leaves, as in Istio's CRD schemas); each manager owns
a set of leaf paths, keyed by (manager, "apply" | "update") as `managedFields` lists them.
"""

import copy
from typing import Any

import aiohttp.web
import kmock

from tests.support.kube.status import details, status_response

Path = tuple[str, ...]
Manager = tuple[str, str]  # (field manager, "apply" or "update")
Owners = dict[Manager, set[Path]]
Conflict = tuple[Manager, Path]

# Fields the server owns; an apply configuration never takes ownership of them.
SERVER_FIELDS: set[Path] = {("apiVersion",), ("kind",), ("metadata", "name"), ("metadata", "namespace")}
_MISSING = object()


def leaf_paths(value: dict, prefix: Path = ()) -> dict[Path, Any]:
    """Every leaf of an object as path → value; lists are atomic leaves (as in Istio's CRD schemas)."""
    leaves: dict[Path, Any] = {}
    for key, item in value.items():
        path = (*prefix, key)
        if isinstance(item, dict) and item:
            leaves.update(leaf_paths(item, path))
        else:
            leaves[path] = item
    return leaves


def updated_by(manager: str, body: dict) -> Owners:
    """The owners of an object a create or PUT wrote whole: that manager owns every field but the server's."""
    return {(manager, "update"): set(leaf_paths(body)) - SERVER_FIELDS}


def managed_fields(owners: Owners) -> list[dict[str, str]]:
    """`metadata.managedFields` (without `fieldsV1`: nothing egressui reads)."""
    return [
        {"manager": manager, "operation": "Apply" if op == "apply" else "Update", "fieldsType": "FieldsV1"}
        for manager, op in sorted(owners)
    ]


def apply_configuration(live: dict, owners: Owners, config: dict, manager: str, *, force: bool) -> list[Conflict]:
    """Server-side apply of `config` by `manager` to `live` and its `owners` (both changed in place):
    fields the manager stops applying are removed unless another manager owns them, a field another
    manager owns with the same value becomes shared, and one with a different value conflicts unless
    `force` takes it over. Returns the conflicts
    that stopped the apply (then nothing is changed)."""
    applied = {path: value for path, value in leaf_paths(config).items() if path not in SERVER_FIELDS}
    me = (manager, "apply")
    conflicts = [
        (other, path)
        for other, paths in owners.items()
        if other != me
        for path in applied
        if path in paths and _get(live, path) != applied[path]
    ]
    if conflicts and not force:
        return conflicts
    for other, path in conflicts:
        owners[other].discard(path)
    for path in owners.get(me, set()) - set(applied):
        if not any(path in paths for other, paths in owners.items() if other != me):
            _remove(live, path)
    # A field another manager owns with the same value is shared, not taken (the forced conflicts are).
    for path, value in applied.items():
        _set(live, path, value)
    owners[me] = set(applied)
    live["metadata"].pop("managedFields", None)
    return []


def conflict_response(request: kmock.Request, config: dict, conflicts: list[Conflict]) -> aiohttp.web.Response:
    """409 naming each field and the manager that owns it (the apply was not forced)."""
    api_version = config.get("apiVersion") or ""
    causes = [
        {
            "reason": "FieldManagerConflict",
            "message": f'conflict with "{manager}" using {api_version}',
            "field": "." + ".".join(path),
        }
        for (manager, _), path in conflicts
    ]
    plural = "s" if len(causes) > 1 else ""
    if len(causes) == 1:
        listed = f"{causes[0]['message']}: {causes[0]['field']}"
    else:
        listed = "\n" + "\n".join(f"- {cause['message']}: {cause['field']}" for cause in causes)
    answer = {**details(request), "causes": causes}
    return status_response(409, "Conflict", f"Apply failed with {len(causes)} conflict{plural}: {listed}", answer)


def merge(value: dict, patch: dict) -> dict:
    """A JSON merge patch (RFC 7386) applied to `value` in place: None removes a key."""
    for key, item in patch.items():
        if item is None:
            value.pop(key, None)
        elif isinstance(item, dict) and isinstance(value.get(key), dict):
            value[key] = merge(value[key], item)
        else:
            value[key] = copy.deepcopy(item)
    return value


def merge_patch_between(before: dict, after: dict) -> dict:
    """A merge patch that turns `before` into `after` (for field ownership of a JSON patch)."""
    patch: dict = {}
    for key in before.keys() - after.keys():
        patch[key] = None
    for key, value in after.items():
        if isinstance(value, dict) and isinstance(before.get(key), dict):
            if nested := merge_patch_between(before[key], value):
                patch[key] = nested
        elif before.get(key, _MISSING) != value:
            patch[key] = copy.deepcopy(value)
    return patch


def take_patched_fields(owners: Owners, manager: str, patch: dict) -> None:
    """A merge patch by `manager` takes every field it names away from the other managers."""
    changed = set(leaf_paths(patch))
    for paths in owners.values():
        paths -= changed
    owners.setdefault((manager, "update"), set()).update(changed)


def _get(obj: dict, path: Path) -> Any:
    for key in path:
        if not isinstance(obj, dict) or key not in obj:
            return _MISSING
        obj = obj[key]
    return obj


def _set(obj: dict, path: Path, value: Any) -> None:
    """Set a leaf; `value` comes from a request body parsed for this request alone (not copied)."""
    for key in path[:-1]:
        obj = obj.setdefault(key, {})
    obj[path[-1]] = value


def _remove(obj: dict, path: Path) -> None:
    parents = []
    for key in path[:-1]:
        if not isinstance(obj.get(key), dict):
            return
        parents.append((obj, key))
        obj = obj[key]
    obj.pop(path[-1], None)
    for parent, key in reversed(parents):  # drop maps left empty, like the API server's pruning
        if parent[key] == {} and key not in ("metadata", "spec"):
            del parent[key]
