"""The ``discover`` command line: one sub-command per job.

Each sub-command lives in its own module that provides ``add_parser(subparsers)`` and
``run(args) -> int``.  Bad input raises :class:`~discover.errors.UserError`, which is
printed here as one line on stderr with exit status 2, never as a traceback.
"""

from __future__ import annotations

import argparse
import errno
import os
import sys

from .errors import UserError


#: options whose value may start with "-" (a domain "-2,2", a term "-0.01*u_xx"): argparse
#: would take such a value for an option, so ``--domain -2,2`` is read as ``--domain=-2,2``
VALUE_MAY_START_WITH_MINUS = frozenset({"--domain", "--known", "--terms", "--expr", "--ic"})
#: the commands' short options, which such a value never is (``--expr -o k``: the formula is missing)
SHORT_OPTIONS = frozenset({"-", "-h", "-o", "-q"})


class OneLineParser(argparse.ArgumentParser):
    """Usage errors as one line (what is wrong, and where the help is), exit status 2."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def join_minus_values(argv: list[str]) -> list[str]:
    """``[--domain, -2,2]`` -> ``[--domain=-2,2]`` for :data:`VALUE_MAY_START_WITH_MINUS`."""
    out: list[str] = []
    k = 0
    while k < len(argv):
        token = argv[k]
        if (token in VALUE_MAY_START_WITH_MINUS and k + 1 < len(argv) and argv[k + 1].startswith("-")
                and not argv[k + 1].startswith("--") and argv[k + 1] not in SHORT_OPTIONS):
            out.append(f"{token}={argv[k + 1]}")
            k += 2
        else:
            out.append(token)
            k += 1
    return out


def build_parser() -> argparse.ArgumentParser:
    from . import codegen_command, fit_command, pde_command

    parser = OneLineParser(
        prog="discover",
        description="Find equations in data and turn them into fast native code.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    fit_command.add_parser(subparsers)
    codegen_command.add_parser(subparsers)
    pde_command.add_parser(subparsers)
    from . import simulate_command; simulate_command.add_parser(subparsers)
    from . import approx_command; approx_command.add_parser(subparsers)
    from . import plot_command; plot_command.add_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    from search import interrupt

    interrupt.install()
    try:
        parser = build_parser()
    except KeyboardInterrupt:   # while the commands' modules import
        print("discover: interrupted", file=sys.stderr)
        return 130
    args = parser.parse_args(join_minus_values(sys.argv[1:] if argv is None else list(argv)))
    try:
        return int(args.run(args) or 0)
    except UserError as exc:
        print(f"discover {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # The reader went away (`discover codegen ... | head`): not an error of ours.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as exc:
        if exc.errno not in (errno.ENAMETOOLONG, errno.ELOOP, errno.ENOTDIR):
            raise
        # a path the system refuses before we could check it (a name over 255 bytes ...)
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"discover {args.command}: error: {where}{exc.strerror}", file=sys.stderr)
        return 2
    except Exception as exc:
        from search.evaluate import BackendError  # the engine's configuration (search cannot import discover)

        if not isinstance(exc, BackendError):
            raise
        print(f"discover {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        # Outside the search (which handles Ctrl-C itself and keeps its front).
        print(f"discover {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
