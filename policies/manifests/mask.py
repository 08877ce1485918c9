"""Previews for people who may not see other teams' access (issue 12, finding 4).

The shared objects in the egress namespace list every team granted a host: principals in the
AuthorizationPolicy, namespaces in `exportTo` and in the gateway's NetworkPolicy, grant ids in the
grants annotation. A requester sees their own share in full and, for the rest, only how many there
are (`… 2 principals of other teams`); objects in other teams' namespaces are left out. Pure: the
caller says which namespaces and grants are hidden.
"""

import re
from dataclasses import dataclass
from typing import Any

from policies.constants import ANNOTATION_CONTENT_HASH, ANNOTATION_GRANTS

MASKED_HASH = "(hidden: the object lists other teams)"
_PRINCIPAL = re.compile(r"/ns/([^/]+)/sa/")


@dataclass(frozen=True, slots=True)
class MaskScope:
    hidden_namespaces: frozenset[str]  # app namespaces of teams the viewer is not in
    visible_grants: frozenset[str]  # grant labels (ids or the request's ref) the viewer may see


def mask_objects(objects: list[dict], scope: MaskScope) -> list[dict]:
    """Copies of `objects` with other teams' namespaces, principals and grant ids replaced by counts;
    objects in their namespaces dropped."""
    masked = []
    for obj in objects:
        metadata = obj.get("metadata") or {}
        if metadata.get("namespace") in scope.hidden_namespaces:
            continue
        counter = [0]
        copy = _mask_value(obj, scope, counter)
        annotations = copy.get("metadata", {}).get("annotations")
        if annotations is not None:
            counter[0] += _mask_grants(annotations, scope)
            if counter[0] and ANNOTATION_CONTENT_HASH in annotations:
                # The hash of the whole object would let a guess of the hidden entries be confirmed.
                annotations[ANNOTATION_CONTENT_HASH] = MASKED_HASH
        masked.append(copy)
    return masked


def _mask_value(value: Any, scope: MaskScope, counter: list[int]) -> Any:
    if isinstance(value, dict):
        return {key: _mask_value(item, scope, counter) for key, item in value.items()}
    if isinstance(value, list):
        if value and all(isinstance(item, str) for item in value):
            return _mask_strings(value, scope, counter)
        return [_mask_value(item, scope, counter) for item in value]
    return value


def _mask_strings(items: list[str], scope: MaskScope, counter: list[int]) -> list[str]:
    kept, principals, namespaces = [], 0, 0
    for item in items:
        principal = _PRINCIPAL.search(item)
        if principal is not None and principal.group(1) in scope.hidden_namespaces:
            principals += 1
        elif item in scope.hidden_namespaces or item.split("/", 1)[0] in scope.hidden_namespaces:
            namespaces += 1
        else:
            kept.append(item)
    counter[0] += principals + namespaces
    if principals:
        kept.append(f"… {principals} {_plural(principals, 'principal')} of other teams")
    if namespaces:
        kept.append(f"… {namespaces} {_plural(namespaces, 'namespace')} of other teams")
    return kept


def _mask_grants(annotations: dict, scope: MaskScope) -> int:
    value = annotations.get(ANNOTATION_GRANTS)
    if not value:
        return 0
    labels = value.split(",")
    kept = [label for label in labels if label in scope.visible_grants]
    hidden = len(labels) - len(kept)
    if hidden:
        kept.append(f"… {hidden} {_plural(hidden, 'grant')} of other teams")
        annotations[ANNOTATION_GRANTS] = ",".join(kept)
    return hidden


def _plural(count: int, word: str) -> str:
    return word if count == 1 else f"{word}s"
