"""CLI sub-commands: each module has `register(subparsers)`, which adds its parser and sets `func`."""
