import sys

from musestudio.cli import main

sys.exit(main())
