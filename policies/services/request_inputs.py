"""What a requester enters (`RequestInput`), validated as a whole, and writing a request's identities
and destinations: shared by the request services and break-glass access (`services.grants`)."""

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import URLValidator

from policies.constants import MAX_DESTINATIONS_PER_REQUEST, MAX_IDENTITIES_PER_REQUEST
from policies.exceptions import PermissionDenied, ValidationFailed
from policies.models import EgressRequest, RequestDestination, Team, WorkloadIdentity
from policies.permissions import can_request_for_team
from policies.validators import validate_destination_input


@dataclass
class DestinationInput:
    host: str
    port: int | str
    protocol: str = "tls"
    expanded_hosts: list[str] = field(default_factory=list)
    tcp_direct: bool = False


@dataclass
class RequestInput:
    """What a requester fills in; validated as a whole so every problem is reported at once."""

    team: Team
    identities: list[WorkloadIdentity]
    destinations: list[DestinationInput]
    justification: str
    ticket_url: str = ""
    duration_days: int | str | None = None


def _errors_add(errors: dict[str, list[str]], field_name: str, message: str) -> None:
    errors.setdefault(field_name, []).append(message)


def request_input_validate(data: RequestInput, *, actor: User) -> tuple[list[WorkloadIdentity], list[dict], int]:
    errors: dict[str, list[str]] = {}
    if not can_request_for_team(actor, data.team):
        raise PermissionDenied(f"You are not a member of team {data.team.slug}.")

    identities: list[WorkloadIdentity] = []
    for identity in data.identities:
        if identity.pk not in {i.pk for i in identities}:
            identities.append(identity)
    if not identities:
        _errors_add(errors, "identities", "Choose at least one workload identity.")
    elif len(identities) > MAX_IDENTITIES_PER_REQUEST:
        _errors_add(errors, "identities", f"Choose at most {MAX_IDENTITIES_PER_REQUEST} workload identities.")
    for identity in identities:
        if identity.namespace.team_id != data.team.pk:
            _errors_add(errors, "identities", f"{identity} is not in a namespace of team {data.team.slug}.")

    destinations: list[dict] = []
    seen: set[tuple] = set()
    if not data.destinations:
        _errors_add(errors, "destinations", "Add at least one destination.")
    elif len(data.destinations) > MAX_DESTINATIONS_PER_REQUEST:
        _errors_add(errors, "destinations", f"Add at most {MAX_DESTINATIONS_PER_REQUEST} destinations.")
    for index, item in enumerate(data.destinations[:MAX_DESTINATIONS_PER_REQUEST]):
        try:
            valid = validate_destination_input(item)
        except ValidationFailed as exc:
            for field_name, messages in exc.fields.items():
                for message in messages:
                    _errors_add(errors, f"destinations.{index}.{field_name}", message)
            continue
        key = (valid.host, valid.port, valid.protocol)
        if key in seen:
            _errors_add(
                errors, f"destinations.{index}.host", f"{valid.host}:{valid.port} ({valid.protocol}) is listed twice."
            )
            continue
        seen.add(key)
        if item.tcp_direct and valid.protocol != "tcp":
            _errors_add(errors, f"destinations.{index}.tcp_direct", "Direct access is only possible for tcp.")
            continue
        destinations.append(
            {
                "host": valid.host,
                "port": valid.port,
                "protocol": valid.protocol,
                "expanded_hosts": list(valid.expanded_hosts),
                "tcp_direct": bool(item.tcp_direct),
            }
        )

    if not (data.justification or "").strip():
        _errors_add(errors, "justification", "Explain why the workloads need this access.")
    elif len(data.justification) > 5000:
        _errors_add(errors, "justification", "Keep the justification under 5000 characters.")
    if data.ticket_url:
        try:
            URLValidator(schemes=["http", "https"])(data.ticket_url)
        except DjangoValidationError:
            _errors_add(errors, "ticket_url", "Enter a full http(s) link to the ticket.")

    raw_duration = data.duration_days
    if raw_duration in (None, ""):
        raw_duration = settings.EGRESSUI_DEFAULT_GRANT_DAYS
    try:
        duration = int(raw_duration)  # type: ignore[arg-type]  # not None: replaced by the default above
    except (TypeError, ValueError):
        _errors_add(errors, "duration_days", "Enter the duration as a whole number of days.")
        duration = 0
    else:
        if not 1 <= duration <= settings.EGRESSUI_MAX_GRANT_DAYS:
            _errors_add(errors, "duration_days", f"The duration must be 1–{settings.EGRESSUI_MAX_GRANT_DAYS} days.")

    if errors:
        first_field = next(iter(errors))
        raise ValidationFailed(f"{first_field}: {errors[first_field][0]}", fields=errors)
    return identities, destinations, duration


def request_items_write(
    request: EgressRequest,
    identities: Iterable[WorkloadIdentity],
    destinations: Iterable[dict],
    *,
    new: bool = False,
) -> None:
    """Replace the request's identities and destinations; a `new` request has none to read first."""
    if new:
        request.identities.add(*identities)
    else:
        request.identities.set(identities)
        request.destinations.all().delete()
    RequestDestination.objects.bulk_create([RequestDestination(request=request, **d) for d in destinations])


def request_from_input(data: RequestInput, *, requester: User, **fields: Any) -> EgressRequest:
    """Validate `data` and write a new request with its identities and destinations; `fields` are
    the caller's own columns (renewal_of, break_glass, status). The caller records the audit event in
    the same transaction."""
    identities, destinations, duration = request_input_validate(data, actor=requester)
    request = EgressRequest.objects.create(
        team=data.team,
        requester=requester,
        justification=data.justification.strip(),
        ticket_url=data.ticket_url,
        duration_days=duration,
        **fields,
    )
    request_items_write(request, identities, destinations, new=True)
    return request
