"""`python -m vaultzoe`: the same CLI as the `vaultzoe` command."""

from .cli import main

if __name__ == "__main__":
    main()
