"""Draw a trained run's pictures again, from its newest checkpoint:

    python -m codebase.figures checkpoints/<run name> [--out logs/<run name>]

Which pictures a model gets is declared with the model (its class's `pictures`).
"""
import argparse
import os
import sys

from codebase import UserError, data, draw, models, runtime, train


def load_newest(ckpt_dir):
    """The model of the newest checkpoint in ckpt_dir, rebuilt on the CPU. Returns model, path"""
    found = train.list_checkpoints(ckpt_dir)
    if not found:
        raise UserError(f"no checkpoint model-NNNNN.pt in {ckpt_dir}; pass the checkpoints/<run name> "
                        "folder of a trained run")
    path = found[-1][1]
    state = train.read_checkpoint(path, "delete it to draw the checkpoint before it",
                                  keys=("model", "config", "state_dict"))
    cls = models.by_name(state["model"])
    if cls is None:
        raise UserError(f"{path} holds a model {state['model']!r}; this command draws "
                        f"{', '.join(c.__name__ for c in models.ALL)}")
    model = cls(**state["config"])
    train.load_weights(model, state["state_dict"], path)
    return model, path


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m codebase.figures", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("ckpt_dir", help="a run's checkpoint folder: its newest checkpoint is drawn")
    p.add_argument("--out", help="folder for the PNGs (default: logs/<name of CKPT_DIR>)")
    p.add_argument("--data-dir", default=data.default_dir(), help="MNIST root (or set MNIST_DATA_DIR)")
    args = p.parse_args(argv)
    runtime.start()
    out = args.out or os.path.join("logs", os.path.basename(os.path.normpath(args.ckpt_dir)))
    try:
        model, path = load_newest(args.ckpt_dir)
        if model.no_pictures():
            raise UserError(f"{path}: {model.no_pictures()}")
        mnist = data.load_mnist(args.data_dir)
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return e.exit_code
    try:
        images = draw.write(model, mnist, out, model.pictures)
    except OSError as e:
        print(f"error: cannot write {e.filename}: {e.strerror}; pass --out a folder you can write to",
              file=sys.stderr)
        return 1
    print(f"{path}: wrote {', '.join(f'{name}.png' for name in images)} into {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
