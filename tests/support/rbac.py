"""RBAC as the Kubernetes API server evaluates it, for the emulator (tests/support/kube/).

Roles, ClusterRoles and their bindings are loaded from YAML documents (the shipped deploy/kubernetes
RBAC, never a list derived from egressui's own code); bearer tokens map to identities (a user name and
its groups). `RbacPolicy.allows` is the RBAC authoriser's decision: a ClusterRoleBinding grants its
role's rules everywhere, a RoleBinding only in its namespace; a rule matches when its API group,
resource, verb (and resource name, if it lists any) match, `*` matching anything. Nothing is granted
by default: a real cluster also binds `system:basic-user` and `system:discovery` to every authenticated
user; the emulator answers discovery for authenticated users and leaves the rest to the loaded YAML,
so a role must be self-sufficient to pass.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

AUTHENTICATED = "system:authenticated"


@dataclass(frozen=True)
class Identity:
    user: str
    groups: tuple[str, ...] = (AUTHENTICATED,)


def service_account(namespace: str, name: str) -> Identity:
    """The identity of a service account's token, as the API server authenticates it."""
    return Identity(
        f"system:serviceaccount:{namespace}:{name}",
        ("system:serviceaccounts", f"system:serviceaccounts:{namespace}", AUTHENTICATED),
    )


@dataclass(frozen=True)
class Rule:
    api_groups: frozenset[str]
    resources: frozenset[str]
    verbs: frozenset[str]
    resource_names: frozenset[str] = frozenset()

    @classmethod
    def of(cls, rule: dict) -> "Rule":
        if rule.get("nonResourceURLs"):
            raise ValueError("nonResourceURLs rules are not supported by the emulator")
        return cls(
            frozenset(rule.get("apiGroups") or ()),
            frozenset(rule.get("resources") or ()),
            frozenset(rule.get("verbs") or ()),
            frozenset(rule.get("resourceNames") or ()),
        )

    def matches(self, verb: str, group: str, resource: str, name: str | None) -> bool:
        if "*" not in self.verbs and verb not in self.verbs:
            return False
        if "*" not in self.api_groups and group not in self.api_groups:
            return False
        _, _, subresource = resource.partition("/")
        if not ({"*", resource} & self.resources or (subresource and f"*/{subresource}" in self.resources)):
            return False
        # A rule with resourceNames never matches a request without a name (list, create).
        return not self.resource_names or (name is not None and name in self.resource_names)


@dataclass
class RbacPolicy:
    cluster_roles: dict[str, list[Rule]] = field(default_factory=dict)
    roles: dict[tuple[str, str], list[Rule]] = field(default_factory=dict)  # (namespace, name)
    # (namespace or None for cluster-wide, role kind, role name, subjects)
    bindings: list[tuple[str | None, str, str, tuple[tuple[str, str], ...]]] = field(default_factory=list)

    @classmethod
    def from_documents(cls, documents: Iterable[dict], *, namespace: str = "default") -> "RbacPolicy":
        """Load every Role, ClusterRole, RoleBinding and ClusterRoleBinding among `documents` (other kinds
        are ignored); `namespace` is where namespaced objects without one live (as `kubectl apply -n`)."""
        policy = cls()
        for doc in documents:
            if not doc or doc.get("apiVersion") != "rbac.authorization.k8s.io/v1":
                continue
            meta = doc["metadata"]
            kind = doc["kind"]
            if kind == "ClusterRole":
                policy.cluster_roles[meta["name"]] = [Rule.of(rule) for rule in doc.get("rules") or ()]
            elif kind == "Role":
                key = (meta.get("namespace") or namespace, meta["name"])
                policy.roles[key] = [Rule.of(rule) for rule in doc.get("rules") or ()]
            elif kind in ("ClusterRoleBinding", "RoleBinding"):
                bound_in = None if kind == "ClusterRoleBinding" else meta.get("namespace") or namespace
                subjects = tuple(_subject(subject, bound_in) for subject in doc.get("subjects") or ())
                policy.bindings.append((bound_in, doc["roleRef"]["kind"], doc["roleRef"]["name"], subjects))
        return policy

    @classmethod
    def from_file(cls, path: Path | str, *, namespace: str = "default") -> "RbacPolicy":
        return cls.from_documents(yaml.safe_load_all(Path(path).read_text()), namespace=namespace)

    def rules_for(self, identity: Identity, namespace: str | None) -> list[Rule]:
        """Every rule that applies to `identity` for a request in `namespace` (None: cluster scope)."""
        principals = {("User", identity.user), *(("Group", group) for group in identity.groups)}
        rules: list[Rule] = []
        for bound_in, role_kind, role_name, subjects in self.bindings:
            if bound_in is not None and bound_in != namespace:
                continue
            if not principals & set(subjects):
                continue
            if role_kind == "ClusterRole":
                rules.extend(self.cluster_roles.get(role_name, ()))
            else:
                rules.extend(self.roles.get((bound_in, role_name), ()))
        return rules

    def allows(
        self, identity: Identity, *, verb: str, group: str, resource: str, namespace: str | None, name: str | None
    ) -> bool:
        return any(rule.matches(verb, group, resource, name) for rule in self.rules_for(identity, namespace))


def _subject(subject: dict, bound_in: str | None) -> tuple[str, str]:
    kind = subject["kind"]
    if kind == "ServiceAccount":
        namespace = subject.get("namespace") or bound_in
        if not namespace:
            raise ValueError(f"service account subject {subject['name']} needs a namespace")
        return ("User", f"system:serviceaccount:{namespace}:{subject['name']}")
    if kind not in ("User", "Group"):
        raise ValueError(f"unknown subject kind {kind}")
    return (kind, subject["name"])


def forbidden_message(
    identity: Identity, *, verb: str, group: str, resource: str, namespace: str | None, name: str | None
) -> str:
    """The API server's text for a denied request (apiserver's `forbiddenMessage` inside `NewForbidden`)."""
    qualified = f"{resource}.{group}" if group else resource
    subject = f'{qualified} "{name}" is forbidden' if name else f"{qualified} is forbidden"
    where = f' in the namespace "{namespace}"' if namespace else " at the cluster scope"
    return f'{subject}: User "{identity.user}" cannot {verb} resource "{resource}" in API group "{group}"{where}'
