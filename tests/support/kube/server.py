"""Running an `ApiEmulator`: in a background thread of the test process (`EmulatorThread`), or in a
process of its own (`serve_until_stdin_closes`, `python -m tests.support.kube`) inspected over HTTP
(`RemoteEmulator`), as bench/reconcile.py does."""

import asyncio
import json
import logging
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterable
from typing import Any

import kmock

from tests.support.kube.app import ApiEmulator
from tests.support.kube.faults import Call


class EmulatorThread:
    """Serve an `ApiEmulator` on 127.0.0.1 (ephemeral port) from a background event loop."""

    def __init__(self, emulator: ApiEmulator | None = None) -> None:
        self.emulator = emulator if emulator is not None else ApiEmulator()
        self.url = ""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="kube-emulator", daemon=True)

    def __enter__(self) -> "EmulatorThread":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        self._thread.start()
        if not self._ready.wait(timeout=10) or self._error is not None:
            raise RuntimeError(f"the Kubernetes emulator did not start: {self._error!r}")

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stop.set)
            self._thread.join(timeout=10)

    def _run(self) -> None:
        logging.getLogger("aiohttp.access").setLevel(logging.WARNING)  # one line per request is noise
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # surfaced to start()
            self._error = exc
            self._ready.set()

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        async with self.emulator, kmock.Server(self.emulator) as server:
            self.url = self.emulator.url = str(server.url).rstrip("/")
            self._ready.set()
            await self._stop.wait()


class RemoteEmulator:
    """The inspection side of an `ApiEmulator` served by another process (`python -m tests.support.kube`),
    over HTTP: a separate process keeps the emulator's CPU time out of the measured process, as with a
    real API server."""

    def __init__(self, url: str, kinds: Iterable[Any]) -> None:
        self.url = url
        self._paths = {info.plural: f"/apis/{info.group}/{info.version}" for info in kinds}

    def _request(self, method: str, path: str, body: dict | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.url + path, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return None
            raise

    def calls(self) -> list[Call]:
        rows = self._request("GET", "/_emulator/calls")["calls"]
        return [
            Call(verb, plural, ns, name, dry_run, status=status) for verb, plural, ns, name, dry_run, status in rows
        ]

    def writes(self) -> list[Call]:
        return [c for c in self.calls() if c.is_write and not c.dry_run and c.status < 400]

    def count(self, verb: str) -> int:
        return sum(1 for c in self.calls() if c.verb == verb)

    def reset_calls(self) -> None:
        self._request("POST", "/_emulator/reset", {})

    def add_namespaces(self, names: Iterable[str]) -> None:
        self._request("POST", "/_emulator/namespaces", {"names": list(names)})

    def get(self, plural: str, namespace: str, name: str) -> dict | None:
        return self._request("GET", f"{self._paths[plural]}/namespaces/{namespace}/{plural}/{name}")


def serve_until_stdin_closes() -> None:
    """Serve every rendered kind (no validator: it would time itself) and print the URL; stop when
    stdin closes (the parent process ends or closes the pipe)."""
    from policies.manifests.kinds import KINDS

    emulator = ApiEmulator()
    for info in KINDS:
        emulator.serve_kind(group=info.group, version=info.version, plural=info.plural, kind=info.kind)
    with EmulatorThread(emulator) as server:
        print(server.url, flush=True)
        sys.stdin.read()
