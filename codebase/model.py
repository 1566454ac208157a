"""What every model is to the tools: the run scripts, the benchmark, the pictures command and the
results page read a model's class and nothing else.

A model is an nn.Module subclass of Model, or of another model. It sets its facts as class
attributes and overrides the methods below whose default does not fit it; a model that needs
nothing special declares nothing special. Its checkpoints and records name it by its class name
and hold `config`, so `cls(**config)` rebuilds it.

A subclass of a model inherits its math, its flags and how it names its runs, but never the facts
that belong to one class alone (OWN: its run script, its published rows, its sweep): a class that
does not declare them has none.
"""
import inspect
from typing import NamedTuple

from torch import nn

from codebase import data, draw, flags


class Published(NamedTuple):
    """A configuration the README's results table shows.

    config: {constructor argument: value}: the configurations whose arguments include these
    label: (English, Spanish): its row's name
    course: {metric: (value, tolerance)}: the course's expected values, if it has any
    """

    config: dict
    label: tuple
    course: dict = {}


class Model(nn.Module):
    """The facts a model declares (class attributes):

    script: str: its run script, e.g. "run_vae.py"
    iterations: int: training iterations by default (the course's)
    flags: its run script's own flags, each flags.flag(names, ..., **add_argument's keywords)
    named_by: the flags (argparse's names) whose values name its runs, in order (see run_name)
    named_if_changed: flags that name its runs after those, where they differ from their defaults
        (settings added after the course's runs were named, which keep their names). Every flag
        that changes the model's configuration or its training data is in one of the two, so that
        two runs that train differently never share a folder (tests/test_models.py checks it for
        every model of models.ALL); a subclass that adds a flag adds it here too
    headline: str: the metric its results lead with
    pictures: {name: (model, mnist) -> tensor: (3, H, W)}: what it learned, drawn from the test data
    published: (Published, ...): its configurations in the README's results table
    sweep: str or None: a constructor argument whose values the results page tables side by side,
        the other arguments as in published[0]
    bench_iters: int: the benchmark's timed iterations by default
    """

    script = None
    iterations = 20000
    flags = ()
    named_by = ()
    named_if_changed = ()
    headline = None
    pictures = {}
    published = ()
    sweep = None
    bench_iters = 700

    OWN = ("script", "published", "sweep")

    def __init_subclass__(cls, **kwargs):
        """A subclass gets Model's empty value of each fact of OWN that it does not declare itself."""
        super().__init_subclass__(**kwargs)
        for name in Model.OWN:
            if name not in vars(cls):
                setattr(cls, name, getattr(Model, name))

    @property
    def config(self):
        """{constructor argument: value}: what the checkpoint and the record hold, read from the
        attributes of the same names (each model keeps its arguments as attributes)."""
        return {name: getattr(self, name) for name in inspect.signature(type(self)).parameters}

    # Its run script.
    @classmethod
    def configuration(cls, args):
        """{constructor argument: value}: the model of the run script's flags `args` (the one
        place where flags become constructor arguments)"""
        raise NotImplementedError

    @classmethod
    def from_flags(cls, args, seed, mnist):
        """The untrained model of the run script's flags `args` for replicate `seed` (its RNG
        already seeded); mnist: data.MNIST. By default cls(**configuration(args))."""
        return cls(**cls.configuration(args))

    @classmethod
    def run_name(cls, args):
        """The run's name without its replicate: the class's name in lower case, then each flag of
        named_by with its value, then each of named_if_changed, --precision and --compile that
        differs from its default, e.g. "model=vae_z=10_beta=1" or
        "model=vae_z=50_beta=1_hidden=600_validation=1_compile=1". It names the folders
        checkpoints/<name>_run=NNNN/ and logs/<name>_run=NNNN/."""
        defaults = flags.parser(cls).parse_args([])
        named = list(cls.named_by) + [k for k in (*cls.named_if_changed, "precision", "compile")
                                      if getattr(args, k) != getattr(defaults, k)]
        return "_".join([f"model={cls.__name__.lower()}"] + [f"{k}={_word(getattr(args, k))}" for k in named])

    @staticmethod
    def batches(mnist, args, seed, start=0):
        """Iterator of the training steps' arguments to loss(), from iteration start + 1 on, for
        the run script's flags `args`; called on the model to train (a model whose stream needs
        its weights overrides it as a method)"""
        return data.unsupervised(mnist, seed, start)

    @staticmethod
    def learning_rate(args):
        """(iteration) -> Adam's learning rate at that training step, for the run script's flags
        args; or None (the default): the course's, constant"""
        return None

    def evaluate(self, mnist, args, seed):
        """{metric: float} on the test data"""
        raise NotImplementedError

    @staticmethod
    def printed(metrics):
        """The lines the run script prints of the metrics (graders parse these)."""
        out = []
        if "NELBO" in metrics:
            out.append(f"NELBO: {metrics['NELBO']}. KL: {metrics['KL']}. Rec: {metrics['Rec']}")
        out += [f"Negative {k}: {v}" for k, v in metrics.items() if k.startswith("IWAE-")]
        full = [k[5:] for k in metrics if k.startswith("full/") and not k.endswith("_se")]
        if full:
            out.append("Full test set (10000 images): " + ". ".join(
                f"{k}: {metrics['full/' + k]:.2f} ± {metrics['full/' + k + '_se']:.2f}" for k in full))
        if "accuracy_validation" in metrics:  # before the test's, which graders and users read last
            out.append(f"Validation set classification accuracy: {metrics['accuracy_validation']}")
        if "accuracy" in metrics:
            out.append(f"Test set classification accuracy: {metrics['accuracy']}")
        return out

    def samples(self, seed):
        """The sample grid: tensor: (3, H, W)"""
        return draw.sample_grid(self, seed=seed)

    def no_pictures(self):
        """None, or why this configuration has nothing to draw (an untrained decoder): then it gets
        neither samples nor pictures, and its record says why."""
        return None


def _word(value):
    """A flag's value in a run name: 0.5, 1 (for 1.0 and True), softplus"""
    return f"{value:g}" if isinstance(value, float) else int(value) if isinstance(value, bool) else value
