"""Django admin for platform settings. Every change is audited in the admin's own transaction;
clusters are written through their service, secrets are write-only, audit events read-only."""

from types import SimpleNamespace

from django import forms
from django.contrib import admin, messages
from django.db import transaction
from django.forms.models import model_to_dict

from policies.choices import AuditEventType
from policies.exceptions import ApplicationError
from policies.models import (
    ApprovalRule,
    ApprovalRuleStep,
    AuditEvent,
    Cluster,
    DomainList,
    Namespace,
    Team,
    TeamMembership,
    WorkloadIdentity,
)
from policies.permissions import is_platform_admin
from policies.reconciler.kubeconfig import FILE_FIELDS, cluster_files_problems
from policies.services.audit import audit_event_record
from policies.services.clusters import CLUSTER_FIELDS, cluster_create, cluster_mode_change_problem, cluster_update
from policies.services.namespaces import (
    namespace_assign,
    namespace_delete,
    namespace_enforcement_set,
    refuse_system_namespace,
)


def _admin_site_permission(request):
    """The admin is for platform admins only (staff who are also in the admin group, or superusers)."""
    return request.user.is_active and request.user.is_staff and is_platform_admin(request.user)


admin.site.has_permission = _admin_site_permission
admin.site.site_header = "egressui administration"


class AuditedAdmin(admin.ModelAdmin):
    """Writes a config.* audit event for every save and delete made through the admin."""

    def _cluster_of(self, obj):
        return getattr(obj, "cluster", None)

    def save_model(self, request, obj, form, change):
        with transaction.atomic():
            before = {name: form.initial.get(name) for name in form.changed_data} if change else None
            super().save_model(request, obj, form, change)
            after = {name: form.cleaned_data.get(name) for name in form.changed_data}
            audit_event_record(
                event_type=AuditEventType.CONFIG_UPDATED if change else AuditEventType.CONFIG_CREATED,
                actor=request.user,
                subject=obj,
                cluster=self._cluster_of(obj),
                before=_plain(before),
                after=_plain(after),
                message="via admin",
            )

    def delete_model(self, request, obj):
        with transaction.atomic():
            snapshot = _plain(model_to_dict(obj))
            subject = (obj._meta.model_name, obj.pk, str(obj))
            cluster = self._cluster_of(obj)
            super().delete_model(request, obj)
            audit_event_record(
                event_type=AuditEventType.CONFIG_DELETED,
                actor=request.user,
                subject=subject,
                cluster=cluster,
                before=snapshot,
                message="via admin",
            )

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            self.delete_model(request, obj)


def _plain(values):
    """Model instances and querysets in form data become their string forms for the audit log."""
    if values is None:
        return None
    result = {}
    for key, value in values.items():
        if hasattr(value, "all") and callable(value.all):
            value = [str(item) for item in value.all()]
        elif hasattr(value, "_meta"):
            value = str(value)
        elif isinstance(value, list | tuple):
            value = [str(item) if hasattr(item, "_meta") else item for item in value]
        result[key] = value
    return result


class MembershipInline(admin.TabularInline):
    model = TeamMembership
    extra = 1
    autocomplete_fields = ["user"]


class TeamAdminForm(forms.ModelForm):
    webhook_secret = forms.CharField(
        required=False, widget=forms.PasswordInput(render_value=False), help_text="Write-only; leave empty to keep."
    )

    class Meta:
        model = Team
        fields = ["slug", "name", "description", "email", "webhook_url", "webhook_secret", "oidc_group"]

    def clean_webhook_secret(self):
        return self.cleaned_data["webhook_secret"] or (self.instance.webhook_secret if self.instance.pk else "")


@admin.register(Team)
class TeamAdmin(AuditedAdmin):
    form = TeamAdminForm
    list_display = ["slug", "name", "email", "oidc_group"]
    search_fields = ["slug", "name"]
    inlines = [MembershipInline]


