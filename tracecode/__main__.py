"""``python -m tracecode``: the same as the ``tracecode`` command."""

from tracecode.cli import main

main()
