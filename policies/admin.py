"""Django admin for platform settings. Every add, change and delete calls a service (checked through
`permissions.py`, audited with before/after); secrets are write-only, audit events read-only."""

import copy
import functools
from types import SimpleNamespace

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.forms import AdminPasswordChangeForm
from django.contrib.auth.models import Group
from django.http import HttpResponseRedirect

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
from policies.permissions import is_platform_admin, user_change_denial
from policies.reconciler.connection import connection_test
from policies.reconciler.kubeconfig import FILE_FIELDS, cluster_files_problems
from policies.services.clusters import (
    CLUSTER_FIELDS,
    IDENTITY_FIELDS,
    cluster_create,
    cluster_delete,
    cluster_mode_change_problem,
    cluster_update,
    workload_identity_delete,
    workload_identity_ensure,
    workload_identity_update,
)
from policies.services.config import objects_delete
from policies.services.memberships import team_membership_create, team_membership_delete, team_membership_update
from policies.services.namespaces import (
    namespace_assign,
    namespace_delete,
    namespace_enforcement_set,
    refuse_system_namespace,
)
from policies.services.reconcile import cluster_reconcile_request
from policies.services.rules import (
    DOMAIN_LIST_FIELDS,
    RULE_FIELDS,
    approval_rule_create,
    approval_rule_delete,
    approval_rule_step_create,
    approval_rule_step_delete,
    approval_rule_step_update,
    approval_rule_update,
    domain_list_create,
    domain_list_delete,
    domain_list_update,
)
from policies.services.teams import TEAM_FIELDS, team_create, team_delete, team_update
from policies.services.users import (
    USER_FIELDS,
    group_delete,
    group_save,
    user_create,
    user_delete,
    user_groups_set,
    user_password_set,
    user_update,
)

User = get_user_model()


def _admin_site_permission(request):
    """The admin is for platform admins only (staff who are also in the admin group, or superusers)."""
    return request.user.is_active and request.user.is_staff and is_platform_admin(request.user)


admin.site.has_permission = _admin_site_permission
admin.site.site_header = "egressui administration"


class PlatformAdminPages:
    """Who may use a page is `permissions.py`'s answer, not Django's per-model permissions (a
    platform admin through the group has none); the services refuse finer-grained changes."""

    def has_view_permission(self, request, obj=None):
        return is_platform_admin(request.user)

    def has_add_permission(self, request, obj=None):
        return is_platform_admin(request.user)

    def has_change_permission(self, request, obj=None):
        return is_platform_admin(request.user)

    def has_delete_permission(self, request, obj=None):
        return is_platform_admin(request.user)

    def has_module_permission(self, request):
        return is_platform_admin(request.user)


