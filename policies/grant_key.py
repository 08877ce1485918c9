"""Which active grant a new grant replaces, and what a grant takes from its request's destination.

An identity holds at most one active grant per destination, and a destination is (host, port,
protocol): the same host on another port or protocol is other access, granted beside it. Approval
supersedes the active grant with the same key (`services.grants.grants_create_for_request`), the
preview of an approval replaces it the same way (`selectors.manifests`), the request form and inbox
warn about it (`selectors.existing_access`), and the database allows one active grant per key
(`models.Grant`). All of them read the rule from here, so they cannot drift apart.

Pure: no Django, so the manifest side may use it too.
"""

from collections.abc import Mapping
from typing import Any, TypeVar

Identity = TypeVar("Identity")

# The destination's share of the key; with the identity, the key of an active grant.
DESTINATION_KEY = ("host", "port", "protocol")
# What a grant copies from the destination it is approved for: the key, and what the renderer needs.
GRANT_COPIES = (*DESTINATION_KEY, "expanded_hosts", "tcp_direct")


def destination_key(destination: Any) -> tuple[str, int, str]:
    """(host, port, protocol) of a RequestDestination, Grant or GrantSpec, or of a `.values()` row."""
    if isinstance(destination, Mapping):
        return destination["host"], destination["port"], destination["protocol"]
    return destination.host, destination.port, destination.protocol


def grant_key(identity: Identity, destination: Any) -> tuple[Identity, str, int, str]:
    """The key under which a grant for `identity` to `destination` replaces an active one. `identity`
    is whatever names it where the caller stands: an id, or (namespace, service account) in one cluster."""
    return (identity, *destination_key(destination))


def key_filter(destination: Any) -> dict[str, Any]:
    """The destination's share of the key as queryset lookups on Grant."""
    return dict(zip(DESTINATION_KEY, destination_key(destination), strict=True))


def grant_copies(destination: Any) -> dict[str, Any]:
    """The fields a grant (or a would-be grant in a preview) copies from `destination`."""
    return {name: getattr(destination, name) for name in GRANT_COPIES}
