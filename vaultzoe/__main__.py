"""`python -m vaultzoe`: the same CLI as the `vaultzoe` command, which starts here too (no typer for `index`/`status`)."""

from .cli_fast import main

if __name__ == "__main__":
    main()
