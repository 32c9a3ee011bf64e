"""Entry point of the PyInstaller bundle: the same `musestudio` CLI, which opens the app when given no command."""

import multiprocessing
import sys

from musestudio.cli import main

if __name__ == "__main__":
    multiprocessing.freeze_support()  # worker processes started by libraries re-enter here
    sys.exit(main())
