"""The `agent` command line. Each `cmd_*.py` module registers its commands."""
