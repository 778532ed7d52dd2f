"""`python -m service` runs the closeknit CLI."""

from service.cli.main import main

raise SystemExit(main())
