"""The assignment's items: what each asks, its points, and how the grader splits them.

The one table both sides read: the starter's stubs and README, the student's check and pack
commands, and the teacher's grader. It holds no solution and no expected value.

How points are split:
- code items: among the item's functions (Part.points); within a function, in proportion to the
  cases it passes (public and hidden alike, each case one share), rounded down to a quarter point.
  Each function is graded with the reference's code everywhere else (see codebase/kit/sandbox.py).
- run items: Run.scores: each metric's points when the mean over the course's runs lies within the
  course's tolerance (the model class's Published.course), and "runs" points for two or more runs
  (the handout asks for a mean and a standard error).
- picture items: all or nothing: the course run's samples.png is a PNG of a 10 x 20 grid's size
  (28 x 28 digits with make_grid's padding) and not blank; that it shows digits is not checked.
- run items trust the numbers of the submitted metrics.json: nothing is rerun.
- person items: graded by a person; the grader only reports what it finds.
"""
from typing import NamedTuple


class Part(NamedTuple):
    """A function to implement: file: its module's path; function: its qualified name in the
    module ("utils.py"'s "log_normal", "VAE.kl"); points: its share of the item's; what: a phrase"""

    file: str
    function: str
    points: float
    what: str


class Run(NamedTuple):
    """A run to report: model: the class's name; published: the index of its course configuration
    in the class's `published`; scores: ((metric or "runs", points), ...)"""

    model: str
    published: int
    scores: tuple


class Item(NamedTuple):
    """number: "1.1"; points; kind: "code", "run", "picture" or "person"; title: (English, Spanish);
    parts: (Part, ...) for code items; run: Run for run and picture items"""

    number: str
    points: float
    kind: str
    title: tuple
    parts: tuple = ()
    run: Run = None


UTILS, VAE, GMVAE, SSVAE = "codebase/utils.py", "codebase/vae.py", "codebase/gmvae.py", "codebase/ssvae.py"

ITEMS = (
    Item("1.1", 9, "code", ("the reparameterization trick", "el truco de reparametrización"), parts=(
        Part(UTILS, "sample_gaussian", 9, "a sample of N(m, diag(v)) through which gradients reach m and v"),)),
    Item("1.2", 9, "code", ("the VAE's negative ELBO", "la ELBO negativa del VAE"), parts=(
        Part(VAE, "VAE.negative_elbo_bound", 6,
             "the negative ELBO, its KL and its reconstruction term, one sample of z, means over the batch; "
             "take the KL from self.kl(m, v, z), which the GMVAE overrides"),
        Part(VAE, "VAE.kl", 3, "KL(q(z | x) || N(0, I)) per example, in closed form (utils.kl_normal)"))),
    Item("1.3", 5, "run", ("run_vae.py's NELBO, KL and Rec", "NELBO, KL y Rec de run_vae.py"),
         run=Run("VAE", 0, (("NELBO", 2), ("KL", 1), ("Rec", 1), ("runs", 1)))),
    Item("1.4", 5, "picture", ("200 digits sampled from the VAE", "200 dígitos muestreados del VAE"),
         run=Run("VAE", 0, ())),
    Item("1.5", 5, "person", ("the beta-VAE: runs and an interpretation", "el beta-VAE: corridas e interpretación"),
         run=Run("VAE", 0, ())),
    Item("2.1", 22, "code", ("Gaussian log-densities and the GMVAE's bound",
                             "log-densidades gaussianas y la cota del GMVAE"), parts=(
        Part(UTILS, "log_normal", 8, "log N(x; m, diag(v)), summed over the last dimension, broadcasting"),
        Part(UTILS, "log_normal_mixture", 8,
             "the log-density of a uniform mixture of Gaussians, stable far from every component"),
        Part(GMVAE, "GMVAE.kl", 6,
             "the GMVAE's bound: its one-sample Monte Carlo KL, log q(z | x) - log p(z) (the GMVAE inherits "
             "negative_elbo_bound from the VAE)"))),
    Item("2.2", 6, "run", ("run_gmvae.py's NELBO, KL and Rec", "NELBO, KL y Rec de run_gmvae.py"),
         run=Run("GMVAE", 0, (("NELBO", 2), ("KL", 2), ("Rec", 1), ("runs", 1)))),
    Item("2.3", 6, "picture", ("200 digits sampled from the GMVAE", "200 dígitos muestreados del GMVAE"),
         run=Run("GMVAE", 0, ())),
    Item("3.1", 4, "run", ("run_ssvae.py -gw 0's test accuracy", "exactitud de run_ssvae.py -gw 0"),
         run=Run("SSVAE", 0, (("accuracy", 4),))),
    Item("3.2", 21, "code", ("the SSVAE's negative ELBO", "la ELBO negativa del SSVAE"), parts=(
        Part(SSVAE, "SSVAE.negative_elbo_bound", 21,
             "the negative ELBO with the label summed out exactly (one z per label), KL_z in closed form "
             "(utils.kl_normal), and KL_z, KL_y, Rec, each the mean over the batch"),)),
    Item("3.3", 8, "run", ("run_ssvae.py's test accuracy", "exactitud de run_ssvae.py"),
         run=Run("SSVAE", 1, (("accuracy", 8),))),
)

# Given code that the starter stubs too, ungraded: its body holds an item's answer (the IWAE bound
# with iw = 1 is item 1.2's negative ELBO, and its log-weight is item 2.1's GMVAE.kl).
LEFT_OUT = (Part(VAE, "VAE.negative_iwae_bound", 0,
                 "the negative IWAE bound (optional, not graded); the run scripts print the IWAE bounds once it "
                 "is written"),)

BY_NUMBER = {item.number: item for item in ITEMS}
CODE = tuple(item for item in ITEMS if item.kind == "code")
FILES = tuple(dict.fromkeys(part.file for item in CODE for part in item.parts))  # the files a student hands in
MODULES = tuple(f.removeprefix("codebase/").removesuffix(".py") for f in FILES)  # their modules: utils, vae, ...


def part(number, function):
    """The Part of item `number` (None: of LEFT_OUT) that implements `function` (its qualified name)."""
    return next(p for p in (BY_NUMBER[number].parts if number else LEFT_OUT) if p.function == function)


def todo_message(number, function):
    """What a starter's stub says: the item, the function, what to implement, where to read."""
    p = part(number, function)
    if number is None:
        return f"{function} in {p.file} is left for you to write: {p.what}"
    return (f"item {number} is not implemented yet: {function} in {p.file}: {p.what} "
            f"(see README.md, item {number})")