class ServiceAdmin(PlatformAdminPages, admin.ModelAdmin):
    """An admin page that is a client of the services (STYLE rule 23): every add, change and delete
    (one object, a list edit or "delete selected") calls the model's service, which checks the
    actor through `permissions.py` and audits before/after in the same transaction. A refusal rolls
    the whole page's change back (the admin's own transaction) and is shown as an error."""

    # Form fields the services take; the others are read-only or derived.
    service_fields: tuple[str, ...] = ()

    def service_create(self, actor, fields: dict):
        raise NotImplementedError

    def service_update(self, actor, obj, fields: dict):
        raise NotImplementedError

    def service_delete(self, actor, obj) -> None:
        raise NotImplementedError

    def _fields(self, form, *, change: bool) -> dict:
        names = form.changed_data if change else form.cleaned_data
        return {name: form.cleaned_data[name] for name in names if name in self.service_fields}

    def save_model(self, request, obj, form, change):
        if change:
            saved = self.service_update(request.user, obj, self._fields(form, change=True))
        else:
            saved = self.service_create(request.user, self._fields(form, change=False))
        obj.pk = saved.pk

    def delete_model(self, request, obj):
        self.service_delete(request.user, obj)

    def delete_queryset(self, request, queryset):
        objects_delete(objects=list(queryset), delete=lambda obj: self.service_delete(request.user, obj))

    def save_formset(self, request, form, formset, change):
        """Inline rows (a team's members, a rule's steps) go through the inline's services too."""
        inline = next(
            (item for item in self.get_inline_instances(request, form.instance) if item.model is formset.model), None
        )
        if not isinstance(inline, ServiceInline):
            raise TypeError(f"{formset.model.__name__} inline does not write through a service")
        formset.save(commit=False)
        for obj in formset.deleted_objects:
            inline.service_delete(request.user, obj)
        for obj, changed in formset.changed_objects:
            inline.service_update(request.user, obj, {name: getattr(obj, name) for name in changed})
        for obj in formset.new_objects:
            fields = {name: getattr(obj, name) for name in inline.service_fields}
            obj.pk = inline.service_create(request.user, form.instance, fields).pk

    def _refusing(self, view, request, *args, **kwargs):
        try:
            return view(request, *args, **kwargs)
        except ApplicationError as exc:
            self.message_user(request, exc.message, messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    def changeform_view(self, request, *args, **kwargs):
        return self._refusing(super().changeform_view, request, *args, **kwargs)

    def delete_view(self, request, *args, **kwargs):
        return self._refusing(super().delete_view, request, *args, **kwargs)

    def changelist_view(self, request, *args, **kwargs):
        return self._refusing(super().changelist_view, request, *args, **kwargs)


class ServiceInline(PlatformAdminPages, admin.TabularInline):
    """An inline whose rows are written by services (see `ServiceAdmin.save_formset`)."""

    service_fields: tuple[str, ...] = ()

    def service_create(self, actor, parent, fields: dict):
        raise NotImplementedError

    def service_update(self, actor, obj, fields: dict):
        raise NotImplementedError

    def service_delete(self, actor, obj) -> None:
        raise NotImplementedError


class MembershipInline(ServiceInline):
    model = TeamMembership
    extra = 1
    autocomplete_fields = ["user"]
    service_fields = ("user", "role")

    def service_create(self, actor, parent, fields):
        return team_membership_create(actor=actor, team=parent, **fields)

    def service_update(self, actor, obj, fields):
        return team_membership_update(membership=obj, actor=actor, **fields)

    def service_delete(self, actor, obj):
        team_membership_delete(membership=obj, actor=actor)


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
class TeamAdmin(ServiceAdmin):
    form = TeamAdminForm
    list_display = ["slug", "name", "email", "oidc_group"]
    search_fields = ["slug", "name"]
    inlines = [MembershipInline]
    service_fields = TEAM_FIELDS

    def get_readonly_fields(self, request, obj=None):
        return ["slug"] if obj else []  # it names the team in URLs, filters and rules

    def save_model(self, request, obj, form, change):
        if change:
            saved = team_update(team=obj, actor=request.user, **self._fields(form, change=True))
        else:
            saved = team_create(actor=request.user, slug=form.cleaned_data["slug"], **self._fields(form, change=False))
        obj.pk = saved.pk

    def service_delete(self, actor, obj):
        team_delete(team=obj, actor=actor)


@admin.register(TeamMembership)
class TeamMembershipAdmin(ServiceAdmin):
    list_display = ["team", "user", "role"]
    list_filter = ["role", "team"]
    autocomplete_fields = ["user"]
    service_fields = ("team", "user", "role")

    def get_readonly_fields(self, request, obj=None):
        return ["team", "user"] if obj else []

    def service_create(self, actor, fields):
        return team_membership_create(actor=actor, **fields)

    def service_update(self, actor, obj, fields):
        return team_membership_update(membership=obj, actor=actor, **fields)

    def service_delete(self, actor, obj):
        team_membership_delete(membership=obj, actor=actor)


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
class ClusterAdmin(ServiceAdmin):
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

    def service_delete(self, actor, obj):
        cluster_delete(cluster=obj, actor=actor)


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
class NamespaceAdmin(ServiceAdmin):
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

    def service_delete(self, actor, obj):
        namespace_delete(namespace=obj, actor=actor)


@admin.register(WorkloadIdentity)
class WorkloadIdentityAdmin(ServiceAdmin):
    list_display = ["service_account", "namespace", "discovered"]
    list_filter = ["namespace__cluster", "discovered"]
    search_fields = ["service_account", "namespace__name"]
    service_fields = IDENTITY_FIELDS

    def service_create(self, actor, fields):
        return workload_identity_ensure(actor=actor, **fields)

    def service_update(self, actor, obj, fields):
        return workload_identity_update(identity=obj, actor=actor, **fields)

    def service_delete(self, actor, obj):
        workload_identity_delete(identity=obj, actor=actor)


class RuleStepInline(ServiceInline):
    model = ApprovalRuleStep
    extra = 1
    service_fields = ("position", "name", "team", "required_approvals")

    def service_create(self, actor, parent, fields):
        return approval_rule_step_create(rule=parent, actor=actor, **fields)

    def service_update(self, actor, obj, fields):
        return approval_rule_step_update(step=obj, actor=actor, **fields)

    def service_delete(self, actor, obj):
        approval_rule_step_delete(step=obj, actor=actor)


@admin.register(ApprovalRule)
class ApprovalRuleAdmin(ServiceAdmin):
    list_display = ["name", "priority", "enabled", "outcome", "domain_list"]
    list_editable = ["priority", "enabled"]
    list_filter = ["outcome", "enabled"]
    inlines = [RuleStepInline]
    service_fields = RULE_FIELDS

    def service_create(self, actor, fields):
        return approval_rule_create(actor=actor, **fields)

    def service_update(self, actor, obj, fields):
        return approval_rule_update(rule=obj, actor=actor, **fields)

    def service_delete(self, actor, obj):
        approval_rule_delete(rule=obj, actor=actor)


@admin.register(DomainList)
class DomainListAdmin(ServiceAdmin):
    list_display = ["name", "description"]
    search_fields = ["name", "entries"]
    service_fields = DOMAIN_LIST_FIELDS

    def service_create(self, actor, fields):
        return domain_list_create(actor=actor, **fields)

    def service_update(self, actor, obj, fields):
        return domain_list_update(domain_list=obj, actor=actor, **fields)

    def service_delete(self, actor, obj):
        domain_list_delete(domain_list=obj, actor=actor)


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


admin.site.unregister(User)
admin.site.unregister(Group)


class AccountPasswordForm(AdminPasswordChangeForm):
    """Django's set-password form, saving through `user_password_set` (checked and audited); `actor`
    is the platform admin using the page."""

    def __init__(self, user, *args, actor, **kwargs):
        super().__init__(user, *args, **kwargs)
        self.actor = actor

    def clean(self):
        cleaned = super().clean()
        denial = user_change_denial(self.actor, self.user, {"password": "set"})
        if denial is not None:
            self.add_error("password1", denial)  # Django's page shows field errors only
        return cleaned

    def save(self, commit=True):
        usable = self.cleaned_data.get("set_usable_password", True)
        password = self.cleaned_data.get("password1") if usable else None
        self.user = user_password_set(user=self.user, actor=self.actor, password=password)
        return self.user


@admin.register(User)
class AccountAdmin(ServiceAdmin, UserAdmin):
    """Accounts: the flags that open the admin and membership of the platform-admin group make a
    platform admin, so they are written by `services.users` (superuser status only by superusers,
    nobody removes their own access). Permissions come from groups, not per-user grants."""

    service_fields = USER_FIELDS
    fieldsets = (
        (None, {"fields": ("username", "password")}),
        ("Personal info", {"fields": ("first_name", "last_name", "email")}),
        ("Access", {"fields": ("is_active", "is_staff", "is_superuser", "groups")}),
        ("Important dates", {"fields": ("last_login", "date_joined")}),
    )
    readonly_fields = ["last_login", "date_joined"]

    def save_model(self, request, obj, form, change):
        if change:
            saved = user_update(user=obj, actor=request.user, **self._fields(form, change=True))
        else:
            usable = form.cleaned_data.get("usable_password", "true") not in (False, "false")
            password = form.cleaned_data.get("password1") if usable else None
            fields = {name: value for name, value in self._fields(form, change=False).items() if name != "username"}
            saved = user_create(actor=request.user, username=form.cleaned_data["username"], password=password, **fields)
        obj.pk = saved.pk

    def user_change_password(self, request, id, form_url=""):
        """Django's page; its form is bound to the person using it, on a copy of this (shared) admin."""
        page = copy.copy(self)
        page.change_password_form = functools.partial(AccountPasswordForm, actor=request.user)
        return UserAdmin.user_change_password(page, request, id, form_url)

    def save_related(self, request, form, formsets, change):
        if "groups" in form.changed_data:
            user_groups_set(user=form.instance, actor=request.user, groups=form.cleaned_data["groups"])

    def service_delete(self, actor, obj):
        user_delete(user=obj, actor=actor)


@admin.register(Group)
class GroupServiceAdmin(ServiceAdmin, GroupAdmin):
    """Groups and their model permissions; the platform-admin group cannot be renamed or deleted."""

    def save_model(self, request, obj, form, change):
        saved = group_save(
            actor=request.user,
            group=obj if change else None,
            name=form.cleaned_data["name"],
            permissions=form.cleaned_data.get("permissions", []),
        )
        obj.pk = saved.pk

    def save_related(self, request, form, formsets, change):
        """The permissions were written by `group_save`."""

    def service_delete(self, actor, obj):
        group_delete(group=obj, actor=actor)
