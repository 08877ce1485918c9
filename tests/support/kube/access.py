"""Authentication and authorisation as kube-apiserver does them, from the rules of tests/support/rbac.py."""

import aiohttp.web
import kmock

from tests.support.kube.status import details, json_response, status_response
from tests.support.rbac import Identity, RbacPolicy, forbidden_message

SSAR = kmock.resource("authorization.k8s.io", "v1", "selfsubjectaccessreviews")


def bearer_token(header: str) -> str:
    """The token of an `Authorization: Bearer …` header ("" for any other scheme)."""
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def kube_verb(request: kmock.Request) -> str:
    """The verb the API server authorises a request as (every kind of PATCH, apply included, is
    `patch`; a DELETE without a name is `deletecollection`)."""
    method = request.method.value
    if method == "GET":
        return "get" if request.name else ("watch" if request.params.get("watch") in ("true", "1") else "list")
    if method == "DELETE":
        return "delete" if request.name else "deletecollection"
    return {"POST": "create", "PUT": "update", "PATCH": "patch"}.get(method, method.lower())


def authorize(rbac: RbacPolicy, identity: Identity, verb: str, request: kmock.Request) -> aiohttp.web.Response | None:
    """None if RBAC allows the request, else the API server's 403 `Status`."""
    resource = request.resource.plural + (f"/{request.subresource}" if request.subresource else "")
    group, namespace, name = request.resource.group or "", request.namespace, request.name
    attributes = {"verb": verb, "group": group, "resource": resource, "namespace": namespace, "name": name}
    if rbac.allows(identity, **attributes):
        return None
    return status_response(403, "Forbidden", forbidden_message(identity, **attributes), details(request))


def access_review(
    review: dict, *, identity: Identity | None, rbac: RbacPolicy | None, denied: set[tuple[str, str, str]]
) -> aiohttp.web.Response:
    """A SelfSubjectAccessReview, answered from the same rules that authorise requests (without RBAC,
    from `denied`: {(group, resource, verb)})."""
    attributes = (review.get("spec") or {}).get("resourceAttributes") or {}
    group, verb = attributes.get("group") or "", attributes.get("verb") or ""
    resource = (attributes.get("resource") or "") + (
        f"/{attributes['subresource']}" if attributes.get("subresource") else ""
    )
    if identity is None or rbac is None:
        allowed = (group, resource, verb) not in denied
    else:
        allowed = rbac.allows(
            identity,
            verb=verb,
            group=group,
            resource=resource,
            namespace=attributes.get("namespace") or None,
            name=attributes.get("name") or None,
        )
    body = {
        "kind": "SelfSubjectAccessReview",
        "apiVersion": "authorization.k8s.io/v1",
        "metadata": {"creationTimestamp": None},
        "spec": review.get("spec") or {},
        "status": {"allowed": allowed},
    }
    return json_response(body, status=201)
