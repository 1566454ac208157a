"""The assignment kit: the student's starter generated from this reference, the student's
commands (codebase.kit.check, codebase.kit.submit) and the teacher's (python -m codebase.kit).
See docs/assignment.md."""
from codebase import UserError


class ToDo(UserError, NotImplementedError):
    """What a starter's stub raises: an item not implemented yet (number: "1.1"), or given code the
    starter leaves out (number: None, items.LEFT_OUT). A UserError, so the run scripts print it as
    one line ("error: item 1.1 is not implemented yet: ...") and exit with exit_code; a
    NotImplementedError, so the evaluation skips the IWAE bounds while negative_iwae_bound is one."""

    exit_code = 3

    def __init__(self, number, function):
        from codebase.kit import items
        super().__init__(items.todo_message(number, function))
