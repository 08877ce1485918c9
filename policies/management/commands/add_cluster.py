from django.core.management.base import BaseCommand, CommandError

from policies.choices import ConnectionKind, EnforcementMode, Environment
from policies.constants import DEFAULT_CILIUM_VERSION
from policies.exceptions import ApplicationError
from policies.management.ambient_options import add_ambient_arguments, ambient_settings
from policies.services.clusters import cluster_create


class Command(BaseCommand):
    help = (
        "Register a cluster for automation: a kubeconfig file (and context), the in-cluster service "
        "account, or a GitOps directory. API URL + token connections are set in the admin (secrets)."
    )

    def add_arguments(self, parser):
        parser.add_argument("name", help="Cluster name (a DNS label; it ends up in every object's labels).")
        target = parser.add_mutually_exclusive_group(required=True)
        target.add_argument("--kubeconfig", metavar="PATH", help="Path to a kubeconfig file readable by workers.")
        target.add_argument("--in-cluster", action="store_true", help="Use the pod's service account.")
        target.add_argument("--directory", metavar="DIR", help="Write YAML files here instead of applying.")
        parser.add_argument("--context", default="", help="Kubeconfig context (default: the current one).")
        parser.add_argument("--environment", choices=Environment.values, default=Environment.NON_PROD)
        parser.add_argument("--mode", choices=EnforcementMode.values, default=EnforcementMode.ISTIO)
        parser.add_argument(
            "--cilium-version",
            default=DEFAULT_CILIUM_VERSION,
            help=f"With --mode cilium: the cluster's Cilium release, MAJOR.MINOR (default {DEFAULT_CILIUM_VERSION}).",
        )
        parser.add_argument("--description", default="")
        add_ambient_arguments(parser)

    def handle(self, *args, name, kubeconfig, in_cluster, directory, context, environment, mode, **options):
        if context and not kubeconfig:
            raise CommandError("--context only goes with --kubeconfig.")
        version = options["cilium_version"]
        if version != DEFAULT_CILIUM_VERSION and mode != EnforcementMode.CILIUM:
            raise CommandError("--cilium-version only goes with --mode cilium.")
        if kubeconfig:
            connection = {"connection_kind": ConnectionKind.KUBECONFIG, "kubeconfig_path": kubeconfig}
            connection["kube_context"] = context
        elif in_cluster:
            connection = {"connection_kind": ConnectionKind.IN_CLUSTER}
        else:
            connection = {"connection_kind": ConnectionKind.DIRECTORY, "directory_path": directory}
        ambient = ambient_settings(options)
        if ambient and mode != EnforcementMode.ISTIO_AMBIENT:
            raise CommandError("--waypoint-*, --platform-waypoint and --istio-version go with --mode istio-ambient.")
        try:
            cluster = cluster_create(
                actor=None,
                name=name,
                environment=environment,
                enforcement_mode=mode,
                cilium_version=version,
                description=options["description"],
                **connection,
                **ambient,
            )
        except ApplicationError as exc:
            raise CommandError(exc.message) from None
        self.stdout.write(
            f"cluster {cluster.name} registered ({cluster.get_connection_kind_display()}); "
            f"check it with: python manage.py test_cluster {cluster.name}"
        )
