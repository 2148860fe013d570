"""python -m audit → the service."""

from audit.bootstrap import main

main()
