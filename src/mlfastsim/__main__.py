"""``python -m mlfastsim``: the command line, also under ``torchrun --nproc_per_node N -m mlfastsim train ...``."""

import sys

from mlfastsim.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
