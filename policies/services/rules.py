"""Writes on approval rules, their steps and the domain lists they match on (platform configuration).
A rule decides at submit time who must approve a request, so every edit is checked and audited like
an approval itself."""

from typing import Any

from django.db import transaction

from policies.actors import Actor
from policies.models import ApprovalRule, ApprovalRuleStep, DomainList
from policies.permissions import can_manage_rules
from policies.services.config import config_create, config_delete, config_update, require

RULE_FIELDS = (
    "name",
    "description",
    "priority",
    "enabled",
    "environments",
    "domain_list",
    "wildcard",
    "protocols",
    "min_duration_days",
    "outcome",
    "deny_reason",
)
STEP_FIELDS = ("rule", "position", "name", "team", "required_approvals")
DOMAIN_LIST_FIELDS = ("name", "description", "entries")
DENIED = "Only platform admins can change approval rules and domain lists."


def _check(actor: Actor) -> None:
    # actor None: the operator on the command line (seed_demo, management commands).
    require(actor is None or can_manage_rules(actor), DENIED)


@transaction.atomic
def approval_rule_create(*, actor: Actor, **fields: Any) -> ApprovalRule:
    """Add a rule; it applies to requests submitted from now on (open ones keep their steps)."""
    _check(actor)
    return config_create(actor=actor, model=ApprovalRule, fields=fields, allowed=RULE_FIELDS)


@transaction.atomic
def approval_rule_update(*, rule: ApprovalRule, actor: Actor, **fields: Any) -> ApprovalRule:
    _check(actor)
    return config_update(actor=actor, instance=rule, fields=fields, allowed=RULE_FIELDS)


@transaction.atomic
def approval_rule_delete(*, rule: ApprovalRule, actor: Actor) -> None:
    """Remove a rule with its steps; the event keeps the rule and the steps it required."""
    _check(actor)
    for step in rule.steps.all():
        approval_rule_step_delete(step=step, actor=actor)
    config_delete(actor=actor, instance=rule, fields=RULE_FIELDS)


@transaction.atomic
def approval_rule_step_create(*, rule: ApprovalRule, actor: Actor, **fields: Any) -> ApprovalRuleStep:
    """Require one more step (`team` blank: an approver of the requesting team)."""
    _check(actor)
    return config_create(actor=actor, model=ApprovalRuleStep, fields={**fields, "rule": rule}, allowed=STEP_FIELDS)


@transaction.atomic
def approval_rule_step_update(*, step: ApprovalRuleStep, actor: Actor, **fields: Any) -> ApprovalRuleStep:
    _check(actor)
    return config_update(actor=actor, instance=step, fields=fields, allowed=STEP_FIELDS)


@transaction.atomic
def approval_rule_step_delete(*, step: ApprovalRuleStep, actor: Actor) -> None:
    _check(actor)
    config_delete(actor=actor, instance=step, fields=STEP_FIELDS)


@transaction.atomic
def domain_list_create(*, actor: Actor, **fields: Any) -> DomainList:
    _check(actor)
    return config_create(actor=actor, model=DomainList, fields=fields, allowed=DOMAIN_LIST_FIELDS)


@transaction.atomic
def domain_list_update(*, domain_list: DomainList, actor: Actor, **fields: Any) -> DomainList:
    _check(actor)
    return config_update(actor=actor, instance=domain_list, fields=fields, allowed=DOMAIN_LIST_FIELDS)


@transaction.atomic
def domain_list_delete(*, domain_list: DomainList, actor: Actor) -> None:
    """A list a rule still matches on is refused (the rule would silently match nothing)."""
    _check(actor)
    config_delete(actor=actor, instance=domain_list, fields=DOMAIN_LIST_FIELDS)
