"""The access map: who reaches what in one cluster, drawn as server-rendered SVG (links work without
JavaScript). Filters narrow it by team, namespace, destination and edge state; identities come in
pages of PAGE_SIZE, namespace by namespace, with only the destinations their edges reach."""

from urllib.parse import quote, quote_plus, urlencode

from django.core.paginator import Paginator
from django.urls import reverse
from django.views.decorators.http import require_GET

from policies.access_map_layout import layout, svg
from policies.models import Cluster, Team
from policies.permissions import visible_namespaces
from policies.selectors.access_map import STATES, AccessMap, MapEdge, access_map, access_map_narrow
from policies.selectors.clusters import cluster_names
from policies.selectors.teams import team_choices_for
from policies.views.common import PkUrl, login_required, render_page
from policies.views.monitoring import DEFAULT_TRAFFIC_DAYS, TRAFFIC_WINDOWS

PAGE_SIZE = 50


class _Links:
    """Where each part of the map leads: an edge to its grant, its denied attempts or the namespace's
    readiness page (what it reaches without a grant); a namespace or a host to the map narrowed to it."""

    def __init__(self, graph: AccessMap, query: dict) -> None:
        self._grant = PkUrl("grant_detail")
        self._namespace = PkUrl("namespace_detail")
        kept = {key: value for key, value in query.items() if value and key not in ("page", "host", "namespace")}
        # Built once: a page links hundreds of hosts, and urlencode per link cost a third of the view.
        self._map = f"{reverse('access_map')}?{urlencode(kept, doseq=True)}"
        self._namespace_kept = query.get("namespace") or ""
        self._host_kept = query.get("host") or ""
        self._denied = f"{reverse('denied_attempts')}?{urlencode({'cluster': graph.cluster.name})}"
        self._days = urlencode({"days": graph.days})

    def edge(self, edge: MapEdge) -> str:
        if edge.grant_id is not None:
            return self._grant(edge.grant_id)
        if edge.state == "observed" and edge.namespace_id is not None:
            return f"{self._namespace(edge.namespace_id)}?{self._days}"
        query = {"host": edge.host, "principal": edge.principal}
        return f"{self._denied}&{urlencode({k: v for k, v in query.items() if v})}&{self._days}"

    def namespace(self, name: str) -> str:
        host = f"&host={quote_plus(self._host_kept)}" if self._host_kept else ""
        return f"{self._map}&namespace={quote_plus(name)}{host}"

    def host(self, host: str) -> str:
        if not host:
            return ""
        namespace = f"&namespace={quote_plus(self._namespace_kept)}" if self._namespace_kept else ""
        return f"{self._map}{namespace}&host={quote_plus(host)}"


def _clusters_and_default(user) -> tuple[list[str], str]:
    names = cluster_names()
    mine = set(visible_namespaces(user).order_by().values_list("cluster__name", flat=True).distinct())
    return names, next((name for name in names if name in mine), names[0] if names else "")


def _filters(request, clusters: list[str], teams: list[tuple[str, str]]) -> tuple[dict, dict]:
    """The chosen filters, and an error per field for values that cannot be used."""
    get = request.GET
    errors: dict[str, list[str]] = {}
    chosen = {
        "cluster": get.get("cluster") or "",
        "team": get.get("team") or "",
        "namespace": get.get("namespace") or "",
        "host": (get.get("host") or "").strip(),
        "state": get.getlist("state"),
        "days": DEFAULT_TRAFFIC_DAYS,
    }
    if chosen["cluster"] and chosen["cluster"] not in clusters:
        errors["cluster"] = [f"There is no cluster named {chosen['cluster']!r}."]
    if chosen["team"] and chosen["team"] not in {slug for slug, _ in teams}:
        errors["team"] = [f"There is no team {chosen['team']!r} among yours."]
    unknown = [state for state in chosen["state"] if state not in STATES]
    if unknown:
        errors["state"] = [f"Unknown state {unknown[0]!r}; choose among {', '.join(STATES)}."]
    raw_days = get.get("days")
    if raw_days:
        if raw_days.isdigit() and int(raw_days) in dict(TRAFFIC_WINDOWS):
            chosen["days"] = int(raw_days)
        else:
            errors["days"] = [f"Choose a window of {', '.join(str(d) for d, _ in TRAFFIC_WINDOWS)} days."]
    return chosen, errors


@login_required
@require_GET
def access_map_page(request):
    user = request.user
    clusters, default_cluster = _clusters_and_default(user)
    teams = team_choices_for(user)
    chosen, errors = _filters(request, clusters, teams)
    cluster_name = chosen["cluster"] or default_cluster
    graph = page = drawing = picture = None
    if cluster_name and not errors:
        cluster = Cluster.objects.only("id", "name", "trust_domain").get(name=cluster_name)
        team = Team.objects.get(slug=chosen["team"]) if chosen["team"] else None
        whole = access_map(user=user, cluster=cluster, team=team, days=chosen["days"])
        graph = access_map_narrow(whole, namespace=chosen["namespace"], host=chosen["host"], states=chosen["state"])
        page = Paginator(graph.sources, PAGE_SIZE).get_page(request.GET.get("page"))
        keys = {source.key for source in page.object_list}
        edges = [edge for edge in graph.edges if edge.source in keys]
        query = {**{k: v for k, v in chosen.items() if k != "days"}, "cluster": cluster_name, "days": chosen["days"]}
        drawing = layout(list(page.object_list), edges, _Links(graph, query))
        picture = svg(drawing, label=f"Access map of cluster {cluster.name}")
        namespaces = sorted({source.namespace for source in whole.sources if source.namespace})
    else:
        namespaces = []
    context = {
        "graph": graph,
        "page_obj": page,
        "drawing": drawing,
        "svg": picture,
        "clusters": clusters,
        "cluster_name": cluster_name,
        "teams": teams,
        "namespaces": namespaces,
        "states": STATES,
        "windows": TRAFFIC_WINDOWS,
        "chosen": chosen,
        "filter_errors": errors,
        "filtered": any(chosen[key] for key in ("team", "namespace", "host", "state")),
        # Clearing the filters keeps the cluster shown (the filter form and the empty state use it).
        "clear_url": f"{reverse('access_map')}?cluster={quote(cluster_name, safe='/')}",
    }
    return render_page(request, "policies/access_map.html", context, partial="results", status=400 if errors else 200)
