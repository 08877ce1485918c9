"""Kubeconfigs egressui accepts: self-contained, inert data.

A kubeconfig can make its reader run a program (`users[].user.exec`, the `auth-provider` plugins) or
read files of the server it is loaded on (`tokenFile`, `client-certificate`, `client-key`,
`certificate-authority`). A platform admin is trusted with clusters, not with the server that holds
the encryption key and every cluster's credentials, so only the keys listed here are accepted — at
input (admin, API, `add_cluster`) and again each time a kubeconfig is loaded. Flatten one with
`kubectl config view --raw --minify --flatten --context NAME`; for clouds whose kubeconfigs call a
plugin, use a service account token instead.

Every message names the entry by position and key (`users[0].user.exec`) and YAML problems by line
and column, never a value.
"""

from pathlib import Path
from typing import TYPE_CHECKING

import yaml
from django.conf import settings

from policies.reconciler.error_text import yaml_error_text
from policies.reconciler.errors import KubeconfigRefused

if TYPE_CHECKING:
    from policies.models import Cluster

MAX_KUBECONFIG_BYTES = 256 * 1024
ALLOWED = {
    "top": {"apiVersion", "kind", "clusters", "users", "contexts", "current-context", "preferences", "extensions"},
    "cluster": {
        "server",
        "certificate-authority-data",
        "insecure-skip-tls-verify",
        "tls-server-name",
        "proxy-url",
        "disable-compression",
        "extensions",
    },
    "user": {
        "token",
        "client-certificate-data",
        "client-key-data",
        "username",
        "password",
        "as",
        "as-uid",
        "as-groups",
        "as-user-extra",
        "extensions",
    },
    "context": {"cluster", "user", "namespace", "extensions"},
}
_WHY = {
    "exec": "egressui never runs a program named in a kubeconfig; use a token or client certificate data",
    "auth-provider": "egressui never runs an authentication plugin; use a token or client certificate data",
    "tokenFile": "files on the egressui server are not read; put the token itself in `token`",
    "client-certificate": "files are not read; use client-certificate-data",
    "client-key": "files are not read; use client-key-data",
    "certificate-authority": "files are not read; use certificate-authority-data",
}


class _NoAliasLoader(yaml.SafeLoader):
    """Safe YAML without anchors and aliases: a kubeconfig never needs them, and aliases can make a
    small text expand into a huge structure."""

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            mark = self.peek_event().start_mark
            raise yaml.composer.ComposerError(None, None, "aliases are not allowed", mark)
        return super().compose_node(parent, index)


