"""The reconciler: makes each cluster (or GitOps directory) hold exactly the objects rendered from the
database, level-based and per cluster (DESIGN §5, STYLE rules 13–17).

- `desired.py`: the desired objects of a cluster (from the renderer), keyed and hashed;
- `diff.py`: pure comparison of desired and live objects into an ordered plan;
- `cluster.py`: the Kubernetes API target (server-side apply, retries); `directory.py`: the GitOps target;
- `loop.py`: `reconcile_cluster()`, which ties them together under a per-cluster lock (`locks.py`);
- `connection.py`: the connection test; `resources.py`: kinds, object keys and the API permissions used.
"""
