"""`python manage.py render_manifests --cluster NAME [--output DIR]`: a cluster's desired objects."""

import os
import tempfile
from pathlib import Path

import yaml
from django.core.management.base import BaseCommand, CommandError

from policies.constants import LABEL_CLUSTER, LABEL_MANAGED_BY, LABEL_MANAGED_BY_VALUE
from policies.exceptions import ApplicationError
from policies.manifests import dump_object_yaml, dump_yaml, load_yaml, object_path
from policies.models import Cluster
from policies.selectors.clusters import cluster_names
from policies.selectors.manifests import cluster_render


def _is_ours(document: dict, cluster: str) -> bool:
    labels = (document.get("metadata") or {}).get("labels") or {}
    return labels.get(LABEL_MANAGED_BY) == LABEL_MANAGED_BY_VALUE and labels.get(LABEL_CLUSTER) == cluster


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".tmp")
    with os.fdopen(handle, "w", encoding="utf-8") as stream:
        stream.write(text)
    os.replace(temporary, path)


class Command(BaseCommand):
    help = (
        "Render the objects a cluster should hold for its active grants. Without --output the YAML goes to "
        "stdout; with --output DIR each object is written to DIR/<namespace>/<kind>-<name>.yaml, and files "
        "of this cluster's objects that are no longer desired are removed (other files are left alone). "
        "Grants that cannot be rendered are listed on stderr."
    )

    def add_arguments(self, parser):
        parser.add_argument("--cluster", required=True, help="Cluster name.")
        parser.add_argument("--output", metavar="DIR", help="Write one file per object under DIR.")

    def handle(self, *args, cluster: str, output: str | None, **options):
        found = Cluster.objects.filter(name=cluster).first()
        if found is None:
            known = ", ".join(cluster_names()) or "none"
            raise CommandError(f"No cluster named {cluster!r} (clusters: {known}).")
        try:
            result = cluster_render(found)
        except ApplicationError as exc:
            raise CommandError(exc.message) from None
        for item in result.unrenderable:
            self.stderr.write(
                f"not rendered: grant {item.grant} ({item.namespace}/{item.service_account} → "
                f"{item.host}:{item.port} {item.protocol}): {item.reason}"
            )
        if output is None:
            self.stdout.write(dump_yaml(result.objects), ending="")
            return
        self._write_directory(Path(output), found.name, result.objects)

    def _write_directory(self, root: Path, cluster: str, objects: list[dict]) -> None:
        desired = {root / object_path(obj): dump_object_yaml(obj) for obj in objects}
        written = unchanged = removed = 0
        for path, text in desired.items():
            if path.is_file() and path.read_text(encoding="utf-8") == text:
                unchanged += 1
                continue
            _write_atomically(path, text)
            written += 1
        for path in sorted(root.glob("*/*.yaml")) if root.is_dir() else []:
            if path in desired:
                continue
            try:
                documents = load_yaml(path.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, yaml.YAMLError):
                continue  # not ours to judge: leave files we cannot read alone
            if documents and all(isinstance(d, dict) and _is_ours(d, cluster) for d in documents):
                path.unlink()
                removed += 1
        self.stdout.write(f"{root}: written={written} unchanged={unchanged} removed={removed} objects={len(objects)}")
