"""Names that appear in clusters and on the wire; changing one is a migration for every user."""

FIELD_MANAGER = "egressui"
LABEL_MANAGED_BY = "app.kubernetes.io/managed-by"
LABEL_MANAGED_BY_VALUE = "egressui"
LABEL_CLUSTER = "egressui.io/cluster"
ANNOTATION_CONTENT_HASH = "egressui.io/content-hash"
ANNOTATION_GRANTS = "egressui.io/grants"

# Synthetic DNS suffix for TCP destinations routed through the gateway (reference §3.2 option 1).
TCP_SYNTHETIC_SUFFIX = "tcp.egress.internal"

# Where Debian-based images keep the system CA bundle. Istio's proxyv2 image is built FROM Istio's
# Ubuntu base or its Debian distroless image (pilot/docker/Dockerfile.proxyv2), so the gateway
# verifies originated TLS with it (docs/rendering.md, "TLS origination verifies the server").
SYSTEM_CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"

# Mode `cilium`: the Cilium release assumed for a new cluster, and the oldest one rendered for
# (`enableDefaultDeny`, which observing needs, came with 1.15). `**.` patterns need 1.19.
DEFAULT_CILIUM_VERSION = "1.19"
MIN_CILIUM_VERSION = (1, 15)

MAX_HOST_LENGTH = 253
# The port a destination gets when none is given, in the UI and the API alike.
DEFAULT_PORT = 443
MAX_DESTINATIONS_PER_REQUEST = 50
MAX_IDENTITIES_PER_REQUEST = 50
MAX_EXPANDED_HOSTS = 50

# What a cluster's failed sync says to those who may not see why (permissions.can_see_cluster_errors).
SYNC_DETAILS_HIDDEN = "Sync failed — a platform admin can see why."
