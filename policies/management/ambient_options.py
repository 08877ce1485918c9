"""Command-line options for the istio-ambient cluster settings (add_cluster, migrate_cluster_mode)."""

SETTINGS = ("waypoint_name", "waypoint_namespace", "istio_version")


def add_ambient_arguments(parser) -> None:
    parser.add_argument("--waypoint-name", help="istio-ambient: the egress waypoint (default egress-waypoint).")
    parser.add_argument("--waypoint-namespace", help="istio-ambient: its namespace (default: egress namespace).")
    parser.add_argument(
        "--platform-waypoint", action="store_true", help="istio-ambient: the platform team runs the waypoint."
    )
    parser.add_argument("--istio-version", help="istio-ambient: e.g. 1.30 (decides wildcard support).")


def ambient_settings(options: dict) -> dict:
    """The cluster fields the options set (only those given)."""
    settings = {field: options[field] for field in SETTINGS if options.get(field) is not None}
    if options.get("platform_waypoint"):
        settings["waypoint_managed_by_platform"] = True
    return settings
