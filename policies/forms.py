"""Forms of the browser UI. They check the shape of the input and reuse the pure destination
validators so a typo is explained as you type; the services validate everything again and stay the
authority (their errors are mapped back onto these forms by the views)."""

import re
from dataclasses import dataclass, field

from django import forms
from django.conf import settings
from django.core.validators import MaxValueValidator
from django.forms.utils import ErrorDict
from django.utils.functional import cached_property

from policies.choices import PROTOCOL_HELP, EnforcementMode, Environment, Protocol
from policies.constants import DEFAULT_PORT, MAX_DESTINATIONS_PER_REQUEST, MAX_IDENTITIES_PER_REQUEST
from policies.exceptions import ValidationFailed
from policies.manifests.cilium import ORIGINATE_REASON
from policies.models import Cluster, Team, WorkloadIdentity
from policies.permissions import is_platform_admin, member_team_ids, visible_identities
from policies.services.requests import DestinationInput, RequestInput
from policies.validators import Destination, destination_risk_flags, validate_destination


def _lines(value: str | None) -> list[str]:
    return [line.strip() for line in (value or "").replace(",", "\n").splitlines() if line.strip()]


class Form(forms.Form):
    """Labels without Django's trailing colon: the layout sets labels apart already."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)


# Primary keys are 64-bit: a larger number is no row's id, and SQLite cannot even bind it.
MAX_PK = 2**63 - 1


def as_pk(value) -> int | None:
    """`value` (an id or a model instance) as a primary key; None if it cannot be one."""
    try:
        pk = int(str(getattr(value, "pk", value)))
    except (TypeError, ValueError):
        return None
    return pk if abs(pk) <= MAX_PK else None


class IdChoicesField(forms.ModelMultipleChoiceField):
    """Model choices by id that refuse what cannot be an id before any query: Django's `__in` lookup
    passes an out-of-range number to the database, where SQLite raises OverflowError."""

    def _check_values(self, value):
        for pk in value:
            if as_pk(pk) is None:
                raise forms.ValidationError(
                    self.error_messages["invalid_pk_value"], code="invalid_pk_value", params={"pk": pk}
                )
        return super()._check_values(value)


@dataclass
class DestinationCheck:
    """What the live validation shows under a destination row."""

    state: str  # "empty", "ok" or "refused"
    normalised: str = ""
    errors: list[str] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)
    protocol_help: str = ""


class DestinationForm(Form):
    host = forms.CharField(
        label="Host",
        max_length=300,
        error_messages={"required": "Enter a host name, such as api.example.com."},
        widget=forms.TextInput(
            attrs={
                "autocomplete": "off",
                "spellcheck": "false",
                "autocapitalize": "none",
                "placeholder": "api.example.com",
            }
        ),
    )
    # A text field so the port message comes from the one validator (validators.validate_port).
    # Left empty, it is DEFAULT_PORT, as in the API.
    port = forms.CharField(
        label="Port",
        max_length=6,
        required=False,
        initial=str(DEFAULT_PORT),
        widget=forms.TextInput(attrs={"inputmode": "numeric", "data-port": ""}),
    )
    protocol = forms.ChoiceField(
        label="Protocol",
        choices=Protocol.choices,
        initial=Protocol.TLS,
        widget=forms.Select(attrs={"data-protocol": ""}),
    )
    expanded_hosts = forms.CharField(
        label="Hosts under the wildcard",
        required=False,
        widget=forms.Textarea(attrs={"rows": 2, "spellcheck": "false", "autocapitalize": "none"}),
        help_text="Wildcards only: the concrete hosts your workloads call, one per line (the gateway needs them).",
    )
    tcp_direct = forms.BooleanField(
        label="Let pods reach this address directly, bypassing the gateway (tcp only; an exception)", required=False
    )

    valid: Destination | None = None

    def clean_port(self) -> str:
        return self.cleaned_data.get("port", "").strip() or str(DEFAULT_PORT)

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        try:
            self.valid = validate_destination(
                host=data["host"],
                port=data["port"],
                protocol=data["protocol"],
                expanded_hosts=_lines(data.get("expanded_hosts")),
                internal_suffixes=tuple(settings.EGRESSUI_INTERNAL_SUFFIXES),
            )
        except ValidationFailed as exc:
            for name, messages in exc.fields.items():
                for message in messages:
                    self.add_error(name if name in self.fields else None, message)
            return data
        if data.get("tcp_direct") and self.valid.protocol != Protocol.TCP:
            self.add_error("tcp_direct", "Direct access is only possible for tcp destinations.")
        return data

    def check(self) -> DestinationCheck:
        """The live-validation summary; an untouched row says nothing but the protocol's meaning."""
        protocol = self.data.get(self.add_prefix("protocol")) or Protocol.TLS
        help_text = PROTOCOL_HELP.get(protocol, "")
        if not (self.data.get(self.add_prefix("host")) or "").strip():
            return DestinationCheck("empty", protocol_help=help_text)
        if not self.is_valid():
            errors = [message for messages in self.errors.values() for message in messages]
            return DestinationCheck("refused", errors=errors, protocol_help=help_text)
        valid = self.valid
        return DestinationCheck(
            "ok",
            normalised=f"{valid.host}:{valid.port}",
            flags=destination_risk_flags(host=valid.host, protocol=valid.protocol),
            protocol_help=help_text,
        )

    def to_input(self) -> DestinationInput:
        valid = self.valid
        return DestinationInput(
            host=valid.host,
            port=valid.port,
            protocol=valid.protocol,
            expanded_hosts=list(valid.expanded_hosts),
            tcp_direct=bool(self.cleaned_data.get("tcp_direct")),
        )


