"""python -m web → run the gateway (see bootstrap.main)."""

from web.bootstrap import main

if __name__ == "__main__":
    main()
