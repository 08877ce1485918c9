"""Where everything goes on the access map's SVG: pure arithmetic over one page of the map (no
database, no clock), so the template only prints coordinates.

Identities sit in the left column under their namespace, destinations in the right column sorted by
their domain read backwards (so `api.stripe.com` and `files.stripe.com` are neighbours); the shorter
column is centred against the longer one. Each edge is a cubic curve between the two dots; edges
between the same two nodes (several ports, or a grant and a blocked attempt) bow apart in the middle.
"""

from dataclasses import dataclass
from typing import Protocol

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from policies.selectors.access_map import STATES, MapEdge, MapSource

WIDTH = 1000
ROW = 22
TOP = 44  # below the column titles
BOTTOM = 16
LEFT_DOT = 330
RIGHT_DOT = 670
LEFT_TEXT = 24  # identities; namespace headers start at 8
RIGHT_TEXT = 682
LEFT_CHARS = 40
RIGHT_CHARS = 42
BOW = 28


class Links(Protocol):
    def edge(self, edge: MapEdge) -> str: ...
    def namespace(self, name: str) -> str: ...
    def host(self, host: str) -> str: ...


@dataclass(frozen=True)
class Row:
    y: int
    label: str
    title: str
    url: str
    kind: str  # "namespace", "identity", "unregistered" or "destination"


@dataclass(frozen=True)
class Curve:
    path: str
    state: str
    url: str
    title: str


@dataclass(frozen=True)
class Layout:
    width: int
    height: int
    left: list[Row]
    right: list[Row]
    curves: list[Curve]
    dots_left: list[tuple[int, int]]  # (x, y) of identity dots
    dots_right: list[tuple[int, int]]


def _head(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _tail(text: str, limit: int) -> str:
    """Hosts keep their end: the registrable domain says more than the first labels."""
    return text if len(text) <= limit else "…" + text[-(limit - 1) :]


def _domain_order(host: str) -> tuple:
    return tuple(reversed(host.split("."))), host


def _identity(source: MapSource) -> str:
    return f"{source.namespace}/{source.name}" if source.namespace else source.name


def _destination(edge: MapEdge) -> str:
    host = edge.host or "unknown host"
    return f"{host}:{edge.port}" if edge.port else host


def edge_title(edge: MapEdge, source: MapSource) -> str:
    """What a hover (and a screen reader) says about an edge."""
    where = f"{_identity(source)} → {_destination(edge)}" + (f" ({edge.protocol})" if edge.protocol else "")
    if edge.grant_id is not None:
        used = f", last used {edge.last_seen:%Y-%m-%d}" if edge.last_seen else ", never used"
        return (
            f"Grant #{edge.grant_id} ({STATES[edge.state].lower()}): {where}, expires {edge.expires_at:%Y-%m-%d}{used}"
        )
    noun = "attempt" if edge.state == "blocked" else "connection"
    count = f"{edge.count} {noun}{'' if edge.count == 1 else 's'}"
    last = f", last {edge.last_seen:%Y-%m-%d %H:%M} UTC" if edge.last_seen else ""
    return f"{STATES[edge.state]}: {where}, {count}{last}"


def layout(sources: list[MapSource], edges: list[MapEdge], links: Links) -> Layout:
    left: list[Row] = []
    y_of_source: dict[str, int] = {}
    namespace = None
    for source in sources:
        if source.namespace != namespace:
            namespace = source.namespace
            label = namespace or "unknown namespace"
            url = links.namespace(namespace) if namespace else ""
            left.append(Row(0, _head(label, LEFT_CHARS), f"Namespace {label}", url, "namespace"))
        kind = "identity" if source.registered else "unregistered"
        suffix = "" if source.registered else " (not registered)"
        left.append(Row(0, _head(source.name, LEFT_CHARS - 2), f"{source.principal}{suffix}", "", kind))
        y_of_source[source.key] = len(left) - 1
    hosts = sorted({edge.host for edge in edges}, key=_domain_order)
    rows = max(len(left), len(hosts), 1)
    left_offset = TOP + (rows - len(left)) * ROW // 2
    right_offset = TOP + (rows - len(hosts)) * ROW // 2
    left = [Row(left_offset + i * ROW, r.label, r.title, r.url, r.kind) for i, r in enumerate(left)]
    y_left = {key: left_offset + index * ROW for key, index in y_of_source.items()}
    y_right = {host: right_offset + i * ROW for i, host in enumerate(hosts)}
    right = [
        Row(y, _tail(host or "unknown host", RIGHT_CHARS), host or "unknown host", links.host(host), "destination")
        for host, y in y_right.items()
    ]
    by_key = {source.key: source for source in sources}
    pairs: dict[tuple[str, str], list[MapEdge]] = {}
    for edge in edges:
        pairs.setdefault((edge.source, edge.host), []).append(edge)
    curves = []
    for (key, host), group in pairs.items():
        y1, y2 = y_left[key] - 4, y_right[host] - 4
        for index, edge in enumerate(sorted(group, key=lambda e: (e.grant_id is None, e.state, e.port or 0))):
            bow = round((index - (len(group) - 1) / 2) * BOW)
            mid = (LEFT_DOT + RIGHT_DOT) // 2
            path = f"M{LEFT_DOT},{y1} C{mid},{y1 + bow} {mid},{y2 + bow} {RIGHT_DOT},{y2}"
            curves.append(Curve(path, edge.state, links.edge(edge), edge_title(edge, by_key[key])))
    return Layout(
        width=WIDTH,
        height=TOP + rows * ROW + BOTTOM,
        left=left,
        right=right,
        curves=curves,
        dots_left=[(LEFT_DOT, y - 4) for y in y_left.values()],
        dots_right=[(RIGHT_DOT, y - 4) for y in y_right.values()],
    )


def _text(x: int, row: Row, css: str) -> str:
    text = f'<text x="{x}" y="{row.y}" class="{css}"><title>{escape(row.title)}</title>{escape(row.label)}</text>'
    return f'<a href="{escape(row.url)}" class="map-node">{text}</a>' if row.url else text


def svg(drawing: Layout, *, label: str) -> SafeString:
    """The map as one SVG element. Built here rather than in a template loop: a full page has a
    thousand elements, and the template engine spent half of the page's time on them. Every text
    and URL goes through `escape`."""
    parts = [
        f'<svg class="access-map" viewBox="0 0 {drawing.width} {drawing.height}" width="{drawing.width}" '
        f'height="{drawing.height}" role="group" aria-label="{escape(label)}">',
        '<text x="8" y="20" class="map-heading">Workload identities</text>',
        f'<text x="{drawing.width - 8}" y="20" class="map-heading" text-anchor="end">Destinations</text>',
    ]
    for curve in drawing.curves:
        parts.append(
            f'<a href="{escape(curve.url)}" class="map-edge"><title>{escape(curve.title)}</title>'
            f'<path d="{curve.path}" class="edge-hit"/>'
            f'<path d="{curve.path}" class="edge edge-{curve.state}" data-state="{curve.state}"/></a>'
        )
    for x, y in (*drawing.dots_left, *drawing.dots_right):
        parts.append(f'<circle cx="{x}" cy="{y}" r="3.5" class="map-dot"/>')
    for row in drawing.left:
        if row.kind == "namespace":
            parts.append(_text(8, row, "map-namespace"))
        else:
            parts.append(_text(LEFT_TEXT, row, f"map-label map-{row.kind}"))
    parts.extend(_text(RIGHT_TEXT, row, "map-label") for row in drawing.right)
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every interpolated text is escaped above
