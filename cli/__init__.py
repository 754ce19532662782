"""The operators' command-line interface (installed as apexdir.cli)."""
