"""Render 10,000 grants (2,000 hosts × 500 namespaces, mixed protocols) and print one JSON line.

    .venv/bin/python bench/render.py [--repeat N] [--no-namespace-list] [--mode istio|istio-ambient|cilium|all]

Every namespace with grants is listed with its state (one in five observed, the rest enforced), plus
100 onboarded namespaces without grants (half enforced, half observed), as the database gives them;
`--no-namespace-list` renders the grants alone (every namespace with grants then enforced, none
without), the input before namespaces had states.

`seconds` is the best wall time of N renders (the input is built beforehand, not timed);
`cpu_seconds` the best process CPU time of the same renders, which other load on the machine
inflates far less than wall time. `lower_bound`
is the fewest objects any correct rendering needs, counted from the input alone: per host five
(ServiceEntry, Gateway, gateway DestinationRule, VirtualService, AuthorizationPolicy) plus one
origination DestinationRule for hosts reached with TLS origination and one ServiceEntry for a
wildcard's serving host; per namespace a Sidecar and a Telemetry, plus a NetworkPolicy when enforced;
per cluster the gateway's NetworkPolicy and the Telemetry. `objects` must equal it: nothing is
rendered per grant.
`--validate N` also checks every Nth object strictly (CRD schema, CEL rules, webhook rules,
kubernetes-validate; tests/support/manifest_validation.py) and adds `validated` and `invalid`.

`--mode` picks the cluster's enforcement mode (default istio); `all` renders the same grants in every
mode, round after round in one process (so the machine's load hits each alike), prints one line per
mode and a last line with each mode's best CPU and wall time relative to istio's. In mode cilium the
lower bound is one CiliumNetworkPolicy per app namespace, and the http-originate grants (10 % of
hosts) are unrenderable by design. In mode istio-ambient (Istio 1.30): per host a ServiceEntry and
an AuthorizationPolicy (a wildcard without expanded hosts is one DYNAMIC_DNS host; serving hosts are
not used), one origination DestinationRule per host reached with TLS origination; per enforced
namespace a NetworkPolicy; per cluster the waypoint, its allow-nothing policy, its NetworkPolicy and
its Telemetry.
"""

import argparse
import json
import os
import random
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from policies.manifests import ClusterSettings, GrantSpec, NamespaceSpec, RenderInput, render_cluster  # noqa: E402

HOSTS, NAMESPACES, GRANTS = 2000, 500, 10_000
EMPTY_NAMESPACES = 100  # onboarded, no grant yet
NOW = datetime(2026, 1, 1, tzinfo=UTC)


MODES = ("istio", "istio-ambient", "cilium")


def build_input(seed: int = 7, *, list_namespaces: bool = True, mode: str = "istio") -> tuple[RenderInput, int]:
    rng = random.Random(seed)
    serving = tuple((f"*.cdn{i}.example.net", f"www.cdn{i}.example.net") for i in range(40))
    cluster = ClusterSettings(name="bench", wildcard_serving_hosts=serving, mode=mode, istio_version="1.30")
    # Each host has one protocol: 70% tls, 10% http-originate, 5% http, 10% tcp pools, 5% wildcards.
    hosts: list[tuple[str, int, str]] = []
    for index in range(HOSTS):
        draw = index % 20
        if draw < 14:
            hosts.append((f"api{index}.svc{index % 97}.example.com", 443, "tls"))
        elif draw < 16:
            hosts.append((f"legacy{index}.example.org", 443, "http-originate"))
        elif draw == 16:
            hosts.append((f"plain{index}.example.org", 80, "http"))
        elif draw < 19:
            hosts.append((f"10.{index // 256}.{index % 256}.0/29", 5432, "tcp"))
        else:
            hosts.append((f"*.cdn{index % 40}.example.net" if index < 800 else f"*.w{index}.example.io", 443, "tls"))
    namespaces = [f"team{index:03d}" for index in range(NAMESPACES)]
    grants, seen = [], set()
    # Every host and every namespace is used at least once; the rest is random.
    pairs = [(host, namespaces[index % NAMESPACES]) for index, host in enumerate(hosts)]
    while len(pairs) < GRANTS:
        pairs.append((rng.choice(hosts), rng.choice(namespaces)))
    for grant_id, ((host, port, protocol), namespace) in enumerate(pairs, start=1):
        account = f"sa{rng.randrange(4)}"
        key = (host, namespace, account)
        if key in seen:
            account = f"sa-extra{grant_id}"
        seen.add((host, namespace, account))
        expanded = ()
        if host.startswith("*.w"):
            expanded = (f"a.{host[2:]}", f"b.{host[2:]}")
        grants.append(GrantSpec(grant_id, namespace, account, host, port, protocol, expanded_hosts=expanded))
    specs: tuple[NamespaceSpec, ...] = ()
    if list_namespaces:
        specs = tuple(
            NamespaceSpec(name, "observe" if index % 5 == 4 else "enforce") for index, name in enumerate(namespaces)
        ) + tuple(
            NamespaceSpec(f"empty{index:03d}", "observe" if index % 2 else "enforce")
            for index in range(EMPTY_NAMESPACES)
        )
    data = RenderInput(cluster=cluster, grants=tuple(grants), now=NOW, namespaces=specs)
    bounds = {"cilium": cilium_lower_bound, "istio-ambient": ambient_lower_bound}
    bound = bounds[mode](grants, specs) if mode in bounds else lower_bound(cluster, grants, specs)
    return data, bound


