"""Access that already exists or is already asked for, per workload identity and destination.

Asking again is legitimate (renewing before expiry, changing the duration), so this is a warning,
never an error: the request form shows it under the destination, the API returns it with the
request, and approvers read "replaces grant #N". Matching is exact on the key under which
approving a request supersedes an active grant (`policies.grant_key`).

Two queries for any number of pairs; callers pass only identities the viewer may see. The denied
attempts page asks `requests_asking` whether a blocked pair is already asked for.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import F
from django.utils import timezone

from policies.choices import OPEN_REQUEST_STATES, GrantStatus, RequestStatus
from policies.grant_key import DESTINATION_KEY, destination_key, grant_key
from policies.models import EgressRequest, Grant, RequestDestination
from policies.selectors.requests import request_destinations, request_identities

# Asked for and not decided yet; a draft is nobody's request until it is submitted.
PENDING_STATES = (RequestStatus.SUBMITTED, RequestStatus.CHANGES_REQUESTED)

Pair = tuple[int, str, int, str]  # `grant_key(identity id, destination)`


@dataclass(frozen=True)
class ExistingAccess:
    identity_id: int
    name: str  # namespace/service-account: how pages name an identity, with its cluster beside it
    cluster: str
    host: str
    port: int
    protocol: str
    grant_id: int | None = None
    expires_at: datetime | None = None
    request_id: int | None = None
    request_status: str = ""
    grant_request_id: int | None = None  # the request that produced the grant

    @property
    def identity(self) -> str:
        """cluster/namespace/service-account: how the API names an identity."""
        return f"{self.cluster}/{self.name}"

    @property
    def destination(self) -> str:
        return f"{self.host}:{self.port} ({self.protocol})"

    @property
    def message(self) -> str:
        who = f"{self.name} ({self.cluster})"
        if self.grant_id is not None:
            return (
                f"{who} already reaches {self.destination} through grant #{self.grant_id}, "
                f"which expires on {self.expires_at:%Y-%m-%d}; approving this request replaces it."
            )
        return f"{who} → {self.destination} is already asked for in request #{self.request_id} ({self.status_label})."

    @property
    def status_label(self) -> str:
        return RequestStatus(self.request_status).label.lower() if self.request_status else ""


def existing_access(pairs: Iterable[Pair], *, now: datetime | None = None) -> dict[Pair, list[ExistingAccess]]:
    """For each pair: the active grant that gives it now, then the open requests that ask for it."""
    wanted = set(pairs)
    if not wanted:
        return {}
    now = now or timezone.now()
    grants = (
        Grant.objects.filter(
            status=GrantStatus.ACTIVE,
            expires_at__gt=now,
            identity_id__in={pair[0] for pair in wanted},
            host__in={pair[1] for pair in wanted},
        )
        .order_by("id")
        .values(
            "id",
            "request_id",
            "identity_id",
            *DESTINATION_KEY,
            "expires_at",
            cluster_name=F("identity__namespace__cluster__name"),
            namespace_name=F("identity__namespace__name"),
            account=F("identity__service_account"),
        )
    )
    found: dict[Pair, list[ExistingAccess]] = {}
    for row in grants:
        what = {"grant_id": row["id"], "expires_at": row["expires_at"], "grant_request_id": row["request_id"]}
        _add(found, wanted, row, row["identity_id"], **what)
    for pair, asked in requests_asking(wanted).items():
        found.setdefault(pair, []).extend(asked)
    return found


def requests_asking(pairs: Iterable[Pair]) -> dict[Pair, list[ExistingAccess]]:
    """For each pair: the pending requests (submitted or sent back, never drafts) that ask for exactly
    it, oldest first (one query)."""
    wanted = set(pairs)
    if not wanted:
        return {}
    asked = (
        RequestDestination.objects.filter(
            request__status__in=PENDING_STATES,
            request__identities__in={pair[0] for pair in wanted},
            host__in={pair[1] for pair in wanted},
        )
        .order_by("request_id")
        .values(
            "request_id",
            *DESTINATION_KEY,
            status=F("request__status"),
            identity=F("request__identities__id"),
            cluster_name=F("request__identities__namespace__cluster__name"),
            namespace_name=F("request__identities__namespace__name"),
            account=F("request__identities__service_account"),
        )
    )
    found: dict[Pair, list[ExistingAccess]] = {}
    for row in asked:
        _add(found, wanted, row, row["identity"], request_id=row["request_id"], request_status=row["status"])
    return found


def _add(
    found: dict[Pair, list[ExistingAccess]], wanted: set[Pair], row: Mapping[str, Any], identity_id: int, **what: Any
) -> None:
    """Record `row` (a grant or a request's destination) under its pair, when that pair is wanted."""
    pair = grant_key(identity_id, row)
    if pair in wanted:
        name = f"{row['namespace_name']}/{row['account']}"
        host, port, protocol = destination_key(row)
        found.setdefault(pair, []).append(
            ExistingAccess(identity_id, name, row["cluster_name"], host, port, protocol, **what)
        )


def request_pairs(request: EgressRequest) -> set[Pair]:
    """The (identity, destination) pairs a request asks for, from the rows its page or the inbox
    already loaded (`request_identities`, `request_destinations`), else two queries."""
    destinations = [destination_key(d) for d in request_destinations(request)]
    return {(identity.pk, *destination) for identity in request_identities(request) for destination in destinations}


def existing_access_of_requests(
    requests: list[EgressRequest], *, pairs_of: Mapping[int, set[Pair]] | None = None
) -> dict[int, list[ExistingAccess]]:
    """Per open request: what its pairs already have elsewhere (the request and its own grants left
    out). Decided requests get nothing: what they replaced shows on the grants ("Superseded by").
    `pairs_of` gives a request's pairs when the caller has read them already (the API's document)."""
    wanted = {
        request.pk: pairs_of[request.pk] if pairs_of is not None else request_pairs(request)
        for request in requests
        if request.status in OPEN_REQUEST_STATES
    }
    found = existing_access({pair for pairs in wanted.values() for pair in pairs})
    result: dict[int, list[ExistingAccess]] = {request.pk: [] for request in requests}
    for pk, pairs in wanted.items():
        result[pk] = [
            item
            for pair in sorted(pairs)
            for item in found.get(pair, ())
            if pk not in (item.request_id, item.grant_request_id)
        ]
    return result
