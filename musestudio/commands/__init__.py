"""CLI commands, one module each (see musestudio.cli)."""
