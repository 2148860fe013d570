"""`python -m school` runs the school service."""

from school.bootstrap import main

if __name__ == "__main__":
    main()
