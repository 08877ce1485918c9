"""`manage.py create_api_token`: prints the secret once, on stdout alone, for automation."""

import io

import pytest
from django.core.management import CommandError, call_command

from policies.models import ApiToken
from policies.selectors.tokens import api_token_for_secret

pytestmark = pytest.mark.django_db


def _run(*args) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("create_api_token", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


class CreateApiTokenCommandTests:
    def test_prints_only_the_secret_on_stdout(self, world):
        out, err = _run("--user", "payments-dev", "--name", "deploy", "--read-only", "--expires-in-days", "30")
        secret = out.strip()
        token = api_token_for_secret(secret)
        assert token is not None and token.user == world.dev and token.read_only and token.expires_at
        assert "read-only" in err and "deploy" in err and secret not in err

    def test_unknown_users_and_invalid_values_fail_cleanly(self, world):
        with pytest.raises(CommandError, match="No user named 'ghost'"):
            _run("--user", "ghost", "--name", "x")
        with pytest.raises(CommandError, match="1–3650 days"):
            _run("--user", "payments-dev", "--name", "x", "--expires-in-days", "0")
        assert not ApiToken.objects.exists()
