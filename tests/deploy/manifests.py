"""Rendered deploy/ files, shared by the tests in this folder (rendered once, handed out as copies)."""

import copy
from functools import cache
from pathlib import Path

import yaml

from tests.deploy.kustomize import build

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
KUBERNETES = DEPLOY / "kubernetes"
TARGETS = {"base": KUBERNETES / "base", "production": KUBERNETES / "overlays" / "production"}
SECRET_TEMPLATE = KUBERNETES / "base" / "secret.template.yaml"
# Oldest Kubernetes minor the manifests are checked against (kubernetes-validate's schemas).
KUBERNETES_VERSION = "1.30"
WORKLOAD_KINDS = {"Deployment", "Job"}


@cache
def _rendered(target: str) -> tuple[dict, ...]:
    return tuple(build(TARGETS[target]))


def rendered(target: str) -> list[dict]:
    return copy.deepcopy(list(_rendered(target)))


def find(objects: list[dict], kind: str, name: str) -> dict:
    matches = [obj for obj in objects if obj["kind"] == kind and obj["metadata"]["name"] == name]
    assert len(matches) == 1, f"expected one {kind} {name}, found {len(matches)}"
    return matches[0]


def workloads(objects: list[dict]) -> list[dict]:
    return [obj for obj in objects if obj["kind"] in WORKLOAD_KINDS]


def pod_spec(workload: dict) -> dict:
    return workload["spec"]["template"]["spec"]


def containers(workload: dict) -> list[dict]:
    spec = pod_spec(workload)
    return spec.get("initContainers", []) + spec["containers"]


def main_container(workload: dict) -> dict:
    (container,) = pod_spec(workload)["containers"]
    return container


def secret_template() -> dict:
    return yaml.safe_load(SECRET_TEMPLATE.read_text())


def compose() -> dict:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())
