"""Demo data for a first look and for the browser tests; safe to run again (it only adds what is missing)."""

from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from policies.accesslog.demo import demo_access_log, demo_ambient_access_log, demo_hubble_flows
from policies.choices import (
    ConnectionKind,
    EnforcementMode,
    Environment,
    GrantStatus,
    NamespaceEnforcement,
    Protocol,
    RequestStatus,
    RuleOutcome,
    TeamRole,
)
from policies.models import (
    ApprovalRule,
    Cluster,
    DomainList,
    EgressRequest,
    Grant,
    Team,
    TeamMembership,
)
from policies.services.access_logs import access_log_ingest
from policies.services.approvals import egress_request_approve, egress_request_request_changes
from policies.services.clusters import cluster_create, workload_identity_ensure
from policies.services.grants import grant_revoke
from policies.services.memberships import team_membership_create
from policies.services.namespaces import namespace_assign
from policies.services.requests import DestinationInput, RequestInput, egress_request_cancel, egress_request_create
from policies.services.rules import approval_rule_create, approval_rule_step_create, domain_list_create
from policies.services.teams import team_create
from policies.services.users import platform_admin_set, user_create

DEFAULT_PASSWORD = "egressui-demo"
AMBIENT_CLUSTER = "demo-ambient"
USERS = [
    # username, display name, superuser
    ("admin", "Platform Admin", True),
    ("payments-dev", "Pat Developer", False),
    ("payments-lead", "Lee Lead", False),
    ("secops", "Sam Security", False),
    ("search-dev", "Sid Search", False),
]
TEAMS = {
    "payments": ("Payments", [("payments-dev", TeamRole.MEMBER), ("payments-lead", TeamRole.APPROVER)]),
    "search": ("Search", [("search-dev", TeamRole.MEMBER)]),
    "security": ("Security", [("secops", TeamRole.APPROVER)]),
}
BLOCKED = ["pastebin.com", "*.pastebin.com", "transfer.sh", "*.ngrok.io", "*.ngrok-free.app"]
PRE_APPROVED = ["pypi.org", "files.pythonhosted.org", "registry.npmjs.org", "api.github.com"]


