import sys

from .cli import main

if __name__ == "__main__":  # not when worker processes re-import the main module (spawn)
    sys.exit(main())