@admin.register(TeamMembership)
class TeamMembershipAdmin(AuditedAdmin):
    list_display = ["team", "user", "role"]
    list_filter = ["role", "team"]
    autocomplete_fields = ["user"]


class ClusterAdminForm(forms.ModelForm):
    """Secret fields are never rendered back: an empty field keeps the stored value."""

    kubeconfig = forms.CharField(required=False, widget=forms.PasswordInput(render_value=False))
    ca_cert = forms.CharField(required=False, widget=forms.PasswordInput(render_value=False))
    token = forms.CharField(required=False, widget=forms.PasswordInput(render_value=False))

    class Meta:
        model = Cluster
        fields = ["name", *CLUSTER_FIELDS]

    def _keep(self, name):
        return self.cleaned_data[name] or (getattr(self.instance, name) if self.instance.pk else "")

    def clean_kubeconfig(self):
        return self._keep("kubeconfig")

    def clean(self):
        """File paths and kubeconfig files are checked here too, so a refusal is a field error."""
        cleaned = super().clean()
        values = SimpleNamespace(
            **{field: cleaned.get(field, getattr(self.instance, field)) for field in ("kube_context", *FILE_FIELDS)}
        )
        for field, problem in cluster_files_problems(
            values, changed=set(self.changed_data), from_command_line=False
        ).items():
            self.add_error(field, problem)
        if self.instance.pk and "enforcement_mode" in self.changed_data:
            problem = cluster_mode_change_problem(self.instance, self.initial.get("enforcement_mode", ""))
            if problem:
                self.add_error("enforcement_mode", problem)
        return cleaned

    def clean_ca_cert(self):
        return self._keep("ca_cert")

    def clean_token(self):
        return self._keep("token")


@admin.register(Cluster)
class ClusterAdmin(admin.ModelAdmin):
    form = ClusterAdminForm
    list_display = ["name", "environment", "enforcement_mode", "connection_kind", "sync_status"]
    list_filter = ["environment", "enforcement_mode", "connection_kind"]
    search_fields = ["name"]

    def get_readonly_fields(self, request, obj=None):
        # The name is in every object's labels; renaming would orphan what is in the cluster.
        return ["name"] if obj else []

    @admin.display(description="Status")
    def sync_status(self, obj):
        sync = getattr(obj, "sync", None)
        return sync.get_status_display() if sync else "—"

    actions = ["test_connection", "reconcile_now"]

    @admin.action(description="Test the connection (version, CRDs, permissions)")
    def test_connection(self, request, queryset):
        from policies.reconciler.connection import connection_test

        for cluster in queryset:
            report = connection_test(cluster)
            if report.ok:
                where = report.server_version or report.target
                self.message_user(request, f"Cluster {cluster.name}: ready to reconcile ({where}).")
                continue
            problems = [report.error] if report.error else []
            problems += [f"{check.kind} ({check.api_version}) not served" for check in report.missing_kinds]
            problems += [f"missing permission: {check.name}" for check in report.missing_permissions]
            self.message_user(request, f"Cluster {cluster.name}: not ready — {'; '.join(problems)}", messages.ERROR)

    @admin.action(description="Reconcile now")
    def reconcile_now(self, request, queryset):
        from policies.services.reconcile import cluster_reconcile_request

        for cluster in queryset:
            run = cluster_reconcile_request(cluster=cluster, actor=request.user)
            self.message_user(request, f"Cluster {cluster.name}: reconcile run #{run.pk} queued.")

    def save_model(self, request, obj, form, change):
        fields = {name: form.cleaned_data[name] for name in CLUSTER_FIELDS if name in form.cleaned_data}
        if change:
            saved = cluster_update(cluster=obj, actor=request.user, **fields)
        else:
            saved = cluster_create(actor=request.user, name=form.cleaned_data["name"], **fields)
        obj.pk = saved.pk

    def delete_model(self, request, obj):
        with transaction.atomic():
            subject = ("cluster", obj.pk, obj.name)
            super().delete_model(request, obj)
            audit_event_record(
                event_type=AuditEventType.CLUSTER_DELETED, actor=request.user, subject=subject, message="via admin"
            )


