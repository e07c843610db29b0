"""Commands (pydantic models) and their handlers."""
from ledger.commands.models import ALL_COMMANDS, Command, command_schemas, parse_command

__all__ = ["ALL_COMMANDS", "Command", "command_schemas", "parse_command"]
