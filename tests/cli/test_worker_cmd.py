"""`closeknit worker` creates its data directory, parents and all, before anything uses it."""

from __future__ import annotations

import argparse
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from service.cli import worker_cmd
from service.shell import runtime


def args() -> argparse.Namespace:
    return argparse.Namespace(broker=None, web_host=None, web_port=None, log_level=None)


def test_a_missing_data_dir_is_created_with_its_parents_before_the_worker_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data_dir = tmp_path / "not" / "there" / "yet"
    seen: dict[str, bool] = {}

    @contextmanager
    def prepare_broker(settings: Any) -> Any:
        seen["at prepare"] = data_dir.is_dir()
        yield settings

    def run_worker(settings: Any) -> int:
        seen["at run"] = data_dir.is_dir()
        return 0

    monkeypatch.setenv("CLOSEKNIT_DATA_DIR", str(data_dir))
    monkeypatch.setattr(runtime, "prepare_broker", prepare_broker)
    monkeypatch.setattr(runtime, "run_worker", run_worker)

    assert worker_cmd.run(args()) == 0
    assert seen == {"at prepare": True, "at run": True}


def test_a_data_dir_that_cannot_be_created_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("CLOSEKNIT_DATA_DIR", str(blocker / "data"))

    assert worker_cmd.run(args()) == 2
    assert f"cannot create CLOSEKNIT_DATA_DIR={blocker / 'data'}" in capsys.readouterr().err
