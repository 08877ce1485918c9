"""The kustomize subset itself: each supported feature does what kustomize does, the rest is refused."""

import pytest
import yaml

from tests.deploy.kustomize import KustomizeError, build, split_image

DEPLOYMENT = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "app"},
    "spec": {
        "replicas": 1,
        "template": {
            "spec": {
                "initContainers": [{"name": "init", "image": "app:1.0"}],
                "containers": [{"name": "app", "image": "app"}, {"name": "proxy", "image": "envoy:1.30"}],
            }
        },
    },
}
ROLE = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "r"}, "rules": []}


def _write(directory, name, content):
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    text = (
        content if isinstance(content, str) else yaml.safe_dump_all(content if isinstance(content, list) else [content])
    )
    path.write_text(text)
    return path


class KustomizeSubsetTests:
    def test_base_and_overlay(self, tmp_path):
        _write(tmp_path, "base/app.yaml", [DEPLOYMENT, ROLE])
        _write(
            tmp_path,
            "base/kustomization.yaml",
            {"namespace": "ns", "labels": [{"pairs": {"team": "x"}}], "resources": ["app.yaml"]},
        )
        _write(
            tmp_path,
            "overlay/kustomization.yaml",
            {
                "resources": ["../base"],
                "replicas": [{"name": "app", "count": 4}],
                "images": [{"name": "app", "newName": "reg.example:5000/app", "newTag": "2.0"}],
                "patches": [
                    {
                        "target": {"kind": "Deployment", "name": "app"},
                        "patch": "- op: add\n  path: /metadata/annotations\n  value: {a: b}\n",
                    }
                ],
            },
        )
        deployment, role = build(tmp_path / "overlay")
        assert deployment["metadata"] == {
            "name": "app",
            "namespace": "ns",
            "labels": {"team": "x"},
            "annotations": {"a": "b"},
        }
        assert "namespace" not in role["metadata"], "cluster-scoped"
        assert deployment["spec"]["replicas"] == 4
        spec = deployment["spec"]["template"]["spec"]
        assert [c["image"] for c in spec["initContainers"] + spec["containers"]] == [
            "reg.example:5000/app:2.0",
            "reg.example:5000/app:2.0",
            "envoy:1.30",
        ]

    @pytest.mark.parametrize(
        "kustomization, message",
        [
            ({"resources": ["app.yaml"], "commonLabels": {"a": "b"}}, "unsupported fields"),
            ({"resources": ["app.yaml"], "labels": [{"pairs": {"a": "b"}, "includeSelectors": True}]}, "labels"),
            ({"resources": ["missing.yaml"]}, "not found"),
            ({"resources": ["app.yaml", "app.yaml"]}, "defined twice"),
            (
                {"resources": ["app.yaml"], "patches": [{"target": {"kind": "Deployment"}, "patch": "spec: {}"}]},
                "strategic merge",
            ),
            (
                {"resources": ["app.yaml"], "patches": [{"target": {"kind": "Service"}, "patch": "[]"}]},
                "matches no resource",
            ),
            (
                {
                    "resources": ["app.yaml"],
                    "patches": [{"target": {"kind": "Deployment"}, "patch": "[{op: remove, path: /nope}]"}],
                },
                "failed",
            ),
            ({"resources": ["app.yaml"], "replicas": [{"name": "other", "count": 2}]}, "match no resource"),
        ],
    )
    def test_refuses_what_it_does_not_implement_or_cannot_apply(self, tmp_path, kustomization, message):
        _write(tmp_path, "app.yaml", DEPLOYMENT)
        _write(tmp_path, "kustomization.yaml", kustomization)
        with pytest.raises(KustomizeError, match=message):
            build(tmp_path)

    @pytest.mark.parametrize(
        "image, parts",
        [
            ("app", ("app", "", "")),
            ("app:1", ("app", "1", "")),
            ("reg:5000/team/app", ("reg:5000/team/app", "", "")),
            ("reg:5000/app:1@sha256:ab", ("reg:5000/app", "1", "sha256:ab")),
        ],
    )
    def test_split_image(self, image, parts):
        assert split_image(image) == parts