class BaseDestinationFormSet(forms.BaseFormSet):
    def row_checks(self) -> list[tuple[forms.Form, DestinationCheck]]:
        return [(form, form.check()) for form in self.forms]

    def inputs(self) -> list[DestinationInput]:
        return [form.to_input() for form in self.forms if form.valid is not None]


DestinationFormSet = forms.formset_factory(
    DestinationForm,
    formset=BaseDestinationFormSet,
    extra=0,
    min_num=1,
    validate_min=True,
    max_num=MAX_DESTINATIONS_PER_REQUEST,
    validate_max=True,
    # Django builds at most absolute_max forms whatever TOTAL_FORMS says; the views cap it the same way.
    absolute_max=MAX_DESTINATIONS_PER_REQUEST,
)
DESTINATION_PREFIX = "dest"
_PROTOCOL_FIELD = re.compile(rf"^{DESTINATION_PREFIX}-\d+-protocol$")


def destination_row_count(data) -> int:
    """TOTAL_FORMS of the destination rows as sent, capped at the formset's absolute_max before
    anything loops over it; 0 when it is not a number."""
    try:
        total = int(data.get(f"{DESTINATION_PREFIX}-TOTAL_FORMS") or 0)
    except (TypeError, ValueError):
        return 0
    return max(0, min(total, DestinationFormSet.absolute_max))


@dataclass
class IdentityGroup:
    cluster: Cluster
    namespaces: list[tuple[str, list[tuple[WorkloadIdentity, bool]]]]


