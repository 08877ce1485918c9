"""Django settings for egressui, read from the environment (see README's table of variables).

Django's own settings use the DJANGO_ prefix, egressui's the EGRESSUI_ prefix; DATABASE_URL and
REDIS_URL are read as-is. Without DJANGO_DEBUG=true, the secret key and the encryption key are
required and a missing one stops the process at start with the variable's name. Unset variables
are first filled from `.env` at the project root when there is one (`make run` writes it).
"""

from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from egressui.env import env_bool, env_choice, env_int, env_list, env_str, read_env_file

BASE_DIR = Path(__file__).resolve().parent.parent
ENV_FILE = read_env_file(BASE_DIR / ".env")
VAR_DIR = Path(env_str("EGRESSUI_VAR_DIR", str(BASE_DIR / "var")))

DEBUG = env_bool("DJANGO_DEBUG", False)

# Used only when DJANGO_DEBUG is on: development must work without any configuration.
_DEV_SECRET_KEY = "dev-only-insecure-secret-key-do-not-use-in-production"
_DEV_ENCRYPTION_KEY = "ZGV2LW9ubHktZW5jcnlwdGlvbi1rZXktZWdyZXNzdWk="

SECRET_KEY = env_str("DJANGO_SECRET_KEY", _DEV_SECRET_KEY if DEBUG else None, required=not DEBUG)

# Fernet keys for secrets at rest, newest first: a comma-separated list lets old keys still decrypt
# while `manage.py rotate_encryption_key` re-encrypts everything with the first one.
EGRESSUI_ENCRYPTION_KEYS = env_list("EGRESSUI_ENCRYPTION_KEY", [_DEV_ENCRYPTION_KEY] if DEBUG else [])
if not EGRESSUI_ENCRYPTION_KEYS:
    raise ImproperlyConfigured(
        "The environment variable EGRESSUI_ENCRYPTION_KEY is required but not set. Generate one with: "
        'python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"'
    )

ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "template_partials",
    "csp",
    "axes",
    "policies",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "egressui.middleware.CorrelationIdMiddleware",
    "egressui.middleware.RequestLogMiddleware",
    "django_permissions_policy.PermissionsPolicyMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "egressui.middleware.RejectNullCharactersMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Turns a lock-out noticed while authenticating into the 429 answer (policies.sign_in_throttle).
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "egressui.urls"
WSGI_APPLICATION = "egressui.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "policies.context_processors.ui",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------------
DATABASE_URL = env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'egressui.sqlite3'}")
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=env_int("DJANGO_DB_CONN_MAX_AGE", 60))}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    # The embedded default is shared by web, worker and beat: wait for locks instead of failing,
    # and take the write lock at BEGIN so select_for_update-style sections serialise cleanly.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Broker, cache, Celery ------------------------------------------------------------------------
REDIS_URL = env_str("REDIS_URL")

if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
    AXES_CACHE = "default"
else:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        # Sign-in failure counters must be shared by every web process: on disk without Redis.
        "axes": {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache", "LOCATION": str(VAR_DIR / "axes")},
    }
    AXES_CACHE = "axes"
    if DEBUG:
        # axes warns that a file-based cache is not atomic; one development machine accepts that.
        SILENCED_SYSTEM_CHECKS = ["axes.W001"]

CELERY_TASK_SOFT_TIME_LIMIT = env_int("EGRESSUI_TASK_SOFT_TIME_LIMIT", 240, minimum=10)
CELERY_TASK_TIME_LIMIT = CELERY_TASK_SOFT_TIME_LIMIT + 60
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    # Late-acked tasks come back after this long if a worker dies; keep it above the hard limit.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": CELERY_TASK_TIME_LIMIT * 2}
else:
    # Embedded default: kombu's filesystem transport needs no server, only a shared directory.
    _queue_dir = VAR_DIR / "celery"
    for _folder in ("queue", "processed", "control"):
        (_queue_dir / _folder).mkdir(parents=True, exist_ok=True)
    # kombu warns about a URL without a host name; the filesystem transport ignores it.
    CELERY_BROKER_URL = "filesystem://localhost//"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_queue_dir / "queue"),
        "data_folder_out": str(_queue_dir / "queue"),
        "processed_folder": str(_queue_dir / "processed"),
        "control_folder": str(_queue_dir / "control"),
        "store_processed": False,
    }
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# What tasks print (the console email backend in development) is output, not a warning.
CELERY_WORKER_REDIRECT_STDOUTS_LEVEL = "INFO"
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
# Seconds between full resyncs of every cluster (drift repair).
EGRESSUI_RESYNC_INTERVAL = env_int("EGRESSUI_RESYNC_INTERVAL", 600, minimum=30)

