"""Structured logs: one JSON object per line in production, readable key=value lines in development.

Every line carries the correlation id of the HTTP request (X-Request-ID) or Celery task it belongs to,
the same id the audit events store, so a log line and an audit event can be joined. Both structlog
loggers and plain `logging` loggers (Django, Celery, gunicorn, libraries) go through the same
processors. Pure module (no Django import), so gunicorn's config can use it before Django starts.
"""

import structlog
import structlog.tracebacks

from egressui.correlation import current_correlation_id

FORMATS = ("json", "console")


def add_correlation_id(_logger, _method_name: str, event_dict: dict) -> dict:
    correlation_id = current_correlation_id()
    if correlation_id:
        event_dict.setdefault("correlation_id", correlation_id)
    return event_dict


def summarize_request(_logger, _method_name: str, event_dict: dict) -> dict:
    """Django attaches the HttpRequest to its own records; its repr holds the query string, which
    may carry tokens, so keep only the method and path."""
    request = event_dict.get("request")
    if request is not None and hasattr(request, "method") and hasattr(request, "path"):
        event_dict["request"] = f"{request.method} {request.path}"
    return event_dict


def drop_task_payloads(_logger, _method_name: str, event_dict: dict) -> dict:
    """Celery attaches each task's full arguments (`data`) to its "received" and "succeeded" lines:
    email bodies and addresses, not worth a log line each. The message keeps the task name and id."""
    if str(event_dict.get("logger", "")).startswith("celery."):
        event_dict.pop("data", None)
    return event_dict


def _shared_processors() -> list:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.ExtraAdder(),
        drop_task_payloads,
        summarize_request,
        add_correlation_id,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]


def _renderer(log_format: str) -> list:
    # Tracebacks without the frames' local variables: they hold tokens, kubeconfigs and passwords
    # (structlog's defaults include them).
    if log_format == "json":
        tracebacks = structlog.tracebacks.ExceptionDictTransformer(show_locals=False)
        return [structlog.processors.ExceptionRenderer(tracebacks), structlog.processors.JSONRenderer(sort_keys=True)]
    return [structlog.dev.ConsoleRenderer(colors=False, exception_formatter=structlog.dev.plain_traceback)]


def logging_config(*, level: str = "INFO", log_format: str = "json") -> dict:
    """A `logging.config.dictConfig` dict that renders every record through structlog."""
    if log_format not in FORMATS:
        raise ValueError(f"log format must be one of {', '.join(FORMATS)}, got {log_format!r}")
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "structlog": {
                "()": structlog.stdlib.ProcessorFormatter,
                "foreign_pre_chain": _shared_processors(),
                "processors": [structlog.stdlib.ProcessorFormatter.remove_processors_meta, *_renderer(log_format)],
            }
        },
        "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "structlog"}},
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            "django.db.backends": {"level": "WARNING"},
            "axes.apps": {"level": "WARNING"},  # a version banner in every process at start
            # gunicorn attaches its own handlers; send its records to ours instead. Its access lines
            # are dropped: RequestLogMiddleware writes a richer one, with the correlation id.
            "gunicorn.error": {"handlers": [], "propagate": True},
            "gunicorn.access": {"handlers": [], "propagate": False},
        },
    }


def configure_structlog() -> None:
    """Route `structlog.get_logger()` calls through the stdlib handlers configured above."""
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *_shared_processors(),
            structlog.processors.StackInfoRenderer(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
