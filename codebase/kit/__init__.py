"""The assignment kit: the student's starter generated from this reference, the student's
commands (codebase.kit.check, codebase.kit.submit) and the teacher's (python -m codebase.kit).
See docs/assignment.md."""
from codebase import UserError


class ToDo(UserError):
    """What a starter's stub raises: an item not implemented yet. A UserError, so the run scripts
    print it as one line ("error: item 1.1 is not implemented yet: ...") and exit with exit_code."""

    exit_code = 3

    def __init__(self, number, function):
        from codebase.kit import items
        super().__init__(items.todo_message(number, function))
