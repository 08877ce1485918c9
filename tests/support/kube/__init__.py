"""A Kubernetes API server for tests: kmock's KubernetesEmulator, extended with what the reconciler relies on.

kmock serves discovery (`/version`, `/apis/...`) and records every request; `ApiEmulator` adds the
parts of the real API server's behaviour that egressui depends on:

- server-side apply (`PATCH` with `application/apply-patch+yaml`): create-or-update, field ownership
  per `fieldManager` (fields a manager stops applying are removed, fields owned by another manager
  conflict unless `force=true`), `dryRun=All`, and strict field validation through an optional
  validator (400 for unknown fields, 422 for invalid values, as the API server answers);
- merge-patch updates by other managers (someone editing an object behind egressui's back);
- `resourceVersion`, `uid`, `generation`, `creationTimestamp`, `managedFields`;
- list with label selectors (equality, set-based, existence) and field selectors on name/namespace;
- delete with `preconditions.resourceVersion` (409 on mismatch) and `dryRun=All`;
- namespaces: objects in a namespace that does not exist are refused with 404, as the API server does;
  deleting a namespace deletes everything in it (the namespace controller's work, done at once);
- RBAC, when `rbac` is set (tests/support/rbac.py): bearer tokens map to identities, unknown tokens get
  401, and every request is authorised as kube-apiserver does (a server-side apply is a `patch`, and
  also a `create` when the object does not exist; GET is get/list/watch, DELETE delete or
  deletecollection), a denial being the server's 403 `Status`; SelfSubjectAccessReviews are answered
  from the same rules. Without `rbac` everything is allowed and access reviews answer from `denied`;
- injected faults: any status (409/422/429/500/…) or a delay (client timeouts) on matching requests.

`EmulatorThread` runs it on an ephemeral port in a background thread, for synchronous code such as
the official `kubernetes` client; `python -m tests.support.kube` in a process of its own.

Modules, one concern each:

- `app`: `ApiEmulator` — routing, authentication, faults, the call log, one handler per verb;
- `store`: stored objects, `resourceVersion`/`uid`/`generation`, namespaces, out-of-band changes;
- `fields`: field ownership (`managedFields`), server-side apply and its 409, merge and JSON patches;
- `validation`: strict field validation (CRD schema, CEL) and how each request kind answers it;
- `access`: bearer tokens, the verb a request is authorised as, RBAC's 403, access reviews;
- `selectors`: label and field selectors;
- `faults`: injected faults and the record of each request served (`Call`);
- `status`: JSON answers and the `Status` bodies several handlers share;
- `server`: `EmulatorThread`, the emulator's own process and `RemoteEmulator` to inspect it.
"""

from tests.support.kube.app import ApiEmulator
from tests.support.kube.faults import Call, Fault
from tests.support.kube.server import EmulatorThread, RemoteEmulator
from tests.support.kube.validation import Invalid, Validator, strict_validator

__all__ = [
    "ApiEmulator",
    "Call",
    "EmulatorThread",
    "Fault",
    "Invalid",
    "RemoteEmulator",
    "Validator",
    "strict_validator",
]
