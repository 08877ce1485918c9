"""Test settings: the production settings with only what tests need changed."""

import os

# Never a developer's .env (DJANGO_DEBUG=true would change what the tests check).
os.environ.setdefault("EGRESSUI_ENV_FILE", "")
os.environ.setdefault("DJANGO_SECRET_KEY", "test-only-secret-key")
# A fixed, valid Fernet key so encrypted columns work; never used outside tests.
os.environ.setdefault("EGRESSUI_ENCRYPTION_KEY", "dGVzdC1vbmx5LWVuY3J5cHRpb24ta2V5LWVncmVzc3U=")
os.environ.setdefault("DJANGO_ALLOWED_HOSTS", "testserver,127.0.0.1,localhost")
# The test client and live server speak plain HTTP; tests/deploy checks the HTTPS settings.
os.environ.setdefault("EGRESSUI_HTTPS", "false")

from egressui.settings import *  # noqa: E402,F403

CELERY_BROKER_URL = "memory://"
CELERY_BROKER_TRANSPORT_OPTIONS = {}
CELERY_TASK_ALWAYS_EAGER = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
AXES_CACHE = "default"  # sign-in failure counters next to the throttles, cleared with them
SILENCED_SYSTEM_CHECKS = ["axes.W001"]  # one test process: an in-memory cache is shared enough
# Templates render {% static %} without a collectstatic manifest.
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}  # noqa: F405
