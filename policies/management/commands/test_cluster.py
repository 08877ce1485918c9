import sys

from django.core.management.base import BaseCommand, CommandError

from policies.models import Cluster
from policies.reconciler.connection import connection_test


class Command(BaseCommand):
    help = (
        "Test a cluster's connection: server version, Istio CRDs and served versions, and every permission "
        "the reconciler needs (missing ones named one by one). Exit status 1 when not ready."
    )

    def add_arguments(self, parser):
        parser.add_argument("name", help="Cluster name.")

    def handle(self, *args, name, **options):
        cluster = Cluster.objects.filter(name=name).first()
        if cluster is None:
            raise CommandError(f"No cluster named {name!r}.")
        report = connection_test(cluster)
        self.stdout.write(report.as_text())
        if not report.ok:
            sys.exit(1)
