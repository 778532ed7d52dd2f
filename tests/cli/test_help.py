"""Every command answers --help; failures say what to do; `config` lists every variable.

Run as subprocesses (`python -m service …` and the installed `closeknit` script), the way
a user meets them. `closeknit tail` against a real worker's dead letters is covered in
tests/shell/test_contracts_on_the_wire.py, which already runs a worker.
"""

from __future__ import annotations

import argparse
import importlib
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from service.broker.probe import find_free_port
from service.cli.main import COMMAND_MODULES
from service.config import settings_doc

REPO = Path(__file__).resolve().parents[2]
CLOSEKNIT_SCRIPT = Path(sys.executable).parent / "closeknit"


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLOSEKNIT_")}
    env.update(extra)
    return env


def run(*argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(argv),
        env=env if env is not None else clean_env(),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def closeknit(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return run(sys.executable, "-m", "service", *args, env=env)


def flat(text: str) -> str:
    """Text without whitespace: argparse re-wraps descriptions, even inside `dyad-updates`."""
    return "".join(text.split())


def registered_parser(module_name: str) -> tuple[str, argparse.ArgumentParser, str]:
    """(command, its parser, its one-line help) as the module registers them."""
    module = importlib.import_module(module_name)  # a listed module must exist
    root = argparse.ArgumentParser(prog="closeknit")
    subparsers = root.add_subparsers()
    module.register(subparsers)
    (name, parser), *others = subparsers.choices.items()
    assert not others, f"{module_name} registers more than one command"
    (action,) = subparsers._choices_actions
    return name, parser, action.help or ""


@pytest.mark.parametrize("module_name", COMMAND_MODULES)
def test_every_registered_command_answers_help_with_a_description(module_name: str) -> None:
    command, parser, one_line = registered_parser(module_name)
    assert one_line.strip(), f"`closeknit {command}` has no one-line help for the command list"
    assert parser.description and parser.description.strip(), f"{command} has no description"

    result = closeknit(command, "--help")

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"usage: closeknit {command}")
    assert flat(parser.description) in flat(result.stdout)


def test_closeknit_help_lists_every_command() -> None:
    assert CLOSEKNIT_SCRIPT.exists(), f"{CLOSEKNIT_SCRIPT} missing: run `make venv`"

    result = run(str(CLOSEKNIT_SCRIPT), "--help")

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: closeknit")
    for module_name in COMMAND_MODULES:
        command, _, one_line = registered_parser(module_name)
        assert command in result.stdout
        assert flat(one_line) in flat(result.stdout)


def test_closeknit_without_a_command_prints_help_and_exits_2() -> None:
    result = closeknit()

    assert result.returncode == 2
    assert "usage: closeknit" in result.stdout


@pytest.mark.parametrize("configured", [False, True], ids=["embedded-port", "CLOSEKNIT_BROKER"])
def test_tail_against_a_closed_port_exits_2_and_says_what_to_do(configured: bool) -> None:
    port = find_free_port()  # nothing listens there
    if configured:
        env = clean_env(CLOSEKNIT_BROKER=f"kafka://127.0.0.1:{port}")
    else:
        env = clean_env(CLOSEKNIT_EMBEDDED_PORT=str(port))

    result = closeknit("tail", "dead-letters", "--no-follow", env=env)

    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert f"127.0.0.1:{port}" in result.stderr
    assert "`closeknit broker`" in result.stderr
    assert "CLOSEKNIT_BROKER" in result.stderr
    assert result.stdout == ""


def test_config_lists_every_variable_with_its_meaning() -> None:
    result = closeknit("config", env=clean_env(CLOSEKNIT_WEB_PORT="7077"))

    assert result.returncode == 0, result.stderr
    for variable, _default, meaning in settings_doc():
        assert variable in result.stdout
        assert flat(meaning) in flat(result.stdout)
    assert "CLOSEKNIT_WEB_PORT" in result.stdout and "(now: 7077)" in result.stdout


# Variables the code reads that `closeknit config` does not list, each with why. The test
# below fails when one is added silently, and when one of these gets listed (remove it here).
NOT_IN_CONFIG = {
    # Read by service/core/schemas.py, not a Settings field; documented in schemas/README.md.
    "CLOSEKNIT_SCHEMAS_DIR",
}


def test_config_lists_every_closeknit_variable_the_code_mentions() -> None:
    mentioned = {
        name
        for path in (REPO / "service").rglob("*.py")
        for name in re.findall(r"CLOSEKNIT_[A-Z][A-Z0-9_]*", path.read_text())
    }
    listed = {variable for variable, _, _ in settings_doc()}

    assert mentioned - listed == NOT_IN_CONFIG
    assert not NOT_IN_CONFIG & listed


def test_config_never_prints_the_api_token() -> None:
    result = closeknit("config", env=clean_env(CLOSEKNIT_API_TOKEN="s3cret-token-value"))

    assert result.returncode == 0, result.stderr
    assert "CLOSEKNIT_API_TOKEN" in result.stdout
    assert "s3cret-token-value" not in result.stdout + result.stderr


def test_config_names_the_variable_holding_a_bad_value() -> None:
    result = closeknit("config", env=clean_env(CLOSEKNIT_PARTITIONS="four"))

    assert result.returncode == 2
    assert "CLOSEKNIT_PARTITIONS" in result.stderr
    assert "Traceback" not in result.stderr
