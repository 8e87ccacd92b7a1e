"""``python -m assb_lmp``: the command-line interface."""

from assb_lmp.cli.main import main

raise SystemExit(main())
