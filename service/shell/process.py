"""A `closeknit worker` as a child process: for the demo, the benchmark and tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson

from service.broker.child import die_with_parent_preexec
from service.config import Settings, settings_env


class WorkerFailed(RuntimeError):
    """The worker process died or never became ready; the message names its log."""


class WorkerProcess:
    """A `closeknit worker` child process on the demo's broker, logging to a file.

    `launcher` goes before the command, e.g. `ip netns exec NS` to run it in a network
    namespace; it must exec the command, so that signals reach the worker itself.
    """

    def __init__(self, settings: Settings, log_path: Path, launcher: Sequence[str] = ()) -> None:
        self.settings = settings
        self.log_path = log_path
        self.launcher = tuple(launcher)
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = dict(os.environ)
        env.update(settings_env(self.settings))
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [*self.launcher, sys.executable, "-m", "service", "worker"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            # If this process dies without stopping it, the worker is told to stop too.
            preexec_fn=die_with_parent_preexec(),
        )

    def url(self, path: str) -> str:
        host = self.settings.web_host
        if host in ("0.0.0.0", "::", ""):  # bound everywhere: loopback reaches it
            host = "127.0.0.1"
        return f"http://{host}:{self.settings.web_port}{path}"

    def get_json(self, path: str) -> Any:
        headers = {}
        if self.settings.api_token:
            headers["Authorization"] = f"Bearer {self.settings.api_token}"
        request = urllib.request.Request(self.url(path), headers=headers)
        with urllib.request.urlopen(request, timeout=2) as response:
            return orjson.loads(response.read())

    def wait_ready(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise WorkerFailed(f"the worker exited early; see {self.log_path}")
            try:
                if self.get_json("/health").get("status") == "ok":
                    return
            except (urllib.error.URLError, OSError, ValueError):
                pass
            time.sleep(0.3)
        raise WorkerFailed(f"the worker was not ready after {timeout_s:.0f} s; see {self.log_path}")

    def kill(self) -> None:
        """SIGKILL: no shutdown, no flush, no commit, as in a crash."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
