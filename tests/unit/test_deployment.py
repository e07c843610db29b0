"""The image and docker-compose.yml, for users with Docker (no Docker here: what can be checked
without it). The image once lacked the ``api`` package, so ``ledger serve`` could not start in it."""
from __future__ import annotations

import shlex
import tomllib
from pathlib import Path

import typer.main
import yaml

from ledger.cli import app

ROOT = Path(__file__).resolve().parents[2]


def test_the_image_carries_every_package_the_project_installs():
    includes = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]["include"]
    packages = {pattern.rstrip("*") for pattern in includes}
    copied = {
        shlex.split(line)[1].rstrip("/")
        for line in (ROOT / "Dockerfile").read_text().splitlines()
        if line.startswith("COPY ")
    }
    assert packages <= copied, f"the Dockerfile does not COPY {sorted(packages - copied)}"


def test_every_service_built_from_the_image_runs_a_command_the_cli_has():
    """Each ``ledger`` command of docker-compose.yml parses: its name and options exist."""
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    cli = typer.main.get_command(app)
    commands = cli.commands  # a group: the app has several commands
    checked = []
    for name, service in services.items():
        if service.get("build") != "." or "entrypoint" in service:  # the consumers run python -m consumers
            continue
        command, *arguments = service["command"]
        assert command in commands, f"{name}: ledger has no command {command!r}"
        context = commands[command].make_context(command, list(arguments), resilient_parsing=False)
        assert context.params is not None
        checked.append(name)
    assert {"api", "migrate", "demo", "relay"} <= set(checked)
    assert services["api"]["environment"]["LEDGER_DATABASE_URL"].startswith("postgresql://")  # --workers needs PostgreSQL
