"""The teacher's commands:

    python -m codebase.kit starter DIR                     # the student's starter, into a new folder
    python -m codebase.kit grade DIR [--gradescope PATH]   # grade a copy, an unpacked submission, its zip
    python -m codebase.kit autograder ZIP [--force]        # Gradescope's autograder zip

`grade .` grades the reference itself with its published records (results/). The grade's exit
status is 0 whenever grading completed, whatever the points. See docs/assignment.md.
"""
import argparse
import os
import sys
import tempfile
import zipfile

from codebase import UserError


def _unzip(path, into):
    """Unpack a submission zip into `into`, refusing members that would land outside it."""
    with zipfile.ZipFile(path) as z:
        for name in z.namelist():
            target = os.path.realpath(os.path.join(into, name))
            if not target.startswith(os.path.realpath(into) + os.sep):
                raise UserError(f"{path} holds {name}, outside its folder; pack it with python -m codebase.kit.submit")
        z.extractall(into)
    return into


def grade(args):
    from codebase.kit import grade as grader
    if not os.path.exists(args.dir):
        raise UserError(f"{args.dir} does not exist; pass a student's copy, an unpacked submission or its zip")
    with tempfile.TemporaryDirectory(prefix="kit-submission-") as scratch:
        folder = args.dir
        if os.path.isfile(folder):
            try:
                folder = _unzip(folder, scratch)
            except zipfile.BadZipFile:
                raise UserError(f"{args.dir} is not a folder or a zip; pass a student's copy or its "
                                "submission.zip") from None
        print(f"Grading {os.path.abspath(args.dir)}")
        results = grader.grade(os.path.abspath(folder), timeout=args.timeout)
    for line in grader.lines(results):
        print(line)
    if args.gradescope:
        grader.write_gradescope(results, args.gradescope)
        print(f"wrote {args.gradescope}")
    return 0


def starter(args):
    from codebase.kit import starter as make
    written = make.make(args.dir)
    print(f"wrote the starter into {args.dir} ({len(written)} files); give it to the students (a zip, a repository)")
    return 0


def autograder(args):
    from codebase.kit import autograder as ag
    try:
        ag.write(args.zip, force=args.force)
    except FileExistsError:
        raise UserError(f"{args.zip} exists; pass --force to replace it, or another name") from None
    print(f"wrote {args.zip}; upload it as the Gradescope assignment's autograder (see docs/assignment.md)")
    return 0


def main(argv=None):
    from codebase.kit import sandbox
    p = argparse.ArgumentParser(prog="python -m codebase.kit", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("starter", help="write the student's starter into DIR (a new or empty folder)")
    s.add_argument("dir")
    s.set_defaults(run=starter)
    g = sub.add_parser("grade", help="grade DIR: a copy, an unpacked submission or its zip; . is the reference")
    g.add_argument("dir")
    g.add_argument("--gradescope", metavar="PATH",
                   help="also write Gradescope's results.json there (replaced if present)")
    g.add_argument("--timeout", type=float, default=sandbox.TIMEOUT,
                   help="seconds per function of a code item (default %(default)s)")
    g.set_defaults(run=grade)
    a = sub.add_parser("autograder", help="write Gradescope's autograder zip (setup.sh, run_autograder, the reference)")
    a.add_argument("zip")
    a.add_argument("--force", action="store_true", help="replace the zip if it exists")
    a.set_defaults(run=autograder)
    args = p.parse_args(argv)
    try:
        return args.run(args)
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return e.exit_code
    except OSError as e:
        print(f"error: {e.filename or 'a file'}: {e.strerror}; check the folder's permissions and free space",
              file=sys.stderr)
        return 1
    except Exception as e:  # never a traceback: one line, and where to report it
        print(f"error: the kit failed ({type(e).__name__}: {str(e).splitlines()[0][:200] if str(e) else ''}); "
              "please report it with the command you ran", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
