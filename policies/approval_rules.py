"""Evaluation of approval rules at submit time.

Each (cluster environment, destination) pair of a request is decided by the first enabled rule,
in priority order, whose every set condition matches it; pairs no rule matches need one approver
of the requesting team. The request is denied if any pair is denied, approved automatically only
if every pair is, and otherwise needs the union of the steps asked for (same team: the larger
number of approvals), the requesting team's step first.
"""

from dataclasses import dataclass, field

from policies.choices import RuleOutcome

DEFAULT_STEP_NAME = "Approver of the requesting team"


@dataclass(frozen=True)
class Item:
    environment: str
    host: str
    protocol: str
    duration_days: int


@dataclass
class StepPlan:
    name: str
    team_id: int
    required_approvals: int
    rule_names: list[str] = field(default_factory=list)


@dataclass
class Plan:
    outcome: str
    deny_reason: str = ""
    deciding_rules: list[str] = field(default_factory=list)
    steps: list[StepPlan] = field(default_factory=list)


def host_matches(host: str, pattern: str) -> bool:
    """`*.example.com` matches its subdomains (and a wildcard host at or below it); others match exactly."""
    if pattern.startswith("*."):
        suffix = pattern[1:]
        return host.endswith(suffix) and host != suffix[1:]
    return host == pattern


def rule_matches(rule, item: Item, patterns: list[str] | None) -> bool:
    if rule.environments and item.environment not in rule.environments:
        return False
    if rule.protocols and item.protocol not in rule.protocols:
        return False
    if rule.wildcard is not None and rule.wildcard != item.host.startswith("*."):
        return False
    if rule.min_duration_days is not None and item.duration_days < rule.min_duration_days:
        return False
    if patterns is not None and not any(host_matches(item.host, pattern) for pattern in patterns):
        return False
    return True


def plan_approval(*, rules, items: list[Item], requesting_team_id: int) -> Plan:
    """`rules`: enabled ApprovalRule rows ordered by priority, with `steps` and `domain_list` loaded."""
    patterns = {rule.pk: rule.domain_list.patterns() if rule.domain_list_id else None for rule in rules}
    steps: dict[int, StepPlan] = {}
    deciding: list[str] = []
    auto_only = True
    for item in items:
        rule = next((r for r in rules if rule_matches(r, item, patterns[r.pk])), None)
        if rule is not None and rule.name not in deciding:
            deciding.append(rule.name)
        if rule is not None and rule.outcome == RuleOutcome.DENY:
            reason = rule.deny_reason or f"Denied by rule '{rule.name}'."
            return Plan(RuleOutcome.DENY, deny_reason=f"{item.host}: {reason}", deciding_rules=[rule.name])
        if rule is not None and rule.outcome == RuleOutcome.AUTO_APPROVE:
            continue
        auto_only = False
        wanted = (
            [(DEFAULT_STEP_NAME, requesting_team_id, 1, "default")]
            if rule is None or not rule.steps.all()
            else [(s.name, s.team_id or requesting_team_id, s.required_approvals, rule.name) for s in rule.steps.all()]
        )
        for name, team_id, required, rule_name in wanted:
            plan = steps.get(team_id)
            if plan is None:
                steps[team_id] = StepPlan(name, team_id, required, [rule_name])
            else:
                plan.required_approvals = max(plan.required_approvals, required)
                if rule_name not in plan.rule_names:
                    plan.rule_names.append(rule_name)
    if auto_only:
        return Plan(RuleOutcome.AUTO_APPROVE, deciding_rules=deciding)
    ordered = sorted(steps.values(), key=lambda s: (s.team_id != requesting_team_id,))
    return Plan(RuleOutcome.REQUIRE_STEPS, deciding_rules=deciding, steps=ordered)
