"""A small kustomize subset in Python, for rendering deploy/kubernetes in tests (no kustomize binary here).

It implements exactly the kustomization fields deploy/kubernetes uses, with kustomize's semantics for
them, and refuses everything else instead of silently ignoring it:

- `resources`: files (multi-document YAML) and directories holding a kustomization.yaml;
- `namespace`: sets metadata.namespace on every namespaced object (binding subjects are left alone:
  the base names them explicitly, and the tests check they match);
- `labels` with `pairs` and `includeSelectors: false`: metadata labels only;
- `patches` with an inline or file JSON 6902 patch and a target by kind/name (+ group/version/namespace);
- `replicas`: spec.replicas by name;
- `images`: newName / newTag / digest for containers and init containers, matched by image name.

Transformers run in kustomize's order: patches, namespace, labels, replicas, images.
"""

from pathlib import Path

import jsonpatch
import yaml

SUPPORTED_FIELDS = {"apiVersion", "kind", "resources", "namespace", "labels", "patches", "replicas", "images"}
CLUSTER_SCOPED_KINDS = {
    "Namespace",
    "ClusterRole",
    "ClusterRoleBinding",
    "CustomResourceDefinition",
    "PersistentVolume",
    "StorageClass",
    "PriorityClass",
}
_SCALABLE_KINDS = {"Deployment", "StatefulSet", "ReplicaSet", "ReplicationController"}
_POD_TEMPLATE_PATHS = {
    "Deployment": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
    "Pod": ("spec",),
}


class KustomizeError(Exception):
    pass


def build(directory: Path | str) -> list[dict]:
    """Render the kustomization in `directory` to a list of objects, in resource order."""
    directory = Path(directory)
    kustomization_file = directory / "kustomization.yaml"
    if not kustomization_file.is_file():
        raise KustomizeError(f"{directory}: no kustomization.yaml")
    kustomization = yaml.safe_load(kustomization_file.read_text()) or {}
    unsupported = sorted(set(kustomization) - SUPPORTED_FIELDS)
    if unsupported:
        raise KustomizeError(f"{kustomization_file}: unsupported fields {unsupported}")

    objects: list[dict] = []
    for entry in kustomization.get("resources", []):
        path = directory / entry
        if path.is_dir():
            objects.extend(build(path))
        elif path.is_file():
            objects.extend(doc for doc in yaml.safe_load_all(path.read_text()) if doc)
        else:
            raise KustomizeError(f"{kustomization_file}: resource {entry!r} not found")
    _check_unique(objects, kustomization_file)

    for patch in kustomization.get("patches", []):
        _apply_patch(objects, patch, directory)
    if "namespace" in kustomization:
        _set_namespace(objects, kustomization["namespace"])
    for label_set in kustomization.get("labels", []):
        _add_labels(objects, label_set, kustomization_file)
    for replica in kustomization.get("replicas", []):
        _set_replicas(objects, replica, kustomization_file)
    for image in kustomization.get("images", []):
        _set_image(objects, image)
    return objects


def object_id(obj: dict) -> tuple[str, str, str, str]:
    metadata = obj.get("metadata", {})
    return obj["apiVersion"], obj["kind"], metadata.get("namespace", ""), metadata["name"]


def _check_unique(objects: list[dict], source: Path) -> None:
    seen = set()
    for obj in objects:
        key = object_id(obj)
        if key in seen:
            raise KustomizeError(f"{source}: {key} is defined twice")
        seen.add(key)


def _matches(obj: dict, target: dict) -> bool:
    group, _, version = obj["apiVersion"].rpartition("/")
    wanted = {
        "group": group,
        "version": version,
        "kind": obj["kind"],
        "name": obj["metadata"]["name"],
        "namespace": obj["metadata"].get("namespace", ""),
    }
    unknown = set(target) - set(wanted)
    if unknown:
        raise KustomizeError(f"patch target selectors {sorted(unknown)} are not supported")
    return all(wanted[key] == value for key, value in target.items())


def _apply_patch(objects: list[dict], patch: dict, directory: Path) -> None:
    if set(patch) - {"patch", "path", "target"} or "target" not in patch:
        raise KustomizeError(f"only JSON 6902 patches with a target are supported, got {patch}")
    text = patch["patch"] if "patch" in patch else (directory / patch["path"]).read_text()
    operations = yaml.safe_load(text)
    if not isinstance(operations, list):
        raise KustomizeError("strategic merge patches are not supported; use a JSON 6902 list of operations")
    matched = [i for i, obj in enumerate(objects) if _matches(obj, patch["target"])]
    if not matched:
        raise KustomizeError(f"patch target {patch['target']} matches no resource")
    for index in matched:
        try:
            objects[index] = jsonpatch.apply_patch(objects[index], operations)
        except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException) as exc:
            raise KustomizeError(f"patch on {object_id(objects[index])} failed: {exc}") from exc


def _set_namespace(objects: list[dict], namespace: str) -> None:
    for obj in objects:
        if obj["kind"] not in CLUSTER_SCOPED_KINDS:
            obj["metadata"]["namespace"] = namespace


def _add_labels(objects: list[dict], label_set: dict, source: Path) -> None:
    if set(label_set) - {"pairs", "includeSelectors"} or label_set.get("includeSelectors", False):
        raise KustomizeError(f"{source}: only `labels` with pairs and includeSelectors: false are supported")
    for obj in objects:
        obj["metadata"].setdefault("labels", {}).update(label_set["pairs"])


def _set_replicas(objects: list[dict], replica: dict, source: Path) -> None:
    matched = [obj for obj in objects if obj["kind"] in _SCALABLE_KINDS and obj["metadata"]["name"] == replica["name"]]
    if not matched:
        raise KustomizeError(f"{source}: replicas for {replica['name']!r} match no resource")
    for obj in matched:
        obj["spec"]["replicas"] = replica["count"]


def split_image(image: str) -> tuple[str, str, str]:
    """`registry:5000/name:tag@sha256:…` → (name, tag, digest); a port is not a tag."""
    name, _, digest = image.partition("@")
    slash = name.rfind("/")
    colon = name.rfind(":")
    if colon > slash:
        return name[:colon], name[colon + 1 :], digest
    return name, "", digest


def _set_image(objects: list[dict], rule: dict) -> None:
    for obj in objects:
        path = _POD_TEMPLATE_PATHS.get(obj["kind"])
        if path is None:
            continue
        pod_spec = obj
        for key in path:
            pod_spec = pod_spec[key]
        for container in pod_spec.get("initContainers", []) + pod_spec.get("containers", []):
            name, tag, digest = split_image(container["image"])
            if name != rule["name"]:
                continue
            name = rule.get("newName", name)
            if "digest" in rule:
                tag, digest = "", rule["digest"]
            elif "newTag" in rule:
                tag, digest = rule["newTag"], ""
            container["image"] = name + (f":{tag}" if tag else "") + (f"@{digest}" if digest else "")