from policies.schedule import beat_schedule  # noqa: E402  (plain data, no models)

CELERY_BEAT_SCHEDULE = beat_schedule(resync_seconds=EGRESSUI_RESYNC_INTERVAL)

# --- Reconciler (calls to the Kubernetes API) -----------------------------------------------------
# Read timeout per API call, in seconds, and how many times a transient failure (429, 5xx,
# timeout, refused connection) is retried, with exponential backoff from this base and jitter.
EGRESSUI_KUBE_TIMEOUT = env_int("EGRESSUI_KUBE_TIMEOUT", 20, minimum=1)
EGRESSUI_KUBE_RETRIES = env_int("EGRESSUI_KUBE_RETRIES", 4, minimum=0)
EGRESSUI_KUBE_BACKOFF_MS = env_int("EGRESSUI_KUBE_BACKOFF_MS", 250, minimum=1)
# Kubeconfig files and GitOps directories named in the admin or the API must lie under this directory;
# unset, those connection kinds can only be registered from the command line (`manage.py add_cluster`).
EGRESSUI_CLUSTER_FILES_DIR = env_str("EGRESSUI_CLUSTER_FILES_DIR", "")
# Concurrent API calls during one reconcile (apply order between kinds is kept); fewer while the API
# server answers 429 (API Priority and Fairness). EGRESSUI_RECONCILE_PARALLELISM is the former name.
EGRESSUI_RECONCILE_CONCURRENCY = env_int(
    "EGRESSUI_RECONCILE_CONCURRENCY", env_int("EGRESSUI_RECONCILE_PARALLELISM", 8, minimum=1), minimum=1
)
# Previews send the objects a request would add or change to the cluster's API server as a dry run
# (nothing is stored): at most this many seconds per cluster, the verdict cached this long per content.
EGRESSUI_PREVIEW_DRY_RUN_SECONDS = env_int("EGRESSUI_PREVIEW_DRY_RUN_SECONDS", 5, minimum=1)
EGRESSUI_PREVIEW_DRY_RUN_CACHE = env_int("EGRESSUI_PREVIEW_DRY_RUN_CACHE", 600, minimum=0)
# The per-cluster lock is a lease renewed while a reconcile runs; a dead worker's lease expires
# after this many seconds, so the next run can proceed.
EGRESSUI_RECONCILE_LOCK_TTL = env_int("EGRESSUI_RECONCILE_LOCK_TTL", 60, minimum=1)

# --- Auth -----------------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"

# OpenID Connect sign-in (mozilla-django-oidc), on when EGRESSUI_OIDC_CLIENT_ID is set; local accounts
# keep signing in with their password. Members of a team's `oidc_group` (groups claim) join the team.
EGRESSUI_OIDC_ENABLED = bool(env_str("EGRESSUI_OIDC_CLIENT_ID"))
EGRESSUI_OIDC_PROVIDER_NAME = env_str("EGRESSUI_OIDC_PROVIDER_NAME", "single sign-on")
EGRESSUI_OIDC_USERNAME_CLAIM = env_str("EGRESSUI_OIDC_USERNAME_CLAIM", "preferred_username")
EGRESSUI_OIDC_GROUPS_CLAIM = env_str("EGRESSUI_OIDC_GROUPS_CLAIM", "groups")
# axes first: it refuses a locked-out account or address before any password is checked.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
# Sign-in throttling (django-axes; counters in the cache, so shared by every web process with Redis).
# Failures per account name and per client address; at the limit either one is locked out for the
# lock-out time, the right password included. API and ingest tokens count their failures the same way.
AXES_HANDLER = "axes.handlers.cache.AxesCacheHandler"
AXES_FAILURE_LIMIT = env_int("EGRESSUI_LOGIN_FAILURE_LIMIT", 10, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("EGRESSUI_LOGIN_LOCKOUT_MINUTES", 15, minimum=1))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_ENABLE_ADMIN = False
AXES_LOCKOUT_CALLABLE = "policies.sign_in_throttle.lockout_response"
AXES_CLIENT_IP_CALLABLE = "policies.sign_in_throttle.client_address"
# Proxies in front that append the client's address to X-Forwarded-For (0: use the connection's).
EGRESSUI_TRUSTED_PROXY_COUNT = env_int("EGRESSUI_TRUSTED_PROXY_COUNT", 0, minimum=0)
if EGRESSUI_OIDC_ENABLED:
    AUTHENTICATION_BACKENDS.append("policies.oidc.OIDCBackend")
    OIDC_RP_CLIENT_ID = env_str("EGRESSUI_OIDC_CLIENT_ID")
    OIDC_RP_CLIENT_SECRET = env_str("EGRESSUI_OIDC_CLIENT_SECRET", required=True)
    OIDC_OP_AUTHORIZATION_ENDPOINT = env_str("EGRESSUI_OIDC_AUTHORIZATION_ENDPOINT", required=True)
    OIDC_OP_TOKEN_ENDPOINT = env_str("EGRESSUI_OIDC_TOKEN_ENDPOINT", required=True)
    OIDC_OP_USER_ENDPOINT = env_str("EGRESSUI_OIDC_USER_ENDPOINT", required=True)
    OIDC_RP_SIGN_ALGO = env_str("EGRESSUI_OIDC_SIGN_ALGO", "RS256")
    # RS/ES-signed ID tokens are checked against the provider's published keys.
    OIDC_OP_JWKS_ENDPOINT = env_str("EGRESSUI_OIDC_JWKS_ENDPOINT", required=not OIDC_RP_SIGN_ALGO.startswith("HS"))
    OIDC_RP_SCOPES = env_str("EGRESSUI_OIDC_SCOPES", "openid email profile")
    LOGIN_REDIRECT_URL_FAILURE = "/login/?sso=failed"

