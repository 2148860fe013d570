"""python -m media_signal → the service."""

from media_signal.bootstrap import main

main()