class NamespaceAdminForm(forms.ModelForm):
    """Onboard a namespace (in the cluster's default state unless another is chosen), move it to
    another team, or switch its enforcement; going back to observe needs a reason."""

    reason = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Why the enforcement changes (required to go back to observe); kept in the audit log.",
    )

    class Meta:
        model = Namespace
        fields = ["cluster", "name", "team", "enforcement"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.instance.pk and "enforcement" in self.fields:
            self.fields["enforcement"].required = False
            self.fields["enforcement"].help_text = "Leave empty for the cluster's default."
            self.fields["enforcement"].choices = [("", "The cluster's default"), *self.fields["enforcement"].choices]
            self.initial["enforcement"] = ""

    def clean(self):
        data = super().clean()
        if not self.instance.pk and data.get("cluster") and data.get("name"):
            try:
                refuse_system_namespace(cluster=data["cluster"], name=data["name"])
            except ApplicationError as exc:
                self.add_error("name", exc.message)
        going_back = self.instance.pk and "enforcement" in self.changed_data and data.get("enforcement") == "observe"
        if going_back and not (data.get("reason") or "").strip():
            self.add_error("reason", "Give a reason for going back to observe: egress is no longer restricted.")
        return data


@admin.register(Namespace)
class NamespaceAdmin(admin.ModelAdmin):
    """Written through the namespace services, so an admin edit is checked, audited and reconciled
    like the same change made on the namespace page or through the API."""

    form = NamespaceAdminForm
    list_display = ["name", "cluster", "team", "enforcement", "enforcement_changed_at"]
    list_filter = ["enforcement", "cluster", "team"]
    search_fields = ["name"]

    def get_readonly_fields(self, request, obj=None):
        return ["cluster", "name"] if obj else []

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        try:
            if not change:
                saved = namespace_assign(
                    actor=request.user,
                    cluster=data["cluster"],
                    name=data["name"],
                    team=data["team"],
                    enforcement=data.get("enforcement") or None,
                )
                obj.pk = saved.pk
                return
            if "team" in form.changed_data:
                namespace_assign(actor=request.user, cluster=obj.cluster, name=obj.name, team=data["team"])
            if "enforcement" in form.changed_data:
                namespace_enforcement_set(
                    namespace=obj, actor=request.user, enforcement=data["enforcement"], reason=data.get("reason", "")
                )
        except ApplicationError as exc:
            self.message_user(request, exc.message, messages.ERROR)

    def delete_model(self, request, obj):
        try:
            namespace_delete(namespace=obj, actor=request.user)
        except ApplicationError as exc:
            self.message_user(request, exc.message, messages.ERROR)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            self.delete_model(request, obj)


@admin.register(WorkloadIdentity)
class WorkloadIdentityAdmin(AuditedAdmin):
    list_display = ["service_account", "namespace", "discovered"]
    list_filter = ["namespace__cluster", "discovered"]
    search_fields = ["service_account", "namespace__name"]

    def _cluster_of(self, obj):
        return obj.namespace.cluster


class RuleStepInline(admin.TabularInline):
    model = ApprovalRuleStep
    extra = 1


@admin.register(ApprovalRule)
class ApprovalRuleAdmin(AuditedAdmin):
    list_display = ["name", "priority", "enabled", "outcome", "domain_list"]
    list_editable = ["priority", "enabled"]
    list_filter = ["outcome", "enabled"]
    inlines = [RuleStepInline]


@admin.register(DomainList)
class DomainListAdmin(AuditedAdmin):
    list_display = ["name", "description"]
    search_fields = ["name", "entries"]


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ["seq", "occurred_at", "event_type", "actor_repr", "subject_repr", "correlation_id"]
    list_filter = ["event_type"]
    search_fields = ["actor_repr", "subject_repr", "correlation_id", "message"]
    ordering = ["-seq"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
