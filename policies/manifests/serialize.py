"""Content hashes and deterministic YAML for rendered objects.

The reconciler compares live and desired objects by `content_hash`; the UI, the API
(`?format=yaml`), `render_manifests` and the GitOps directory target all write YAML through
`dump_yaml` / `dump_object_yaml`, so equal objects always give byte-identical text.
"""

import hashlib
from collections.abc import Iterable
from typing import Any

import orjson
import yaml

from policies.constants import ANNOTATION_CONTENT_HASH
from policies.manifests.kinds import APPLY_ORDER, kind_key

_Dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_YAML_OPTIONS: dict[str, Any] = {
    "sort_keys": True,
    "default_flow_style": False,
    "allow_unicode": True,
    "width": 1 << 16,
}


def canonical_json(value: Any) -> bytes:
    """Compact UTF-8 JSON with sorted keys: equal data, equal bytes, whatever the dict order."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def content_hash(obj: dict) -> str:
    """SHA-256 of the object without its own hash annotation: apiVersion, kind, name, namespace,
    labels, the other annotations (the grants it serves) and spec. Anything that changes what the
    cluster holds or what we record about it changes the hash; nothing else does."""
    metadata = obj.get("metadata") or {}
    annotations = metadata.get("annotations") or {}
    if ANNOTATION_CONTENT_HASH in annotations:
        annotations = {key: value for key, value in annotations.items() if key != ANNOTATION_CONTENT_HASH}
        obj = {**obj, "metadata": {**metadata, "annotations": annotations}}
    return hashlib.sha256(canonical_json(obj)).hexdigest()


def object_key(obj: dict) -> tuple[str, str, str]:
    """(kind key, namespace, name): an object's identity in a cluster (`kinds.kind_key`)."""
    metadata = obj["metadata"]
    return kind_key(obj), metadata.get("namespace", ""), metadata["name"]


def object_sort_key(obj: dict) -> tuple[int, str, str]:
    metadata = obj["metadata"]
    return APPLY_ORDER.get(kind_key(obj), len(APPLY_ORDER)), metadata.get("namespace", ""), metadata["name"]


def dump_object_yaml(obj: dict) -> str:
    return yaml.dump(obj, Dumper=_Dumper, **_YAML_OPTIONS)


def dump_yaml(objects: Iterable[dict]) -> str:
    """A multi-document YAML stream, one `---` document per object, in the order given."""
    return yaml.dump_all(list(objects), Dumper=_Dumper, explicit_start=True, **_YAML_OPTIONS)


def load_yaml(text: str) -> list[dict]:
    """Objects from a (multi-document) YAML stream; empty documents are skipped."""
    return [document for document in yaml.load_all(text, Loader=_Loader) if document]


def object_path(obj: dict) -> str:
    """Where one object lives in a directory of manifests: `<namespace>/<kind>-<name>.yaml`."""
    kind, namespace, name = object_key(obj)
    return f"{namespace or '_cluster'}/{kind.lower()}-{name}.yaml"
