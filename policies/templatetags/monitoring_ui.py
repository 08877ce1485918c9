"""Presentation of egress usage: a daily sparkline drawn as inline SVG on the server (no script, no
inline style, so it passes the CSP), and verdict badges."""

from django import template
from django.utils.html import format_html, format_html_join

from policies.choices import AccessVerdict

register = template.Library()

_VERDICT_LABELS = dict(AccessVerdict.choices)


def sparkline_svg(daily: list[tuple], *, width: int = 240, height: int = 36) -> str:
    """One bar per day, scaled to the busiest day; days without traffic leave a gap above the baseline."""
    counts = [count for _day, count in daily]
    total, peak = sum(counts), max(counts, default=0)
    if daily:
        first, last = daily[0][0], daily[-1][0]
        label = f"{total} connection{'s' if total != 1 else ''} from {first:%Y-%m-%d} to {last:%Y-%m-%d}"
        if peak:
            busiest = max(daily, key=lambda item: item[1])[0]
            label += f", busiest day {busiest:%Y-%m-%d} with {peak}"
    else:
        label = "no data"
    slot = width / max(len(counts), 1)
    bar = max(slot - 1, 1)
    usable = height - 2
    bars = format_html_join(
        "",
        '<rect x="{}" y="{}" width="{}" height="{}"><title>{}: {}</title></rect>',
        (
            (
                f"{index * slot:.1f}",
                f"{height - 1 - usable * count / peak:.1f}",
                f"{bar:.1f}",
                f"{usable * count / peak:.1f}",
                day.isoformat(),
                count,
            )
            for index, (day, count) in enumerate(daily)
            if count and peak
        ),
    )
    return format_html(
        '<svg class="sparkline" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" aria-label="{label}">'
        "<title>{label}</title>"
        '<line x1="0" y1="{base}" x2="{w}" y2="{base}" class="sparkline-base"></line>{bars}</svg>',
        w=width,
        h=height,
        base=height - 0.5,
        label=label,
        bars=bars,
    )


@register.simple_tag
def sparkline(daily, width: int = 240, height: int = 36):
    return sparkline_svg(list(daily), width=width, height=height)


@register.simple_tag
def verdict_badge(verdict: str):
    return format_html('<span class="badge badge-verdict-{}">{}</span>', verdict, _VERDICT_LABELS.get(verdict, verdict))
