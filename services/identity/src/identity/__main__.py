"""python -m identity → run the service (see bootstrap.main)."""

from identity.bootstrap import main

if __name__ == "__main__":
    main()