class Command(BaseCommand):
    help = (
        "Create demo users, teams, three clusters (demo in mode istio, demo-ambient in istio-ambient, demo-cilium "
        "in cilium), approval rules and requests in every state (idempotent)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--password", default=DEFAULT_PASSWORD, help="Password for every demo user.")
        parser.add_argument("--kubeconfig", help="Use this kubeconfig for the demo cluster instead of a directory.")
        parser.add_argument("--context", default="", help="Kubeconfig context (with --kubeconfig).")
        parser.add_argument("--force", action="store_true", help="Run even when DJANGO_DEBUG is off.")

    def handle(self, *args, **options):
        if not settings.DEBUG and not options["force"]:
            raise CommandError(
                "seed_demo creates users with a known password; refusing without DJANGO_DEBUG or --force."
            )
        with transaction.atomic():
            users = self._users(options["password"])
            teams = self._teams(users)
            cluster = self._cluster(options["kubeconfig"], options["context"])
            identities = self._identities(cluster, teams)
            self._rules(teams)
        if not EgressRequest.objects.filter(team__slug__in=["payments", "search"]).exists():
            self._requests(users, teams, identities)
        with transaction.atomic():
            ambient = self._ambient_cluster()
            ambient_ids = self._ambient_identities(ambient, teams)
            cilium = self._cilium_cluster(teams)
        if not EgressRequest.objects.filter(identities__namespace__cluster=ambient).exists():
            self._ambient_requests(users, teams, ambient_ids)
        if not EgressRequest.objects.filter(identities__namespace__cluster=cilium["web"].namespace.cluster).exists():
            self._cilium_requests(users, teams, cilium)
        self.stdout.write(self.style.SUCCESS("Demo data ready. Sign in at http://127.0.0.1:8000/ as:"))
        for username, display, superuser in USERS:
            role = (
                "platform admin"
                if superuser
                else ", ".join(
                    f"{m.role} of {m.team.slug}" for m in TeamMembership.objects.filter(user__username=username)
                )
            )
            self.stdout.write(f"  {username:<14} password {options['password']!r:<18} {display} ({role})")

    def _users(self, password):
        """Written through the services like any account (actor None: the operator), so the audit log
        shows who was made a platform admin and when."""
        User = get_user_model()
        users = {}
        for username, display, superuser in USERS:
            first, last = display.split(" ", 1)
            user = User.objects.filter(username=username).first()
            if user is None:
                user = user_create(
                    actor=None,
                    username=username,
                    password=password,
                    email=f"{username}@example.com",
                    first_name=first,
                    last_name=last,
                    is_staff=superuser,
                    is_superuser=superuser,
                )
                if superuser:
                    platform_admin_set(user=user, actor=None, admin=True)
            users[username] = user
        return users

    def _teams(self, users):
        teams = {}
        for slug, (name, members) in TEAMS.items():
            team = Team.objects.filter(slug=slug).first() or team_create(
                actor=None, slug=slug, name=name, email=f"{slug}@example.com"
            )
            for username, role in members:
                if not TeamMembership.objects.filter(team=team, user=users[username]).exists():
                    team_membership_create(actor=None, team=team, user=users[username], role=role)
            teams[slug] = team
        return teams

    def _cluster(self, kubeconfig, context):
        cluster = Cluster.objects.filter(name="demo").first()
        if cluster is not None:
            return cluster
        if kubeconfig:
            connection = {
                "connection_kind": ConnectionKind.KUBECONFIG,
                "kubeconfig_path": str(Path(kubeconfig).resolve()),
                "kube_context": context,
            }
        else:
            directory = Path(settings.VAR_DIR) / "gitops" / "demo"
            connection = {"connection_kind": ConnectionKind.DIRECTORY, "directory_path": str(directory)}
        return cluster_create(
            actor=None,
            name="demo",
            description="Demo cluster created by seed_demo.",
            environment=Environment.PROD,
            **connection,
        )

    def _ambient_cluster(self):
        """A second directory target in mode istio-ambient, so `make run` shows both modes."""
        cluster = Cluster.objects.filter(name=AMBIENT_CLUSTER).first()
        if cluster is not None:
            return cluster
        return cluster_create(
            actor=None,
            name=AMBIENT_CLUSTER,
            description="Ambient demo cluster (ztunnel + egress waypoint) created by seed_demo.",
            environment=Environment.PROD,
            enforcement_mode=EnforcementMode.ISTIO_AMBIENT,
            istio_version="1.30",
            connection_kind=ConnectionKind.DIRECTORY,
            directory_path=str(Path(settings.VAR_DIR) / "gitops" / AMBIENT_CLUSTER),
        )

    def _ambient_identities(self, cluster, teams):
        payments = namespace_assign(
            actor=None,
            cluster=cluster,
            name="payments",
            team=teams["payments"],
            enforcement=NamespaceEnforcement.ENFORCE,
        )
        return {
            account: workload_identity_ensure(actor=None, namespace=payments, service_account=account)
            for account in ("checkout", "refunds")
        }

    def _ambient_requests(self, users, teams, ids):
        """The payments namespace's grants on the ambient cluster: TLS through the waypoint for both
        workloads, TLS origination for checkout, a TCP pool for refunds; then its traffic."""
        data = RequestInput(
            team=teams["payments"],
            identities=[ids["checkout"], ids["refunds"]],
            destinations=[DestinationInput(host="api.stripe.com", port=443)],
            justification="Card payments from the ambient cluster.",
            ticket_url="https://tickets.example.com/browse/PAY-140",
            duration_days=90,
        )
        stripe = egress_request_create(requester=users["payments-dev"], data=data, submit=True)
        more = RequestInput(
            team=teams["payments"],
            identities=[ids["checkout"]],
            destinations=[
                DestinationInput(host="api.paypal.com", port=443, protocol=Protocol.HTTP_ORIGINATE),
                DestinationInput(host="203.0.113.16/30", port=5432, protocol=Protocol.TCP),
            ],
            justification="Legacy PayPal client (HTTP, upgraded at the waypoint) and the settlement database pool.",
            ticket_url="https://tickets.example.com/browse/PAY-141",
            duration_days=90,
        )
        legacy = egress_request_create(requester=users["payments-dev"], data=more, submit=True)
        for request in (stripe, legacy):
            for approver in ("payments-lead", "secops"):
                request.refresh_from_db()
                if request.status == RequestStatus.SUBMITTED:
                    egress_request_approve(request=request, approver=users[approver])
        cluster = ids["checkout"].namespace.cluster
        start = Grant.objects.filter(identity__namespace__cluster=cluster).aggregate(start=Max("valid_from"))["start"]
        lines = demo_ambient_access_log(trust_domain=cluster.trust_domain, start=start, end=timezone.now())
        access_log_ingest(cluster=cluster, records=list(enumerate(lines, start=1)))

    def _identities(self, cluster, teams):
        """The teams' namespaces: payments and search enforced with grants (below), ledger enforced
        before any grant (fail-closed), reports observed to see what enforcing it would block."""

        def onboard(name, team, enforcement):
            return namespace_assign(actor=None, cluster=cluster, name=name, team=teams[team], enforcement=enforcement)

        payments = onboard("payments", "payments", NamespaceEnforcement.ENFORCE)
        search = onboard("search", "search", NamespaceEnforcement.ENFORCE)
        ledger = onboard("ledger", "payments", NamespaceEnforcement.ENFORCE)
        reports = onboard("reports", "search", NamespaceEnforcement.OBSERVE)
        return {
            "checkout": workload_identity_ensure(actor=None, namespace=payments, service_account="checkout"),
            "refunds": workload_identity_ensure(actor=None, namespace=payments, service_account="refunds"),
            "indexer": workload_identity_ensure(actor=None, namespace=search, service_account="indexer"),
            "ledger": workload_identity_ensure(actor=None, namespace=ledger, service_account="ledger"),
            "exporter": workload_identity_ensure(actor=None, namespace=reports, service_account="exporter"),
        }

    def _cilium_cluster(self, teams):
        """`demo-cilium`: a GitOps directory in enforcement mode cilium (no mesh), with storefront
        enforced and analytics observed."""
        cluster = Cluster.objects.filter(name="demo-cilium").first()
        if cluster is None:
            cluster = cluster_create(
                actor=None,
                name="demo-cilium",
                description="Demo cluster without a mesh: CiliumNetworkPolicy toFQDNs, Hubble flows.",
                environment=Environment.NON_PROD,
                enforcement_mode=EnforcementMode.CILIUM,
                connection_kind=ConnectionKind.DIRECTORY,
                directory_path=str(Path(settings.VAR_DIR) / "gitops" / "demo-cilium"),
            )
        storefront = namespace_assign(
            actor=None, cluster=cluster, name="storefront", team=teams["payments"], enforcement="enforce"
        )
        analytics = namespace_assign(
            actor=None, cluster=cluster, name="analytics", team=teams["search"], enforcement="observe"
        )
        return {
            "web": workload_identity_ensure(actor=None, namespace=storefront, service_account="web"),
            "etl": workload_identity_ensure(actor=None, namespace=analytics, service_account="etl"),
        }

    def _cilium_requests(self, users, teams, ids):
        """An approved request (a host and a wildcard, one toFQDNs entry), one waiting whose
        http-originate Cilium cannot render (its preview says why), and Hubble flows."""
        dev, lead, secops = users["payments-dev"], users["payments-lead"], users["secops"]

        def ask(identity, destinations, justification):
            data = RequestInput(
                team=teams["payments"],
                identities=[ids[identity]],
                destinations=[DestinationInput(**d) for d in destinations],
                justification=justification,
                duration_days=90,
            )
            return egress_request_create(requester=dev, data=data, submit=True)

        shop = ask(
            "web",
            [{"host": "api.stripe.com", "port": 443}, {"host": "*.github.com", "port": 443}],
            "Checkout and release downloads from the storefront.",
        )
        egress_request_approve(request=shop, approver=lead)
        egress_request_approve(request=shop, approver=secops)
        ask(
            "web",
            [{"host": "legacy-erp.example.com", "port": 443, "protocol": Protocol.HTTP_ORIGINATE}],
            "Old ERP client speaks HTTP only.",
        )
        cluster = ids["web"].namespace.cluster
        start = Grant.objects.filter(cluster=cluster).aggregate(start=Max("valid_from"))["start"]
        lines = demo_hubble_flows(start=start, end=timezone.now())
        access_log_ingest(cluster=cluster, records=list(enumerate(lines, start=1)))

    def _rules(self, teams):
        def domain_list(name, description, entries):
            return DomainList.objects.filter(name=name).first() or domain_list_create(
                actor=None, name=name, description=description, entries="\n".join(entries)
            )

        blocked = domain_list("Blocked destinations", "File sharing and tunnels.", BLOCKED)
        pre_approved = domain_list("Pre-approved destinations", "Package registries everyone may use.", PRE_APPROVED)
        specs = [
            (
                "Blocked destinations",
                10,
                {
                    "domain_list": blocked,
                    "outcome": RuleOutcome.DENY,
                    "deny_reason": "File sharing and tunnelling services are blocked by the security policy.",
                },
            ),
            (
                "Pre-approved over TLS",
                20,
                {"domain_list": pre_approved, "protocols": [Protocol.TLS], "outcome": RuleOutcome.AUTO_APPROVE},
            ),
            (
                "Production needs security review",
                30,
                {"environments": [Environment.PROD], "outcome": RuleOutcome.REQUIRE_STEPS},
            ),
            ("Wildcards need security review", 40, {"wildcard": True, "outcome": RuleOutcome.REQUIRE_STEPS}),
            (
                "Clear text and raw TCP need security review",
                50,
                {"protocols": [Protocol.HTTP, Protocol.TCP], "outcome": RuleOutcome.REQUIRE_STEPS},
            ),
        ]
        for name, priority, fields in specs:
            if ApprovalRule.objects.filter(name=name).exists():
                continue
            rule = approval_rule_create(actor=None, name=name, priority=priority, **fields)
            if rule.outcome == RuleOutcome.REQUIRE_STEPS:
                approval_rule_step_create(rule=rule, actor=None, position=1, name="Approver of the requesting team")
                approval_rule_step_create(
                    rule=rule, actor=None, position=2, name="Security review", team=teams["security"]
                )

    def _requests(self, users, teams, ids):
        dev, lead, secops, searcher = (
            users["payments-dev"],
            users["payments-lead"],
            users["secops"],
            users["search-dev"],
        )

        def ask(user, team, identities, destinations, justification, submit=True, days=90):
            data = RequestInput(
                team=teams[team],
                identities=[ids[name] for name in identities],
                destinations=[DestinationInput(**d) for d in destinations],
                justification=justification,
                ticket_url="https://tickets.example.com/browse/PAY-101",
                duration_days=days,
            )
            return egress_request_create(requester=user, data=data, submit=submit)

        # Approved through both steps: active grants for checkout and refunds.
        stripe = ask(
            dev,
            "payments",
            ["checkout", "refunds"],
            [{"host": "api.stripe.com", "port": 443}],
            "Card payments and refunds go through Stripe.",
        )
        egress_request_approve(request=stripe, approver=lead, comment="Needed for launch.")
        egress_request_approve(request=stripe, approver=secops)
        # Auto-approved by the pre-approved list.
        ask(searcher, "search", ["indexer"], [{"host": "pypi.org", "port": 443}], "Install Python packages at build.")
        # Waiting for the team approver.
        ask(dev, "payments", ["refunds"], [{"host": "hooks.slack.com", "port": 443}], "Post refund alerts to Slack.")
        # Team approved, waiting for security; clear-text origination.
        paypal = ask(
            dev,
            "payments",
            ["checkout"],
            [{"host": "api.paypal.com", "port": 443, "protocol": Protocol.HTTP_ORIGINATE}],
            "Legacy client speaks HTTP; the gateway upgrades to TLS.",
        )
        egress_request_approve(request=paypal, approver=lead)
        # Sent back for changes.
        twilio = ask(
            dev,
            "payments",
            ["checkout"],
            [{"host": "*.twilio.com", "port": 443, "expanded_hosts": ["api.twilio.com"]}],
            "SMS receipts.",
        )
        egress_request_request_changes(
            request=twilio, approver=lead, comment="List the exact hosts instead of a wildcard."
        )
        # Denied by the blocked list.
        ask(searcher, "search", ["indexer"], [{"host": "pastebin.com", "port": 443}], "Share debug dumps.")
        # A draft and a cancelled request.
        ask(
            dev,
            "payments",
            ["checkout"],
            [{"host": "api.adyen.com", "port": 443}],
            "Evaluate a second acquirer.",
            submit=False,
        )
        cancelled = ask(
            searcher,
            "search",
            ["indexer"],
            [{"host": "api.openai.com", "port": 443}],
            "Summaries for search results.",
            submit=False,
        )
        egress_request_cancel(request=cancelled, actor=searcher, reason="Postponed to next quarter.")
        # A grant revoked after approval.
        old = ask(
            dev,
            "payments",
            ["checkout"],
            [{"host": "api.braintreegateway.com", "port": 443}],
            "Old payment provider.",
            days=30,
        )
        egress_request_approve(request=old, approver=lead)
        egress_request_approve(request=old, approver=secops)
        grant_revoke(grant=old.grants.get(), actor=lead, reason="Provider contract ended.")
        self._traffic(ids["checkout"].namespace.cluster)

    def _traffic(self, cluster):
        """Some egress traffic since the grants began: usage on grant pages, refused attempts."""
        start = Grant.objects.filter(status=GrantStatus.ACTIVE).aggregate(start=Max("valid_from"))["start"]
        lines = demo_access_log(trust_domain=cluster.trust_domain, start=start, end=timezone.now())
        access_log_ingest(cluster=cluster, records=list(enumerate(lines, start=1)))
