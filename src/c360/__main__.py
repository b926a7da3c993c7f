"""``python -m c360`` = the ``c360`` command."""

from c360.cli import main

main()
