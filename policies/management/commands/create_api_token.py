from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from policies.exceptions import ApplicationError
from policies.services.tokens import api_token_create


class Command(BaseCommand):
    help = (
        "Create a personal API token for USER and print its secret once on stdout "
        "(for bootstrapping automation: TOKEN=$(python manage.py create_api_token --user ci --name deploy))."
    )

    def add_arguments(self, parser):
        parser.add_argument("--user", required=True, help="Username the token acts as.")
        parser.add_argument("--name", required=True, help="A name to recognise the token by.")
        parser.add_argument("--read-only", action="store_true", help="Allow only GET requests.")
        parser.add_argument("--expires-in-days", type=int, default=None, help="Expire after N days (default: never).")

    def handle(self, *args, **options):
        user = get_user_model().objects.filter(username=options["user"]).first()
        if user is None:
            raise CommandError(f"No user named {options['user']!r}.")
        try:
            token, secret = api_token_create(
                user=user,
                actor=None,
                name=options["name"],
                read_only=options["read_only"],
                expires_in_days=options["expires_in_days"],
            )
        except ApplicationError as exc:
            raise CommandError(exc.message) from None
        scope = "read-only" if token.read_only else "read-write"
        expiry = f"expires {token.expires_at:%Y-%m-%d %H:%M} UTC" if token.expires_at else "no expiry"
        self.stderr.write(f"created {scope} token {token.name!r} for {user.get_username()} ({expiry}); shown once:")
        self.stdout.write(secret)