def kubeconfig_parse(text: str, *, context: str = "", source: str = "kubeconfig") -> dict:
    """The kubeconfig as a dict, after checking that loading it can neither run a program nor read a
    file, and that the context to use (`context`, else current-context) is complete."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_KUBECONFIG_BYTES:
        raise KubeconfigRefused(f"The {source} is larger than {MAX_KUBECONFIG_BYTES // 1024} KiB.")
    if "\x00" in text:
        raise KubeconfigRefused(f"The {source} contains a null character.")
    try:
        config = yaml.load(text, Loader=_NoAliasLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise KubeconfigRefused(yaml_error_text(exc, source=source)) from None
    except RecursionError:
        raise KubeconfigRefused(f"The {source} is nested too deeply.") from None
    if not isinstance(config, dict):
        raise KubeconfigRefused(f"The {source} must be a YAML mapping with clusters, users and contexts.")
    _check_keys(config, ALLOWED["top"], source)
    entries = {}
    for section, inner in (("clusters", "cluster"), ("users", "user"), ("contexts", "context")):
        items = config.get(section) or []
        if not isinstance(items, list):
            raise KubeconfigRefused(f"{source}: {section} must be a list.")
        names = {}
        for index, item in enumerate(items):
            where = f"{section}[{index}]"
            if not isinstance(item, dict) or not isinstance(item.get(inner), dict):
                raise KubeconfigRefused(f"{source}: {where} must have a name and a `{inner}` mapping.")
            _check_keys(item[inner], ALLOWED[inner], source, f"{where}.{inner}")
            names[str(item.get("name", ""))] = item[inner]
        entries[inner] = names
    _check_context(config, entries, context, source)
    return config


def _check_keys(mapping: dict, allowed: set[str], source: str, where: str = "") -> None:
    for key in mapping:
        if key not in allowed:
            path = f"{where}.{key}" if where else str(key)
            why = _WHY.get(str(key), "not a setting egressui accepts")
            raise KubeconfigRefused(f"{source}: {path} is not allowed ({why}).")


def _check_context(config: dict, entries: dict, context: str, source: str) -> None:
    name = context or config.get("current-context") or ""
    if not name:
        raise KubeconfigRefused(f"{source}: no context given and no current-context set.")
    chosen = entries["context"].get(str(name))
    if chosen is None:
        named = f"context {context!r}" if context else "current-context"
        raise KubeconfigRefused(f"{source}: the {named} is not defined in contexts.")
    cluster = entries["cluster"].get(str(chosen.get("cluster", "")))
    if cluster is None or not cluster.get("server"):
        raise KubeconfigRefused(f"{source}: the context's cluster is not defined, or has no server.")
    if chosen.get("user") is not None and str(chosen["user"]) not in entries["user"]:
        raise KubeconfigRefused(f"{source}: the context's user is not defined in users.")


def kubeconfig_file_read(path: str) -> str:
    """The text of a kubeconfig file, at most MAX_KUBECONFIG_BYTES; OSError if it cannot be read."""
    with open(path, "rb") as handle:
        data = handle.read(MAX_KUBECONFIG_BYTES + 1)
    if len(data) > MAX_KUBECONFIG_BYTES:
        raise KubeconfigRefused(f"The kubeconfig file is larger than {MAX_KUBECONFIG_BYTES // 1024} KiB.")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise KubeconfigRefused(f"The kubeconfig file is not UTF-8 text (byte {exc.start + 1}).") from None


def cluster_files_dir() -> Path | None:
    """EGRESSUI_CLUSTER_FILES_DIR, resolved; None when unset (file paths only from the command line)."""
    configured = getattr(settings, "EGRESSUI_CLUSTER_FILES_DIR", "")
    return Path(configured).resolve() if configured else None


def cluster_file_path_problem(value: str) -> str | None:
    """Why a kubeconfig or directory path set through the admin or the API is refused, or None. Paths
    must lie under EGRESSUI_CLUSTER_FILES_DIR (after resolving `..` and symbolic links)."""
    if not value:
        return None
    base = cluster_files_dir()
    if base is None:
        return (
            "File paths can be set here only when EGRESSUI_CLUSTER_FILES_DIR is configured; "
            "otherwise register the cluster with `manage.py add_cluster`."
        )
    if "\x00" in value:
        return "The path contains a null character."
    path = Path(value)
    if not path.is_absolute():
        return f"Enter an absolute path under {base} (EGRESSUI_CLUSTER_FILES_DIR)."
    resolved = path.resolve()
    if resolved == base or base not in resolved.parents:
        return f"The path must lie inside {base} (EGRESSUI_CLUSTER_FILES_DIR)."
    return None


FILE_FIELDS = ("kubeconfig_path", "directory_path")


def cluster_files_problems(cluster: "Cluster", *, changed: set[str], from_command_line: bool) -> dict[str, str]:
    """Field → why, for a cluster's file settings being set: paths under EGRESSUI_CLUSTER_FILES_DIR
    (unless an operator types them on the command line) and a readable kubeconfig file checked like
    stored contents (an unreadable one is checked when a worker loads it)."""
    problems = {}
    if not from_command_line:
        for field in FILE_FIELDS:
            problem = cluster_file_path_problem(getattr(cluster, field)) if field in changed else None
            if problem:
                problems[field] = problem
    path = cluster.kubeconfig_path
    if path and "kubeconfig_path" not in problems and {"kubeconfig_path", "kube_context"} & changed:
        try:
            kubeconfig_parse(kubeconfig_file_read(path), context=cluster.kube_context, source="kubeconfig file")
        except OSError:
            pass
        except KubeconfigRefused as exc:
            problems["kubeconfig_path"] = str(exc)
    return problems
