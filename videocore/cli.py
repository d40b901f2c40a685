"""Runs an absl main so that a user's mistake is one line on stderr and a non-zero exit."""

import sys

from absl import app

from videocore import errors


def run(main):
    """`app.run(main)`, printing `UserInputError`s (bad file, flag or config) as one line, exit 1."""

    def guarded(argv):
        try:
            return main(argv)
        except errors.UserInputError as error:
            print(f"error: {error}", file=sys.stderr)
            sys.exit(1)
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            sys.exit(130)

    app.run(guarded)
