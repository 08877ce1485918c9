"""Reducing values that may carry a secret to what is safe to record or show."""

from urllib.parse import urlsplit


def url_origin(url: str) -> str:
    """scheme://host[:port] of a URL: no credentials, path or query (they may carry a secret)."""
    try:
        parts = urlsplit(str(url or "").strip())
        host, port = parts.hostname, parts.port
    except ValueError:
        return ""
    if not parts.scheme or not host:
        return ""
    host = f"[{host}]" if ":" in host else host
    return f"{parts.scheme}://{host}" + (f":{port}" if port else "")


def url_without_credentials(url: str) -> str:
    """The URL without user information, query and fragment, for display; "" if it is not a URL."""
    origin = url_origin(url)
    if not origin:
        return ""
    path = urlsplit(str(url).strip()).path
    return origin + (path if path != "/" else "")


def url_credentials_problem(url: str) -> str | None:
    """Why a URL egressui will call must be refused: credentials belong in secret fields."""
    try:
        parts = urlsplit(str(url or "").strip())
    except ValueError:
        return "Enter a valid URL."
    if parts.username is not None or parts.password is not None:
        return "Do not put credentials in the URL; use the token field (it is stored encrypted)."
    if parts.query or parts.fragment:
        return "The URL cannot have a query or a fragment."
    return None
