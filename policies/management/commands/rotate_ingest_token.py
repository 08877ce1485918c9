from django.core.management.base import BaseCommand, CommandError
from django.urls import reverse

from policies.exceptions import ApplicationError
from policies.models import Cluster
from policies.selectors.clusters import cluster_names
from policies.services.ingest_tokens import cluster_ingest_token_rotate


class Command(BaseCommand):
    help = (
        "Issue a new access-log ingest token for a cluster and print it once on stdout; the previous token "
        "stops working (TOKEN=$(python manage.py rotate_ingest_token --cluster prod-eu))."
    )

    def add_arguments(self, parser):
        parser.add_argument("--cluster", required=True, help="Cluster name.")

    def handle(self, *args, **options):
        cluster = Cluster.objects.filter(name=options["cluster"]).first()
        if cluster is None:
            known = ", ".join(cluster_names()) or "none yet"
            raise CommandError(f"No cluster named {options['cluster']!r} (known: {known}).")
        try:
            secret = cluster_ingest_token_rotate(cluster=cluster, actor=None)
        except ApplicationError as exc:
            raise CommandError(exc.message) from None
        path = reverse("api:cluster-access-logs", args=[cluster.pk])
        self.stderr.write(f"new ingest token for cluster {cluster.name}, for POST {path}; shown once:")
        self.stdout.write(secret)
