"""Files written whole or not at all: through a temporary file and a rename, so that a reader
(a resumed run, the report) finds the old file or the new one, never half of one; and on a
failure (a full disk, a quota, a vanished folder) no temporary file is left behind to hold the
space the user needs to go on."""
import contextlib
import io
import json
import os

from torchvision.utils import save_image

TMP = ".tmp"  # a file's temporary name is its name + TMP


def write(path, data):
    """Write data (bytes or str) to path, whole or not at all.

    Raises OSError naming path (its filename) and the cause (its strerror) when the write fails;
    the temporary file is removed first.
    """
    tmp = path + TMP
    try:
        _write_file(tmp, data.encode() if isinstance(data, str) else data)
        os.replace(tmp, path)
    except OSError as e:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise OSError(e.errno, e.strerror or str(e), path) from None


def _write_file(path, data):
    """data to path, flushed to the disk: a full disk shows here, not later."""
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def write_json(path, obj):
    write(path, json.dumps(obj, indent=2))


def write_png(path, image):
    """image: tensor: (3, H, W) in [0, 1], written as a PNG"""
    buffer = io.BytesIO()
    save_image(image, buffer, format="png")
    write(path, buffer.getvalue())


def remove_leftovers(folder):
    """Remove the temporary files a killed writer left in folder (call it holding the run's lock)."""
    if os.path.isdir(folder):
        for name in os.listdir(folder):
            if name.endswith(TMP):
                os.remove(os.path.join(folder, name))