def cilium_lower_bound(grants: list[GrantSpec], specs: tuple[NamespaceSpec, ...]) -> int:
    """One CiliumNetworkPolicy per app namespace: listed, or with grants."""
    return len({grant.namespace for grant in grants} | {spec.name for spec in specs})


def ambient_lower_bound(grants: list[GrantSpec], specs: tuple[NamespaceSpec, ...]) -> int:
    routed, originating = set(), set()
    for grant in grants:
        for host in grant.expanded_hosts or (grant.host,):
            routed.add((host, grant.port) if grant.protocol == "tcp" else host)
            if grant.protocol == "http-originate":
                originating.add(host)
    states = {grant.namespace: "enforce" for grant in grants} | {spec.name: spec.enforcement for spec in specs}
    enforced = sum(state == "enforce" for state in states.values())
    return 2 * len(routed) + len(originating) + enforced + 4  # waypoint, its policy, NetworkPolicy, Telemetry


def lower_bound(cluster: ClusterSettings, grants: list[GrantSpec], specs: tuple[NamespaceSpec, ...]) -> int:
    serving = dict(cluster.wildcard_serving_hosts)
    routed, originating, serving_only = set(), set(), set()
    for grant in grants:
        targets = grant.expanded_hosts if grant.expanded_hosts and grant.host not in serving else (grant.host,)
        for host in targets:
            routed.add((host, grant.port) if grant.protocol == "tcp" else host)
            if grant.protocol == "http-originate":
                originating.add(serving.get(host, host))
            if host in serving:
                serving_only.add(serving[host])
    states = {grant.namespace: "enforce" for grant in grants} | {spec.name: spec.enforcement for spec in specs}
    per_namespace = int(cluster.manage_sidecars) + int(bool(cluster.source_access_log_provider))
    namespace_objects = per_namespace * len(states) + sum(state == "enforce" for state in states.values())
    cluster_wide = 1 + (1 if cluster.access_log_provider else 0)
    return 5 * len(routed) + len(originating) + len(serving_only - routed) + namespace_objects + cluster_wide


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--validate", type=int, default=0, metavar="N", help="validate every Nth object")
    parser.add_argument("--no-namespace-list", action="store_true", help="grants only, no namespace states")
    parser.add_argument("--mode", choices=[*MODES, "all"], default="istio", help="the cluster's enforcement mode")
    args = parser.parse_args()
    modes = MODES if args.mode == "all" else (args.mode,)
    inputs = {mode: build_input(list_namespaces=not args.no_namespace_list, mode=mode) for mode in modes}
    best = dict.fromkeys(modes, float("inf"))
    best_cpu = dict.fromkeys(modes, float("inf"))
    results = dict.fromkeys(modes)
    for _ in range(args.repeat):
        for mode in modes:  # interleaved: each round renders every mode once
            results[mode] = None  # free the previous run's objects before the clock starts, not inside it
            started, started_cpu = time.perf_counter(), time.process_time()
            results[mode] = render_cluster(inputs[mode][0])
            best[mode] = min(best[mode], time.perf_counter() - started)
            best_cpu[mode] = min(best_cpu[mode], time.process_time() - started_cpu)
    for mode in modes:
        data, bound = inputs[mode]
        result = results[mode]
        line = {
            "mode": mode,
            "grants": len(data.grants),
            "namespaces": len(data.namespaces),
            "objects": len(result.objects),
            "lower_bound": bound,
            "seconds": round(best[mode], 3),
            "cpu_seconds": round(best_cpu[mode], 3),
            "unrenderable": len(result.unrenderable),
        }
        if args.validate:
            line.update(_validate(result.objects[:: args.validate]))
        print(json.dumps(line))
    if len(modes) > 1:
        relative = {
            "cpu_relative_to_istio": {m: round(best_cpu[m] / best_cpu["istio"], 2) for m in modes},
            "wall_relative_to_istio": {m: round(best[m] / best["istio"], 2) for m in modes},
        }
        print(json.dumps(relative))


def _validate(objects: list[dict]) -> dict:
    from tests.support.manifest_validation import ManifestValidator

    crds = os.environ.get("EGRESSUI_ISTIO_CRDS", str(ROOT.parent / "shared" / "istio" / "crd-all.gen.yaml"))
    cilium = os.environ.get("EGRESSUI_CILIUM_CRDS", str(ROOT.parent / "shared" / "cilium" / "cilium-crds.yaml"))
    gateway_api = os.environ.get(
        "EGRESSUI_GATEWAY_API_CRDS", str(ROOT.parent / "shared" / "gateway-api" / "standard-install.yaml")
    )
    validator = ManifestValidator(crds, gateway_api, *([cilium] if Path(cilium).is_file() else []))
    invalid = [obj["metadata"]["name"] for obj in objects if validator.errors(obj)]
    return {"validated": len(objects), "invalid": len(invalid)}


if __name__ == "__main__":
    main()
