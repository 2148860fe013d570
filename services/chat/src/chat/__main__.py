"""python -m chat → bootstrap.main()."""

from chat.bootstrap import main

main()
