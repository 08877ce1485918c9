"""ztunnel's connection log (istio-ambient clusters; docs/monitoring.md "Ambient").

ztunnel logs one `connection complete` line per connection with the source's SPIFFE identity
(`src.identity`, from its own mTLS certificate) and the destination (`dst.addr`; `dst.hbone_addr`,
`dst.service` and `dst.workload` when the destination is known to the mesh). Its default format is
text (`TIME\\tLEVEL\\taccess\\tconnection complete\\tkey=value …`), `LOG_FORMAT=json` gives one JSON
object with the same dotted keys; both are read.

What egressui takes from it is what the waypoint cannot see: connections that never reached it. An
outbound connection to an address no ServiceEntry or workload claims went past the mesh (ztunnel
passes it through): `observed` when it completed, `blocked_at_source` when it timed out connecting
(the namespace's egress NetworkPolicy drops it silently), an upstream failure for any other error.
Connections into the mesh (HBONE to the waypoint or to pods, known services) are skipped (the parser
returns no event, as for a Hubble flow that is not egress): the waypoint logs the egress ones itself,
with the host name, and counting them twice would lie.
"""

import re
from datetime import datetime, timedelta

from policies.accesslog.classify import BLOCKED_AT_SOURCE, OBSERVED, UPSTREAM_FAILURE

ZTUNNEL_SCOPE = "access"
# `connection timed out` (connect), `deadline has elapsed` (ztunnel's own connect timeout): a SYN
# nobody answered, which is what a NetworkPolicy drop looks like from inside the pod.
_TIMEOUT_ERRORS = ("timed out", "deadline has elapsed")
_TEXT_LINE = re.compile(r"^(\S+)\t(\w+)\taccess\t([^\t]+)\t(.*)$")
_PAIR = re.compile(r'([\w.]+)=("(?:[^"\\]|\\.)*"|\S*)')
_DURATION = re.compile(r"^(\d+)ms$")


class Skipped(Exception):
    """A well-formed line that is not about egress past the mesh (see the module docstring); the
    parser turns it into no event."""


def is_ztunnel(record: dict) -> bool:
    return "src.addr" in record or "src.identity" in record or record.get("scope") == ZTUNNEL_SCOPE


def parse_text(line: str) -> dict | None:
    """ztunnel's text format → the same dict as its JSON format, or None if the line is not one."""
    match = _TEXT_LINE.match(line)
    if match is None:
        return None
    time, level, message, rest = match.groups()
    record: dict = {"time": time, "level": level, "scope": ZTUNNEL_SCOPE, "message": message}
    for key, value in _PAIR.findall(rest):
        if value.startswith('"'):
            value = value[1:-1].replace('\\"', '"').replace("\\\\", "\\")
        elif value.isdigit():
            value = int(value)
        record[key] = value
    return record


def start_time(end: datetime, duration: object) -> datetime:
    """ztunnel stamps a line when the connection ends; egressui counts connections by when they began."""
    match = _DURATION.match(duration) if isinstance(duration, str) else None
    return end - timedelta(milliseconds=int(match.group(1))) if match else end


def verdict(record: dict, error: str) -> tuple[str, str]:
    """(verdict, detail) of an outbound connection past the mesh; raises Skipped for anything else."""
    if record.get("direction") != "outbound":
        raise Skipped("not an outbound connection")
    if any(record.get(key) not in (None, "", "-") for key in ("dst.hbone_addr", "dst.service", "dst.workload")):
        raise Skipped("a destination in the mesh")
    if not error:
        return OBSERVED, "ztunnel passthrough"
    detail = f"ztunnel: {error}"
    if any(marker in error for marker in _TIMEOUT_ERRORS):
        return BLOCKED_AT_SOURCE, detail
    return UPSTREAM_FAILURE, detail
