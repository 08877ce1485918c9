#!/usr/bin/env python
import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "egressui.settings")
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line

    try:
        settings.INSTALLED_APPS  # noqa: B018  (loads the settings: configuration errors surface here)
    except ImproperlyConfigured as error:
        # A missing or malformed variable is the operator's to fix: one line naming it, no traceback.
        hint = "" if os.environ.get("DJANGO_DEBUG") else " (development: `make run` writes .env with DJANGO_DEBUG=true)"
        sys.exit(f"egressui: {error}{hint}")
    execute_from_command_line(sys.argv)
