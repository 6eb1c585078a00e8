import sys

from tune_bs.cli import main

sys.exit(main())
