"""Small presentation helpers for the UI templates: relative times, status and risk badges."""

import json
import unicodedata
from collections.abc import Iterable, Mapping
from functools import lru_cache

from django import template
from django.conf import settings
from django.template.base import FilterExpression, Parser, Token, token_kwargs
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


# --- List pages: filter fields, the filter form, and the results table with its empty state -------


def _options(options: Iterable | Mapping) -> list[tuple[object, object]]:
    """(value, label) pairs from choices, a dict, or plain values that are their own label."""
    if hasattr(options, "items"):
        options = options.items()
    return [(item[0], item[1]) if isinstance(item, (tuple, list)) else (item, item) for item in options]


def _marked(options: Iterable | Mapping, selected: object) -> list[tuple[object, object, bool]]:
    """The options, each with whether it is selected: `selected` is one value or a list of them,
    compared as text since query values are text and choices are not always."""
    if selected is None or selected == "":
        chosen: set[str] = set()
    elif isinstance(selected, (list, tuple, set)):
        chosen = {str(item) for item in selected}
    else:
        chosen = {str(selected)}
    return [(value, label, str(value) in chosen) for value, label in _options(options)]


@register.inclusion_tag("policies/partials/filters/select.html")
def filter_select(
    name: str, label: str, options: Iterable | Mapping, selected: object = None, empty: str = "", field_id: str = ""
) -> dict:
    """A labelled select of a filter form; `empty` is the label of the "any" option (none without it)."""
    return {
        "name": name,
        "label": label,
        "field_id": field_id or f"f-{name}",
        "empty": empty,
        "options": _marked(options, selected),
    }


@register.inclusion_tag("policies/partials/filters/checks.html")
def filter_checks(name: str, legend: str, options: Iterable | Mapping, selected: object = None) -> dict:
    """A fieldset of checkboxes of a filter form, one per option."""
    return {"name": name, "legend": legend, "options": _marked(options, selected)}


@register.inclusion_tag("policies/partials/filters/search.html")
def filter_search(name: str, label: str, value: object, field_id: str = "") -> dict:
    """A labelled search box of a filter form."""
    return {"name": name, "label": label, "field_id": field_id or f"f-{name}", "value": value}


def _render_with(context: template.Context, name: str, values: dict) -> str:
    """Render template `name` with the page's context plus `values`, as `{% include %}` does."""
    engine = context.template.engine if context.template else template.Engine.get_default()
    with context.push(**values):
        return engine.get_template(name).render(context)


def _tag_arguments(
    parser: Parser, token: Token, positional: int
) -> tuple[list[FilterExpression], dict[str, FilterExpression]]:
    """A block tag's positional arguments, then its name=value options."""
    bits = token.split_contents()
    tag, args, rest = bits[0], bits[1 : 1 + positional], bits[1 + positional :]
    if len(args) != positional:
        raise template.TemplateSyntaxError(f"{tag} takes {positional} argument(s) before its options")
    options = token_kwargs(rest, parser)
    if rest:
        raise template.TemplateSyntaxError(f"{tag}: options are name=value, not {rest[0]!r}")
    return [parser.compile_filter(arg) for arg in args], options


class FilterFormNode(template.Node):
    def __init__(self, noun: FilterExpression, options: dict[str, FilterExpression], fields: template.NodeList) -> None:
        self.noun, self.options, self.fields = noun, options, fields

    def render(self, context: template.Context) -> str:
        options = {key: value.resolve(context) for key, value in self.options.items()}
        search = options.get("search")
        delay = options.get("delay", 400)
        return _render_with(
            context,
            "policies/partials/filters/form.html",
            {
                "noun": self.noun.resolve(context),
                "trigger": f"change, input delay:{delay}ms from:{search}, submit" if search else "change, submit",
                "button": options.get("button", "Filter"),
                "fields": self.fields.render(context),
            },
        )


@register.tag
def filter_form(parser: Parser, token: Token) -> FilterFormNode:
    """`{% filter_form "requests" search="#f-host" %}fields{% endfilter_form %}`: the GET form that
    refreshes #results as filters change (a search box after a pause: `search` names it, `delay` in
    ms), with a submit button for browsers without JavaScript and, when `filtered`, a way back.
    It submits to the page's own path; `clear_url` in the context overrides where "Clear" leads."""
    (noun,), options = _tag_arguments(parser, token, 1)
    fields = parser.parse(("endfilter_form",))
    parser.delete_first_token()
    return FilterFormNode(noun, options, fields)


class ListTableNode(template.Node):
    def __init__(
        self,
        rows: FilterExpression,
        noun: FilterExpression,
        options: dict[str, FilterExpression],
        table: template.NodeList,
        unfiltered: template.NodeList,
    ) -> None:
        self.rows, self.noun, self.options, self.table, self.unfiltered = rows, noun, options, table, unfiltered

    def render(self, context: template.Context) -> str:
        options = {key: value.resolve(context) for key, value in self.options.items()}
        has_rows = bool(self.rows.resolve(context))
        filtered = context.get("filtered")
        return _render_with(
            context,
            "policies/partials/list_table.html",
            {
                "has_rows": has_rows,
                "noun": self.noun.resolve(context),
                "table_class": options.get("class", "table stack"),
                "table_id": options.get("id", ""),
                "range_id": options.get("range_id", ""),
                "target": options.get("target", "#results"),
                "table": self.table.render(context) if has_rows else "",
                "unfiltered": self.unfiltered.render(context) if not has_rows and not filtered else "",
            },
        )


@register.tag
def list_table(parser: Parser, token: Token) -> ListTableNode:
    """`{% list_table rows "grant" %}<thead>…</thead><tbody>…</tbody>{% no_rows %}…{% endlist_table %}`:
    the table of a list page with its pagination or, without rows, its empty state: the shared
    "No grant matches these filters" when `filtered`, else the page's own words after `no_rows`.
    Options: `class` and `id` of the table, `range_id` of the pagination's range text, `target`: the
    element the pagination refreshes (#results)."""
    (rows, noun), options = _tag_arguments(parser, token, 2)
    table = parser.parse(("no_rows", "endlist_table"))
    unfiltered = template.NodeList()
    if parser.next_token().contents == "no_rows":
        unfiltered = parser.parse(("endlist_table",))
        parser.delete_first_token()
    return ListTableNode(rows, noun, options, table, unfiltered)
