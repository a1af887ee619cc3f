import sys

from sigma_ext.cli.main import main

sys.exit(main())