# --- i18n, static ---------------------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = Path(env_str("DJANGO_STATIC_ROOT", str(VAR_DIR / "static")))
STATICFILES_DIRS = [BASE_DIR / "static"]

# --- Email ----------------------------------------------------------------------------------------
EMAIL_BACKEND = env_str(
    "DJANGO_EMAIL_BACKEND",
    "django.core.mail.backends.console.EmailBackend" if DEBUG else "django.core.mail.backends.smtp.EmailBackend",
)
EMAIL_HOST = env_str("DJANGO_EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("DJANGO_EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("DJANGO_EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("DJANGO_EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("DJANGO_EMAIL_USE_TLS", False)
EMAIL_TIMEOUT = env_int("DJANGO_EMAIL_TIMEOUT", 10)
DEFAULT_FROM_EMAIL = env_str("DJANGO_DEFAULT_FROM_EMAIL", "egressui <egressui@localhost>")

# --- egressui -------------------------------------------------------------------------------------
# Public address of this installation, used in links inside emails and webhooks.
EGRESSUI_BASE_URL = env_str("EGRESSUI_BASE_URL", "http://127.0.0.1:8000").rstrip("/")
# Django group whose members are platform admins (superusers always are).
EGRESSUI_ADMIN_GROUP = env_str("EGRESSUI_ADMIN_GROUP", "platform-admins")
# Names under these suffixes are cluster-internal and never valid egress destinations.
EGRESSUI_INTERNAL_SUFFIXES = env_list(
    "EGRESSUI_INTERNAL_SUFFIXES", ["cluster.local", "svc", "local", "internal", "localhost"]
)
EGRESSUI_DEFAULT_GRANT_DAYS = env_int("EGRESSUI_DEFAULT_GRANT_DAYS", 90, minimum=1)
EGRESSUI_MAX_GRANT_DAYS = env_int("EGRESSUI_MAX_GRANT_DAYS", 365, minimum=1)
# Requests for longer than this are flagged as "long duration" for approvers.
EGRESSUI_LONG_GRANT_DAYS = env_int("EGRESSUI_LONG_GRANT_DAYS", 180, minimum=1)
EGRESSUI_BREAK_GLASS_MAX_HOURS = env_int("EGRESSUI_BREAK_GLASS_MAX_HOURS", 72, minimum=1)
# Who, besides platform admins, may switch a team's namespace between observe and enforce
# (policies.choices.EnforcementSwitchRole): the team's approvers, any member, or nobody else.
EGRESSUI_ENFORCEMENT_SWITCH_ROLE = env_choice(
    "EGRESSUI_ENFORCEMENT_SWITCH_ROLE", "approver", ("approver", "member", "admin")
)
# Days of traffic a namespace's readiness page looks at by default.
EGRESSUI_READINESS_DAYS = env_int("EGRESSUI_READINESS_DAYS", 14, minimum=1)
# Days before expiry when the owning team is reminded.
EGRESSUI_EXPIRY_NOTICE_DAYS = [int(d) for d in env_list("EGRESSUI_EXPIRY_NOTICE_DAYS", ["7", "1"])]
# Istio CRD bundle used to validate rendered objects (tests, and the connection report).
EGRESSUI_ISTIO_CRDS = env_str("EGRESSUI_ISTIO_CRDS", str(BASE_DIR.parent / "shared" / "istio" / "crd-all.gen.yaml"))
# Gateway API CRD bundle (standard channel) for the ambient waypoint `Gateway`; Istio does not ship it.
EGRESSUI_GATEWAY_API_CRDS = env_str(
    "EGRESSUI_GATEWAY_API_CRDS", str(BASE_DIR.parent / "shared" / "gateway-api" / "standard-install.yaml")
)
# Cilium's CRD bundle (CiliumNetworkPolicy), for the same validation of mode `cilium`'s objects.
EGRESSUI_CILIUM_CRDS = env_str("EGRESSUI_CILIUM_CRDS", str(BASE_DIR.parent / "shared" / "cilium" / "cilium-crds.yaml"))
EGRESSUI_WEBHOOK_TIMEOUT = env_int("EGRESSUI_WEBHOOK_TIMEOUT", 5, minimum=1)

SESSION_COOKIE_AGE = int(timedelta(hours=env_int("EGRESSUI_SESSION_HOURS", 12, minimum=1)).total_seconds())
# With a shared cache (Redis), sessions are read from it and written through to the database: one
# query less on every page. Not with the per-process memory cache: a signed-out session could stay
# valid in another process's copy.
if REDIS_URL:
    SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"

# === Production hardening: logging, HTTPS, security headers (docs/deploy.md) ======================
from csp.constants import NONE, SELF  # noqa: E402

from egressui.logging import FORMATS as _LOG_FORMATS  # noqa: E402
from egressui.logging import configure_structlog, logging_config  # noqa: E402

# JSON lines with the correlation id by default; "console" is easier to read in a terminal.
EGRESSUI_LOG_FORMAT = env_str("EGRESSUI_LOG_FORMAT", "console" if DEBUG else "json")
if EGRESSUI_LOG_FORMAT not in _LOG_FORMATS:
    raise ImproperlyConfigured(
        f"The environment variable EGRESSUI_LOG_FORMAT must be one of {', '.join(_LOG_FORMATS)}, "
        f"got {EGRESSUI_LOG_FORMAT!r}."
    )
LOGGING = logging_config(level=env_str("DJANGO_LOG_LEVEL", "INFO").upper(), log_format=EGRESSUI_LOG_FORMAT)
configure_structlog()
# Celery would otherwise replace the root handler with its own plain-text one.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

if not DEBUG and not ALLOWED_HOSTS:
    raise ImproperlyConfigured(
        "The environment variable DJANGO_ALLOWED_HOSTS is required but not set: list the host names this "
        "installation is reached by, comma-separated."
    )

# The site is served over HTTPS (TLS normally ends at the ingress or proxy in front). On by default
# outside debug mode so a forgotten variable fails safe; switch off only for a plain-HTTP trial.
EGRESSUI_HTTPS = env_bool("EGRESSUI_HTTPS", not DEBUG)
# Trust X-Forwarded-Proto only behind a proxy that always sets it; otherwise clients could claim HTTPS.
if env_bool("EGRESSUI_TRUST_X_FORWARDED_PROTO", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
USE_X_FORWARDED_HOST = env_bool("DJANGO_USE_X_FORWARDED_HOST", False)
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", EGRESSUI_HTTPS)
# Probes and metrics scrapers reach the pod directly over plain HTTP.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
SESSION_COOKIE_SECURE = EGRESSUI_HTTPS
CSRF_COOKIE_SECURE = EGRESSUI_HTTPS
SECURE_HSTS_SECONDS = env_int("DJANGO_SECURE_HSTS_SECONDS", 31_536_000, minimum=0) if EGRESSUI_HTTPS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
# Only adds the `preload` directive; getting onto browsers' preload list is a separate, manual step.
SECURE_HSTS_PRELOAD = env_bool("DJANGO_SECURE_HSTS_PRELOAD", True)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# Only our own files: htmx is served from static/ by {% htmx_script %}, no inline script or style,
# no eval (so no hx-on attributes and no `js:` values in templates).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
        "base-uri": [NONE],
        "object-src": [NONE],
    }
}
# Only features browsers recognise: Chromium prints a console warning on every page for an unknown one
# (`bluetooth` is not a Permissions-Policy feature).
PERMISSIONS_POLICY = {
    feature: [] for feature in ("camera", "microphone", "geolocation", "payment", "usb", "serial", "hid")
}

# Hashed, compressed file names (collectstatic at image build), served by WhiteNoise with far-future caching.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
# === End of production hardening =================================================================

# === REST API (/api/v1/, policies/api/, docs/api.md) ==============================================
REST_FRAMEWORK = {
    # Bearer first: its WWW-Authenticate challenge makes unauthenticated calls 401, not 403.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "policies.api.auth.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticated",
        "policies.api.auth.TokenScopePermission",
    ],
    "DEFAULT_THROTTLE_CLASSES": [
        "policies.api.throttling.TokenRateThrottle",
        "policies.api.throttling.AnonymousRateThrottle",
    ],
    "DEFAULT_PAGINATION_CLASS": "policies.api.pagination.PagePagination",
    "DEFAULT_FILTER_BACKENDS": ["policies.api.filtering.FilterBackend", "policies.api.ordering.OrderingBackend"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["policies.api.parsers.BoundedJSONParser"],
    # OPTIONS (metadata) is always JSON, also where ?format=csv or yaml selects another renderer.
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "policies.api.renderers.MetadataAsJSONNegotiation",
    "DEFAULT_SCHEMA_CLASS": "policies.api.schema.ApiAutoSchema",
    "EXCEPTION_HANDLER": "policies.api.errors.api_exception_handler",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
# Requests per token (or session user) and per anonymous address, as N/second|minute|hour|day.
EGRESSUI_API_THROTTLE_RATE = env_str("EGRESSUI_API_THROTTLE_RATE", "1200/min")
EGRESSUI_API_ANON_THROTTLE_RATE = env_str("EGRESSUI_API_ANON_THROTTLE_RATE", "120/min")
# How long a POST's Idempotency-Key is remembered (a retry within it replays the first response).
EGRESSUI_IDEMPOTENCY_HOURS = env_int("EGRESSUI_IDEMPOTENCY_HOURS", 24, minimum=1)
SPECTACULAR_SETTINGS = {
    "TITLE": "egressui API",
    "DESCRIPTION": "Request, approve and audit egress access for Kubernetes workloads. Guide: docs/api.md.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",  # served from our static files: no CDN
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Object ids in paths (policies/api/urls.py IdConverter): at most 18 digits.
    "PATH_CONVERTER_OVERRIDES": {"id": {"type": "integer", "minimum": 0, "maximum": 999_999_999_999_999_999}},
    "ENUM_NAME_OVERRIDES": {
        "RequestStatusEnum": "policies.choices.RequestStatus",
        "GrantStatusEnum": "policies.choices.GrantStatus",
        "StepStatusEnum": "policies.choices.StepStatus",
        "ClusterStatusEnum": "policies.choices.ClusterStatus",
        "NamespaceEnforcementEnum": "policies.choices.NamespaceEnforcement",
        "ReconcileOutcomeEnum": "policies.models.reconcile.ReconcileRun.Outcome",
        "ReconcileActionEnum": "policies.models.reconcile.ReconcileObjectResult.Action",
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "policies.api.schema.add_error_responses",
        "policies.api.schema.close_request_bodies",
    ],
}
# === End of REST API ==============================================================================

# === Egress monitoring (access-log ingestion, usage, metrics; docs/monitoring.md) =================
# Hourly access aggregates older than this many days are pruned (the grant sparkline shows 30).
EGRESSUI_ACCESS_RETENTION_DAYS = env_int("EGRESSUI_ACCESS_RETENTION_DAYS", 90, minimum=1)
# Larger access-log posts are refused with 413; the limit applies after gzip decoding too.
EGRESSUI_INGEST_MAX_BODY_BYTES = env_int("EGRESSUI_INGEST_MAX_BODY_BYTES", 16 * 1024 * 1024, minimum=1024)
EGRESSUI_INGEST_MAX_LINE_BYTES = env_int("EGRESSUI_INGEST_MAX_LINE_BYTES", 16 * 1024, minimum=256)
# Posts per cluster feed, as N/second|minute|hour|day.
EGRESSUI_INGEST_THROTTLE_RATE = env_str("EGRESSUI_INGEST_THROTTLE_RATE", "1200/min")
# A grant with no traffic for this many days is reported unused; its team is emailed if enabled.
EGRESSUI_UNUSED_GRANT_DAYS = env_int("EGRESSUI_UNUSED_GRANT_DAYS", 30, minimum=1)
EGRESSUI_UNUSED_GRANT_NOTIFY = env_bool("EGRESSUI_UNUSED_GRANT_NOTIFY", False)
# When set, /metrics requires `Authorization: Bearer <this value>`.
EGRESSUI_METRICS_TOKEN = env_str("EGRESSUI_METRICS_TOKEN", "")
# === End of egress monitoring =====================================================================
