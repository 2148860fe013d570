"""python -m parta_client.cli → the `parta` command line."""

from parta_client.cli import main

main()
