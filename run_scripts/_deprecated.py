"""Old script names kept working for one release: a one-line notice, then the renamed script."""

import sys

from videocore import cli


def run(old_name, new_module):
    new_name = new_module.__name__
    print(f"note: {old_name} is deprecated and will be removed in the next release; use {new_name}",
          file=sys.stderr)
    cli.run(new_module.main)