class _IdentitiesForm(Form):
    """Team, cluster filter and workload identities: the part shared by requests and break-glass."""

    justification_field = "justification"  # the field that says why (break-glass: its reason)

    team = forms.ModelChoiceField(queryset=Team.objects.none(), empty_label=None, label="Team")
    clusters = IdChoicesField(
        queryset=Cluster.objects.none(),
        required=False,
        label="Clusters",
        help_text="Only identities in these clusters are listed; none ticked lists them all.",
    )
    identities = IdChoicesField(
        queryset=WorkloadIdentity.objects.none(),
        label="Workload identities",
        error_messages={"required": "Choose at least one workload identity (namespace / service account)."},
    )

    def __init__(self, *args, user, team: Team | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        teams = Team.objects.all() if is_platform_admin(user) else Team.objects.filter(pk__in=member_team_ids(user))
        if team is not None:  # editing: a request's team never changes
            teams = teams.filter(pk=team.pk)
        self.fields["team"].queryset = teams.order_by("slug")
        self.fields["identities"].queryset = visible_identities(user).select_related("namespace__cluster")
        self.fields["clusters"].queryset = Cluster.objects.filter(
            pk__in=visible_identities(user).values("namespace__cluster_id")
        ).order_by("name")

    def silence_errors(self) -> None:
        """Re-render what was typed without judging it yet (a row was added, a list refreshed)."""
        self._errors = ErrorDict()

    @cached_property
    def team_choices(self) -> list[Team]:
        return list(self.fields["team"].queryset)

    def selected_team(self) -> Team | None:
        team_id = self.selected_team_id()
        return next((team for team in self.team_choices if team.pk == team_id), None)

    def selected_team_id(self) -> int | None:
        raw = self.data.get(self.add_prefix("team")) if self.is_bound else None
        raw = raw or self.initial.get("team")
        if isinstance(raw, Team):
            return raw.pk
        choices = self.team_choices
        try:
            wanted = int(raw)
        except (TypeError, ValueError):
            return choices[0].pk if choices else None
        return wanted if any(team.pk == wanted for team in choices) else (choices[0].pk if choices else None)

    def _selected_ids(self, name: str) -> set[int]:
        if self.is_bound:
            raw = self.data.getlist(self.add_prefix(name)) if hasattr(self.data, "getlist") else self.data.get(name, [])
        else:
            raw = self.initial.get(name) or []
        return {pk for pk in map(as_pk, raw) if pk is not None}

    def selected_cluster_ids(self) -> set[int]:
        return self._selected_ids("clusters")

    def selected_identity_ids(self) -> set[int]:
        return self._selected_ids("identities")

    def cluster_choices(self) -> list[tuple[Cluster, bool]]:
        """Clusters where the selected team has namespaces, each with whether it is ticked."""
        team_id = self.selected_team_id()
        chosen = self.selected_cluster_ids()
        clusters = self.fields["clusters"].queryset.filter(namespaces__team_id=team_id).distinct()
        return [(cluster, cluster.pk in chosen) for cluster in clusters]

    def identity_groups(self) -> list[IdentityGroup]:
        """The selectable identities of the selected team (and clusters), grouped cluster → namespace."""
        team_id = self.selected_team_id()
        clusters = self.selected_cluster_ids()
        checked = self.selected_identity_ids()
        identities = self.fields["identities"].queryset.filter(namespace__team_id=team_id)
        if clusters:
            identities = identities.filter(namespace__cluster_id__in=clusters)
        identities = identities.order_by("namespace__cluster__name", "namespace__name", "service_account")
        groups: dict[int, IdentityGroup] = {}
        for identity in identities:
            cluster = identity.namespace.cluster
            group = groups.setdefault(cluster.pk, IdentityGroup(cluster, []))
            if not group.namespaces or group.namespaces[-1][0] != identity.namespace.name:
                group.namespaces.append((identity.namespace.name, []))
            group.namespaces[-1][1].append((identity, identity.pk in checked))
        return list(groups.values())

    def clean(self):
        data = super().clean()
        team, identities = data.get("team"), data.get("identities")
        if team is None or identities is None:
            return data
        if len(identities) > MAX_IDENTITIES_PER_REQUEST:
            self.add_error("identities", f"Choose at most {MAX_IDENTITIES_PER_REQUEST} workload identities.")
        foreign = [str(identity) for identity in identities if identity.namespace.team_id != team.pk]
        if foreign:
            self.add_error("identities", f"Not in a namespace of team {team.slug}: {', '.join(foreign)}.")
        clusters = data.get("clusters")
        if clusters:
            outside = [str(i) for i in identities if i.namespace.cluster_id not in {c.pk for c in clusters}]
            if outside:
                self.add_error("identities", f"Not in the chosen clusters: {', '.join(outside)}.")
        return data

    def protocol_limits(self) -> list[str]:
        """What the chosen identities' clusters cannot enforce among the protocols typed in so far:
        a Cilium cluster has no TLS origination (policies.manifests.cilium), said before submitting."""
        chosen = self.selected_identity_ids()
        protocols = {value for key, value in self.data.items() if _PROTOCOL_FIELD.match(key)}
        if not chosen or Protocol.HTTP_ORIGINATE not in protocols:
            return []
        names = (
            self.fields["identities"]
            .queryset.filter(pk__in=chosen, namespace__cluster__enforcement_mode=EnforcementMode.CILIUM)
            .values_list("namespace__cluster__name", flat=True)
            .distinct()
            .order_by("namespace__cluster__name")
        )
        return [f"http-originate on cluster {name}: {ORIGINATE_REASON}" for name in names]

    def request_flags(self) -> list[str]:
        """Request-level warnings (production cluster, long duration) from the current input."""
        flags = []
        chosen = self.selected_identity_ids()
        if (
            chosen
            and self.fields["identities"]
            .queryset.filter(pk__in=chosen, namespace__cluster__environment=Environment.PROD)
            .exists()
        ):
            flags.append("prod")
        return flags

    def to_input(self, destinations: list[DestinationInput]) -> RequestInput:
        """The answers as the services take them; without a duration field the service's default."""
        data = self.cleaned_data
        return RequestInput(
            team=data["team"],
            identities=list(data["identities"]),
            destinations=destinations,
            justification=data[self.justification_field],
            ticket_url=data.get("ticket_url") or "",
            duration_days=data.get("duration_days"),
        )


class RequestForm(_IdentitiesForm):
    justification = forms.CharField(
        label="Justification",
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="What the workloads do with this access; approvers read this first.",
        error_messages={"required": "Explain why the workloads need this access."},
    )
    ticket_url = forms.URLField(
        label="Ticket link",
        required=False,
        max_length=500,
        assume_scheme="https",
        help_text="Optional: the issue or change ticket, as a full https:// link.",
    )
    duration_days = forms.IntegerField(
        label="Duration (days)",
        min_value=1,
        widget=forms.NumberInput(attrs={"inputmode": "numeric"}),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        maximum = settings.EGRESSUI_MAX_GRANT_DAYS
        duration = self.fields["duration_days"]
        duration.validators.append(MaxValueValidator(maximum, f"The duration must be 1–{maximum} days."))
        duration.widget.attrs.update(min=1, max=maximum)
        duration.initial = settings.EGRESSUI_DEFAULT_GRANT_DAYS
        duration.help_text = (
            f"1–{maximum} days; the grants end after this. Over {settings.EGRESSUI_LONG_GRANT_DAYS} days is "
            "flagged to approvers."
        )

    def request_flags(self) -> list[str]:
        flags = super().request_flags()
        raw = self.data.get(self.add_prefix("duration_days")) if self.is_bound else self.initial.get("duration_days")
        try:
            if int(raw) > settings.EGRESSUI_LONG_GRANT_DAYS:
                flags.append("long-duration")
        except (TypeError, ValueError):
            pass
        return flags


class BreakGlassForm(_IdentitiesForm):
    justification_field = "reason"

    reason = forms.CharField(
        label="Reason",
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="The incident this unblocks. It is recorded in the audit log and shown on every grant.",
        error_messages={"required": "Break-glass access needs a reason."},
    )
    duration_hours = forms.IntegerField(label="Duration (hours)", min_value=1, initial=4)
    ticket_url = forms.URLField(label="Incident link", required=False, max_length=500, assume_scheme="https")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        maximum = settings.EGRESSUI_BREAK_GLASS_MAX_HOURS
        hours = self.fields["duration_hours"]
        hours.validators.append(MaxValueValidator(maximum, f"Break-glass access lasts 1–{maximum} hours."))
        hours.widget.attrs.update(min=1, max=maximum)
        hours.help_text = f"1–{maximum} hours; the grants expire on their own."


class DecisionForm(Form):
    decision = forms.ChoiceField(choices=[("approve", "Approve"), ("reject", "Reject"), ("changes", "Request changes")])
    comment = forms.CharField(
        label="Comment",
        required=False,
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Required to reject or to request changes: the requester sees it.",
    )


class CommentForm(Form):
    body = forms.CharField(
        label="Add a comment",
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"required": "Write something before sending the comment."},
    )


class ReasonForm(Form):
    """A reason for a destructive action (cancel a request, revoke a grant)."""

    reason = forms.CharField(label="Reason", max_length=2000, widget=forms.Textarea(attrs={"rows": 3}), required=False)

    def __init__(self, *args, required: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["reason"].required = required
        if required:
            self.fields["reason"].error_messages["required"] = "Give a reason; it is recorded in the audit log."


class BulkApproveForm(Form):
    requests = forms.TypedMultipleChoiceField(coerce=int, choices=(), label="Requests")
    comment = forms.CharField(
        label="Comment", required=False, max_length=5000, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args, request_ids=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["requests"].choices = [(pk, pk) for pk in request_ids]
        self.fields["requests"].error_messages["required"] = "Tick at least one request to approve."


class TokenCreateForm(Form):
    """A personal API token: a name, read-only or not, and how long it lasts (the service checks the bounds)."""

    EXPIRY_CHOICES = [("7", "7 days"), ("30", "30 days"), ("90", "90 days"), ("365", "1 year"), ("", "Never")]

    name = forms.CharField(
        label="Name",
        max_length=100,
        help_text="What uses it, such as the pipeline or script; unique among your live tokens.",
        error_messages={"required": "Give the token a name, such as the pipeline that will use it."},
    )
    read_only = forms.TypedChoiceField(
        label="Scope",
        choices=[("0", "Read and write: everything you may do yourself"), ("1", "Read only: GET requests only")],
        coerce=lambda value: value == "1",
        initial="0",
        widget=forms.RadioSelect,
    )
    expires_in_days = forms.TypedChoiceField(
        label="Expires after",
        choices=EXPIRY_CHOICES,
        coerce=int,
        empty_value=None,
        required=False,
        initial="90",
        help_text="A token that never expires stays valid until you revoke it.",
    )
