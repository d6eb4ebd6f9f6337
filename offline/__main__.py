"""`python -m offline render --stack dev`: see offline/render.py."""

import sys

from .render import main

sys.exit(main())
