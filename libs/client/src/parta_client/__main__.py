"""python -m parta_client → the `parta` command line."""

from parta_client.cli import main

main()
