"""Small presentation helpers for the UI templates: relative times, status and risk badges."""

import json

from django import template
from django.conf import settings
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from policies.choices import PROTOCOL_HELP

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


@register.simple_tag
def status_badge(value, label=None):
    """A coloured badge for any status value; the CSS knows the values (`badge-<value>`)."""
    return format_html('<span class="badge badge-{}">{}</span>', value, label or str(value).replace("_", " "))


@register.simple_tag
def risk_badges(flags):
    """Warning badges for risk flags, each with a one-line explanation as its title."""
    days = settings.EGRESSUI_LONG_GRANT_DAYS
    return format_html_join(
        " ",
        '<span class="badge badge-risk" title="{}">{}</span>',
        ((RISK_HELP.get(flag, flag).format(days=days), flag) for flag in flags),
    )


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
