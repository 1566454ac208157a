"""Run records: reading them (each run's logs/<run name>/metrics.json) and aggregating replicates.

A record holds its model (class name), its configuration (the constructor's arguments) and how
it was trained: its variant, the precision of its products and whether its steps were compiled
("fp32", "bf16", "fp32 compiled", "bf16 compiled"); the replicates of one configuration are the
records that agree on those three.
"""
import glob
import json
import math
import os
import re
import statistics
import sys
from collections import defaultdict


def mean_se(values):
    """(mean, standard error = sample std / sqrt(n)); the error is nan for one value."""
    n = len(values)
    return statistics.fmean(values), statistics.stdev(values) / math.sqrt(n) if n > 1 else math.nan


def load(folders):
    """The records of every <folder>/*/metrics.json that parses, warning about the others.

    Each record is the run's JSON with "dir", its folder, added.
    """
    records = []
    for folder in folders:
        for path in sorted(glob.glob(os.path.join(folder, "*", "metrics.json"))):
            try:
                with open(path) as f:
                    record = json.load(f)
                record["metrics"], record["model"], record["config"], record["seed"]
            except (OSError, ValueError, KeyError) as e:
                print(f"warning: skipping {path}: {type(e).__name__}", file=sys.stderr)
                continue
            record["dir"] = os.path.dirname(path)
            records.append(record)
    return records


def variant(record):
    """How a record was trained: "fp32" (the course's), "bf16", "fp32 compiled" or "bf16 compiled"."""
    return record.get("precision", "fp32") + (" compiled" if record.get("compile") else "")


def describe(model, config, variant="fp32"):
    """e.g. 'Model(z_dim=10, k=500), bf16 compiled': the class, its constructor arguments, a
    variant other than the course's"""
    args = ", ".join(f"{k}={v}" for k, v in config.items())
    return f"{model}({args})" + ("" if variant == "fp32" else f", {variant}")


def counted(records):
    """Which records count: (counted, set aside), each a list of records.

    A record counts once per seed of its model, configuration and variant: the newest clean one
    (made from a committed tree, "dirty": false; or outside a git checkout, "dirty": null, as a
    user's own runs may be), else the newest made with uncommitted changes ("dirty": true: the
    pages say so, and the READMEs' tables leave its configuration out). The others are set aside,
    each with "why" added: "rerun" (an older or another record of a seed already counted) or
    "dirty" (made with uncommitted changes, beside a clean one).
    """
    by_seed = defaultdict(list)
    for r in records:
        by_seed[*_key(r), r["seed"]].append(r)
    kept, aside = [], []
    for rs in by_seed.values():
        clean = sorted((r for r in rs if not r.get("dirty")), key=lambda r: r.get("date", ""))
        pick = clean[-1:] or sorted(rs, key=lambda r: r.get("date", ""))[-1:]
        kept += pick
        aside += [{**r, "why": "dirty" if r.get("dirty") else "rerun"} for r in rs if r not in pick]
    return kept, aside


def aggregate(records):
    """Group the counted records (see counted) by what they hold: model, configuration and variant.

    Returns [{"name" (describe's), "model", "config", "variant", "n", "seeds", "values": {metric: [per seed]},
              "metrics": {metric: (mean, se)}, "commands", "dirs", "undrawn", "machine", "repeat" (the
              first seed's), "records" (times: by_cpu), "dirty" (the seeds counted from a record made with
              uncommitted changes),
              "aside" (the group's records set aside, each with its "why")}],
    sorted by name.
    """
    kept, aside = counted(records)
    groups = defaultdict(list)
    for r in kept:
        groups[_key(r)].append(r)
    out = []
    for key, rs in groups.items():
        model, _, how = key
        rs.sort(key=lambda r: r["seed"])
        values = {k: [r["metrics"][k] for r in rs] for k in rs[0]["metrics"]}
        out.append({
            "name": describe(model, rs[0]["config"], how), "model": model, "config": rs[0]["config"],
            "variant": how, "n": len(rs), "seeds": [r["seed"] for r in rs], "values": values,
            "metrics": {k: mean_se(v) for k, v in values.items()},
            "commands": sorted({r["command"] for r in rs}), "dirs": [r["dir"] for r in rs],
            "undrawn": rs[0].get("undrawn"), "machine": "; ".join(sorted({machine(r) for r in rs})),
            "repeat": rs[0].get("repeat", rs[0]["command"]), "records": rs,
            "dirty": [r["seed"] for r in rs if r.get("dirty")],
            "aside": sorted((r for r in aside if _key(r) == key), key=lambda r: (r["seed"], r.get("date", ""))),
        })
    return sorted(out, key=lambda g: g["name"])


def _key(r):
    """What replicates share: (model, configuration, variant)"""
    return r["model"], json.dumps(r["config"], sort_keys=True), variant(r)


# Commits after which the same command trains at another speed on the same CPU: (commit date, commit,
# what changed). A record made before one says so wherever its times are shown.
SPEED_CHANGES = [("2026-11-30T16:43:41Z", "7d0709f",
                  "glibc's mmap threshold raised from 1 MB, about twice the eager speed of the SSVAE's and M2's steps")]


def by_cpu(group):
    """The group's records by where each ran: {where(r): [records]}, so that times are set side by
    side only from one CPU model (or device) and thread count"""
    out = defaultdict(list)
    for r in group["records"]:
        out[where(r)].append(r)
    return dict(out)


def predates(group):
    """The SPEED_CHANGES made after the oldest of the group's records: [(date, commit, what)]"""
    oldest = min(r.get("date", "") for r in group["records"])
    return [change for change in SPEED_CHANGES if oldest < change[0]]


def asked(group):
    """The seeds the group's commands ask for: the sum of each command's --runs N (1 without it)."""
    return sum(int(m[1]) if (m := re.search(r"--runs (\d+)", c)) else 1 for c in group["commands"])


def machine(r):
    """Where a record was made, e.g. 'AMD EPYC (...), x86_64, 2 cores, 2 threads, cpu, torch 2.14.1'."""
    cpu = f"{r['cpu']}, " if "cpu" in r else ""
    threads = f"{r['threads']} thread{'' if r['threads'] == 1 else 's'}"
    return f"{cpu}{r['machine']}, {threads}, {r['device']}, torch {r['torch']}"


def trained_first(record, found, key):
    """The record, among `found`, of the run that `record`'s model trained first: the run named by
    its configuration at `key` (e.g. M1+M2's "m1_run"), of its seed, the newest record of it made
    no later than `record` (a run trained on to more iterations leaves a record at each length);
    None if there is none."""
    name = f"{record['config'].get(key)}_run={record['seed']:04d}"
    return max((r for r in found if r["name"] == name and r.get("date", "") <= record.get("date", "")),
               key=lambda r: r.get("date", ""), default=None)


def where(r):
    """What a record ran on, e.g. 'AMD EPYC (family 26, model 2, stepping 1), 2' (CPU model or device, threads)."""
    return f"{r.get('cpu', r['device'])}, {r['threads']}"


def by_seed(group, values, seeds):
    """values (one per seed of the group) of the given seeds, in their order."""
    return [values[group["seeds"].index(s)] for s in seeds]
