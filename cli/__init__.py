"""The `rswap` command: one entry point that dispatches to the apps' subcommands."""
