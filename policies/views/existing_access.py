"""The request form's warning about access that exists or is already asked for: each destination row
gets `existing_access`, the entries for the identities ticked above it (a warning; saving stays allowed)."""

from django.conf import settings

from policies.exceptions import ValidationFailed
from policies.selectors.existing_access import existing_access
from policies.validators import validate_destination


def _row_destination(dform) -> tuple[str, int, str] | None:
    """The row's normalised destination, or None while it is empty or invalid."""
    if dform.is_bound:
        if not dform.is_valid() or dform.valid is None:
            return None
        return dform.valid.host, dform.valid.port, dform.valid.protocol
    initial = dform.initial or {}
    if not initial.get("host"):
        return None
    try:
        valid = validate_destination(
            host=initial["host"],
            port=initial.get("port") or "",
            protocol=initial.get("protocol") or "tls",
            internal_suffixes=tuple(settings.EGRESSUI_INTERNAL_SUFFIXES),
        )
    except ValidationFailed:
        return None
    return valid.host, valid.port, valid.protocol


def mark_existing_access(form, formset, *, instance=None) -> None:
    """Two queries at most (the ticked identities the form offers, then the grants and requests).
    Only identities the form offers count: a forged id never reveals another team's grants."""
    for dform in formset.forms:
        dform.existing_access = []
    chosen = form.selected_identity_ids()
    if not chosen:
        return
    offered = (
        form.fields["identities"]
        .queryset.filter(pk__in=chosen, namespace__team_id=form.selected_team_id())
        .values_list("pk", flat=True)
    )
    identity_ids = sorted(offered)
    rows = [(dform, _row_destination(dform)) for dform in formset.forms]
    pairs = {(pk, *destination) for _, destination in rows if destination for pk in identity_ids}
    found = existing_access(pairs)
    own = instance.pk if instance is not None else None
    for dform, destination in rows:
        if destination:
            dform.existing_access = [
                item
                for pk in identity_ids
                for item in found.get((pk, *destination), ())
                if item.request_id is None or item.request_id != own
            ]
