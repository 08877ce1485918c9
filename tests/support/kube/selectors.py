"""Label and field selectors of list requests, as the API server parses them."""

import re
from collections.abc import Callable

Requirement = Callable[[dict], bool]  # labels → matches


def parse_label_selector(selector: str) -> list[Requirement]:
    """The label selector grammar of the API server: `k=v`, `k==v`, `k!=v`, `k in (a,b)`, `k notin (a)`,
    `k`, `!k`, joined by commas (commas inside parentheses belong to the set)."""
    requirements: list[Requirement] = []
    for part in re.split(r",(?![^()]*\))", selector or ""):
        part = part.strip()
        if not part:
            continue
        if match := re.fullmatch(r"(\S+)\s+(in|notin)\s+\(([^)]*)\)", part):
            key, op, values = match[1], match[2], {v.strip() for v in match[3].split(",") if v.strip()}
            if op == "in":
                requirements.append(lambda labels, k=key, vs=values: labels.get(k) in vs)
            else:
                requirements.append(lambda labels, k=key, vs=values: labels.get(k) not in vs)
        elif match := re.fullmatch(r"([^!=\s]+)\s*!=\s*(\S*)", part):
            requirements.append(lambda labels, k=match[1], v=match[2]: labels.get(k) != v)
        elif match := re.fullmatch(r"([^!=\s]+)\s*==?\s*(\S*)", part):
            requirements.append(lambda labels, k=match[1], v=match[2]: labels.get(k) == v)
        elif match := re.fullmatch(r"!(\S+)", part):
            requirements.append(lambda labels, k=match[1]: k not in labels)
        elif re.fullmatch(r"\S+", part):
            requirements.append(lambda labels, k=part: k in labels)
        else:
            raise ValueError(f"unable to parse requirement: {part!r}")
    return requirements


def parse_field_selector(selector: str) -> dict[str, str]:
    """`metadata.name=x,metadata.namespace=y` → {field: value} (equality only, as egressui uses it)."""
    pairs = (part.partition("=") for part in selector.split(",") if "=" in part)
    return {key: value for key, _, value in pairs}
