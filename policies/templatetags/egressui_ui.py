"""Small presentation helpers for the UI templates: relative times, status and risk badges."""

import json
import unicodedata
from functools import lru_cache

from django import template
from django.conf import settings
from django.template.defaultfilters import stringfilter, truncatechars
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from policies.choices import PROTOCOL_HELP
from policies.redaction import url_without_credentials

register = template.Library()

RISK_HELP = {
    "wildcard": "Covers every subdomain of the domain, including ones that do not exist yet.",
    "clear-text": "Plain HTTP: headers and payload leave the cluster unencrypted.",
    "tcp": "Raw TCP to an IP range: the gateway cannot check host names.",
    "prod": "At least one workload runs in a production cluster.",
    "long-duration": "Requested for longer than {days} days.",
    "break-glass": "Emergency access granted by a platform admin without approval.",
}


_UNITS = (
    ("year", 365 * 86400),
    ("month", 30 * 86400),
    ("week", 7 * 86400),
    ("day", 86400),
    ("hour", 3600),
    ("minute", 60),
)


def relative(value, now) -> str:
    """The distance in its largest whole unit, as in "3 hours ago" or "in 2 days". Lists show dozens
    of times per page; this is far cheaper than humanize's naturaltime, which goes through translations."""
    seconds = (now - value).total_seconds()
    distance = abs(seconds)
    if distance < 60:
        return "just now"
    for unit, size in _UNITS:
        if distance >= size:
            count = int(distance // size)
            text = f"{count} {unit}{'' if count == 1 else 's'}"
            return f"{text} ago" if seconds >= 0 else f"in {text}"
    return "just now"


@register.simple_tag
def when(value, empty="—"):
    """A relative time ("3 hours ago") with the exact UTC time on hover and in `datetime`."""
    if not value:
        return empty
    exact = timezone.localtime(value).strftime("%Y-%m-%d %H:%M:%S %Z")
    return format_html(
        '<time datetime="{}" title="{}">{}</time>', value.isoformat(), exact, relative(value, timezone.now())
    )


# Badges are built once per distinct value: list pages show two or three per row, statuses and flags
# are few, and format_html costs several times the cache look-up.
@lru_cache(maxsize=256)
def _badge(css: str, label: str, title: str | None = None) -> str:
    if title is None:
        return format_html('<span class="badge badge-{}">{}</span>', css, label)
    return format_html('<span class="badge badge-{}" title="{}">{}</span>', css, title, label)


@register.simple_tag
def status_badge(value, label=None):
    """A coloured badge for any status value; the CSS knows the values (`badge-<value>`)."""
    return _badge(str(value), str(label or str(value).replace("_", " ")))


# Risk flags read as what they warn about, so "prod" is never two unlabeled badges next to the
# cluster's environment badge.
RISK_LABELS = {"prod": "production workload", "clear-text": "clear text", "long-duration": "long duration"}


@register.simple_tag
def risk_badges(flags):
    """Warning badges for risk flags, each with a one-line explanation as its title."""
    days = settings.EGRESSUI_LONG_GRANT_DAYS
    return mark_safe(
        " ".join(
            _badge("risk", f"risk: {RISK_LABELS.get(flag, flag)}", RISK_HELP.get(flag, flag).format(days=days))
            for flag in flags
        )
    )


@register.simple_tag
def prod_badge():
    """The environment badge of a production cluster (its risk counterpart says "risk: …")."""
    return _badge("prod", "production", "A production cluster")


@register.filter(is_safe=True)
@stringfilter
def truncate_text(value, length):
    """Django's `truncatechars` with the same result, minus its walk over every character and its two
    translation look-ups when the text is short enough to stay whole (most texts in a list)."""
    if len(value) <= int(length):
        return unicodedata.normalize("NFC", value)  # what truncatechars returns for a text it keeps
    return truncatechars(value, length)


DECISION_VERBS = {"approve": "approved", "reject": "rejected", "request_changes": "asked for changes"}


@register.filter
def decision_verb(value):
    """What an approver did, as a past-tense verb: "approved", "asked for changes"."""
    return DECISION_VERBS.get(value, str(value).replace("_", " "))


@register.filter
def protocol_help(value):
    return PROTOCOL_HELP.get(value, "")


@register.filter
def as_json(value):
    """Indented JSON for audit before/after values (much cheaper than pprint on long pages)."""
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False, default=str)


_DIFF_CLASSES = (("+++", ""), ("---", ""), ("@@", "hunk"), ("+", "add"), ("-", "del"))


@register.simple_tag
def diff_lines(text):
    """A unified diff with added, removed and hunk lines marked for colour (and for screen readers,
    which read the leading + and - anyway)."""

    def css(line):
        return next((name for prefix, name in _DIFF_CLASSES if line.startswith(prefix)), "")

    return format_html_join("", '<span class="{}">{}</span>', ((css(line), line) for line in text.splitlines()))


@register.filter
def without_credentials(url: str) -> str:
    """A URL as it may be shown: no user information, query or fragment."""
    return url_without_credentials(url)


@register.simple_tag
def refusal_for(rejections: dict, change) -> str:
    """The API server's reason for refusing a previewed object (`ClusterPreview.rejections`), or ""."""
    return rejections.get(f"{change.kind} {change.namespace}/{change.name}", "")
