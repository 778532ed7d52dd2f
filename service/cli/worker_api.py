"""A running worker's JSON API, read from the CLI (`doctor`, `explain`): one GET, the token
from `CLOSEKNIT_API_TOKEN`, and an error that says what to do when no worker answers."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from service.config import Settings

TIMEOUT_S = 5.0


class WorkerUnavailable(RuntimeError):
    """No worker answered, or it refused; the message says what to do next."""


def worker_url(settings: Settings) -> str:
    host = "127.0.0.1" if settings.web_host in ("0.0.0.0", "::", "") else settings.web_host
    return f"http://{host}:{settings.web_port}"


def get_json(settings: Settings, path: str) -> Any:
    """GET `path` from the worker's web server; its JSON answer (also for a 404)."""
    url = worker_url(settings) + path
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    if settings.api_token:
        request.add_header("Authorization", f"Bearer {settings.api_token}")
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as exc:
        if exc.code == 401:
            raise WorkerUnavailable(
                f"{url}: the worker wants a token; export CLOSEKNIT_API_TOKEN as the worker has it"
            ) from exc
        if exc.code in (404, 400):
            return json.loads(exc.read() or b"{}")
        raise WorkerUnavailable(f"{url}: the worker answered HTTP {exc.code}") from exc
    except (urllib.error.URLError, OSError) as exc:
        raise WorkerUnavailable(
            f"no worker answers at {worker_url(settings)}: start one (`closeknit worker` or "
            "`make demo`), or set CLOSEKNIT_WEB_HOST / CLOSEKNIT_WEB_PORT to where it runs"
        ) from exc
