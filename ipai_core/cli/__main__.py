"""`python -m ipai_core.cli …`: the `ipai` command, for child processes started by `ipai up`."""

from ipai_core.cli import main

main()
