"""The preview of the Kubernetes objects a request would add, change or remove in each cluster, for a
saved request and for the unsaved input of the request form, and of a namespace's switch between
observe and enforce. The rendering and the diff belong to `policies.selectors.manifests`; this only
turns a refusal into something the page can show. Request previews carry each live cluster's
server-side dry-run verdict (`policies.reconciler.dry_run`)."""

from dataclasses import dataclass, field

from policies.exceptions import ApplicationError
from policies.selectors.manifests import (
    ClusterPreview,
    namespace_enforcement_preview,
    request_input_preview,
    request_preview,
)


@dataclass
class Preview:
    clusters: list[ClusterPreview] = field(default_factory=list)
    error: str = ""


def preview_for_request(egress_request, *, viewer) -> Preview:
    try:
        return Preview(request_preview(egress_request, viewer=viewer, server_check=True))
    except ApplicationError as exc:
        return Preview(error=exc.message)


def preview_for_input(data, *, viewer, instance=None) -> Preview:
    try:
        return Preview(request_input_preview(data, viewer=viewer, request=instance, server_check=True))
    except ApplicationError as exc:
        return Preview(error=exc.message)


def preview_for_namespace(namespace, enforcement: str, *, viewer) -> Preview:
    try:
        return Preview([namespace_enforcement_preview(namespace, enforcement, viewer=viewer)])
    except ApplicationError as exc:
        return Preview(error=exc.message)
