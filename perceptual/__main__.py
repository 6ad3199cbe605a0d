import sys

from perceptual.cli import main

sys.exit(main())
