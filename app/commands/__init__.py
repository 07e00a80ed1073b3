"""One module per `iggt` subcommand (see app/cli.py for the contract)."""
