"""Outgoing team webhooks: JSON bodies signed with HMAC-SHA256 so receivers can check the sender."""

import hashlib
import hmac
import json
import time
import uuid

import requests
from django.conf import settings

from policies.redaction import url_origin

SIGNATURE_HEADER = "X-Egressui-Signature"


class WebhookDeliveryError(Exception):
    """A delivery that may succeed later (network error or 5xx)."""


def sign(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode("utf-8"), timestamp.encode("ascii") + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def deliver(*, url: str, secret: str, event: str, payload: dict) -> int:
    body = json.dumps({"event": event, "data": payload}, sort_keys=True, separators=(",", ":")).encode("utf-8")
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "egressui-webhook/1",
        "X-Egressui-Event": event,
        "X-Egressui-Delivery": uuid.uuid4().hex,
        "X-Egressui-Timestamp": timestamp,
    }
    if secret:
        headers[SIGNATURE_HEADER] = sign(secret, timestamp, body)
    try:
        response = requests.post(url, data=body, headers=headers, timeout=settings.EGRESSUI_WEBHOOK_TIMEOUT)
    except requests.RequestException as exc:
        # The exception's text quotes the URL, whose path often is the secret (Slack, Teams).
        raise WebhookDeliveryError(f"{type(exc).__name__} posting to {url_origin(url)}") from None
    if response.status_code >= 500 or response.status_code == 429:
        raise WebhookDeliveryError(f"HTTP {response.status_code}")
    return response.status_code
