"""codebase.records, page, readme and report: aggregation over replicates, the Markdown, the beta
plots, the READMEs' tables."""
import json
import math
import os
import re
import statistics

import pytest

import run_vae
from codebase import models, page, readme, records, report
from codebase.vae import BOUNDS
from conftest import ROOT

VAE = "VAE(z_dim=10, beta=1.0)"
SSVAE_ARGS = "z_dim=64, y_dim=10, gen_weight=0.0, class_weight=100.0"
SSVAE_0 = {"z_dim": 64, "y_dim": 10, "gen_weight": 0.0, "class_weight": 100.0}
# The command that writes results/RESULTS.md and the generated blocks of the pages below.
REPORT = "python -m codebase.report --logs results --readme README.md README.es.md docs/performance.md"


def write_run(logs, name, seed, metrics, model="VAE", config=None, undrawn=None, precision=None, train_seconds=120.0,
              **provenance):
    d = logs / f"{name}_run={seed:04d}"
    d.mkdir(parents=True)
    record = {"name": d.name, "model": model, "config": config or {"z_dim": 10, "beta": 1.0},
              "seed": seed, "iterations": 20000, "command": f"python run_vae.py --run {seed}",
              "metrics": metrics, "train_seconds": train_seconds, "eval_seconds": 1.0, "device": "cpu",
              "threads": 2, "torch": "x", "machine": "x86_64, 2 cores", "undrawn": undrawn,
              "commit": "0123456789", "dirty": False, "date": "2026-01-01T00:00:00Z", **provenance}
    if precision:
        record["precision"] = precision
    (d / "metrics.json").write_text(json.dumps(record))
    if not undrawn:
        (d / "samples.png").write_bytes(b"\x89PNG\r\n\x1a\n")


def bounds(nelbo):
    return {k: nelbo for k in BOUNDS}


def test_mean_and_standard_error_beside_the_course(tmp_path):
    for seed, nelbo in enumerate([99.0, 100.0, 104.0]):
        write_run(tmp_path, "model=vae_z=10_beta=1", seed, bounds(nelbo))
    write_run(tmp_path, "model=ssvae_gw=0_cw=100", 0, {"accuracy": 0.7}, "SSVAE", SSVAE_0,
              undrawn="the decoder never trained")
    groups = records.aggregate(records.load([str(tmp_path)]))
    ssvae, vae = groups  # in name order
    se = statistics.stdev([99, 100, 104]) / math.sqrt(3)
    assert vae["n"] == 3 and vae["metrics"]["NELBO"] == pytest.approx((101.0, se))
    assert ssvae["n"] == 1 and math.isnan(ssvae["metrics"]["accuracy"][1])
    text = page.render(groups, str(tmp_path))
    # course: NELBO 100 ± 2, so the mean 101 is inside, as are 2 of the 3 seeds
    assert f"| `{VAE}` | 3 | NELBO | 101.00 ± {se:.2f} | 100 ± 2 | yes (2/3 seeds) |" in text
    assert f"| NELBO | 101.00 ± {se:.2f} | 99.00, 100.00, 104.00 | 100 ± 2 | yes (2/3 seeds) |" in text
    # IWAE-1000: course 95 ± 2.5, so 101 is outside
    assert f"| IWAE-1000 | 101.00 ± {se:.2f} | 99.00, 100.00, 104.00 | 95 ± 2.5 | NO (0/3 seeds) |" in text
    assert f"| `SSVAE({SSVAE_ARGS})` | 1 | accuracy | 0.7000 | 0.735 ± 0.025 | NO (0/1 seeds) |" in text
    assert "`python run_vae.py --run 0`" in text and "beta_nelbo.png" not in text
    assert ("Wall time per run, mean (from min to max): training 2.0 min (from 2.0 to 2.0), evaluation 1 s, on cpu, "
            "2 threads (3 seeds)") in text
    assert "No pictures: the decoder never trained." in text and "model=ssvae_gw=0_cw=100_run=0000/samples" not in text


def test_full_test_set_rows(tmp_path):
    for seed, nelbo in enumerate([100.0, 102.0]):
        write_run(tmp_path, "model=vae_z=10_beta=1", seed,
                  dict(bounds(nelbo), **{"full/NELBO": nelbo - 1, "full/NELBO_se": 0.3 + seed / 10}))
    text = page.render(records.aggregate(records.load([str(tmp_path)])), str(tmp_path))
    assert "| NELBO, all 10000 test images | 100.00 ± 1.00 | 99.00, 101.00 | – | – |" in text
    assert "standard error over images of about 0.35 (NELBO)" in text


def test_beta_study_plots(tmp_path):
    for beta, (kl, rec) in {0.5: (25.0, 78.0), 1.0: (19.0, 82.0), 4.0: (8.0, 100.0)}.items():
        metrics = dict(bounds(kl + rec), KL=kl, Rec=rec)
        write_run(tmp_path, f"model=vae_z=10_beta={beta:g}", 0, metrics, config={"z_dim": 10, "beta": beta})
    assert report.main(["--logs", str(tmp_path)]) == 0
    text = (tmp_path / "RESULTS.md").read_text()
    assert "| 4 | 1 | 8.00 | 100.00 | 108.00 | 108.00 |" in text
    for png in page.plot_names("beta"):
        assert f"![{png[:-4]}]({png})" in text
        assert (tmp_path / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_corrupt_and_missing(tmp_path, capsys):
    write_run(tmp_path, "model=vae_z=10_beta=1", 0, bounds(100.0))
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "metrics.json").write_text("{not json")
    assert len(records.load([str(tmp_path)])) == 1
    assert "warning: skipping" in capsys.readouterr().err
    assert report.main(["--logs", str(tmp_path / "empty")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: no metrics.json") and err.count("\n") == 1


@pytest.mark.slow
def test_report_from_two_real_runs(workdir, capsys):
    assert run_vae.main(["--iw_full", "0", "--iter_max", "20", "--iter_save", "20", "--runs", "2"]) == 0
    os.makedirs("more")  # the second run, as if made on another machine
    os.rename("logs/model=vae_z=10_beta=1_run=0001", "more/model=vae_z=10_beta=1_run=0001")
    assert report.main(["--logs", "logs", "more"]) == 0
    values = [json.load(open(f"{d}/model=vae_z=10_beta=1_run={s:04d}/metrics.json"))["metrics"]["NELBO"]
              for d, s in (("logs", 0), ("more", 1))]
    text = open("logs/RESULTS.md").read()
    course = "VAE(z_dim=10, beta=1.0, hidden=300, layers=2, activation=elu)"
    assert f"| `{course}` | 2 | NELBO | {statistics.fmean(values):.2f} ± " in text
    for link in ("model=vae_z=10_beta=1_run=0000/samples.png",):
        assert f"({link})" in text and os.path.exists(os.path.join("logs", link))


def test_published_page_matches_its_records():
    """results/RESULTS.md is exactly what the report makes of the records committed beside it."""
    folder = ROOT / "results"
    groups = records.aggregate(records.load([str(folder)]))
    want = page.render(groups, str(folder), REPORT)
    assert (folder / "RESULTS.md").read_text() == want, f"rebuild it: {REPORT}"


@pytest.mark.parametrize("name, lang, blocks", [("README.md", "en", ("results", "outliers", "beta", "commands")),
                                                ("README.es.md", "es", ("results", "outliers", "beta", "commands")),
                                                ("docs/performance.md", "en", ("variants", "speed"))])
def test_the_readmes_measured_tables_are_what_the_records_make(name, lang, blocks):
    text = (ROOT / name).read_text()
    for block in blocks:
        assert text.count(f"<!-- {block} -->") == 1 and text.count(f"<!-- /{block} -->") == 1
    groups = records.aggregate(records.load([str(ROOT / "results")]))
    made = readme.blocks(groups, readme.load_benches(str(ROOT / "results")), lang)
    assert readme.fill(text, made) == text, f"rebuild: {REPORT}"
    for block in blocks:
        assert made[block] in text


def test_readme_blocks_say_which_seeds_and_means_fall_outside(tmp_path):
    for seed, nelbo in enumerate([99.0, 100.0, 104.0]):
        write_run(tmp_path, "model=vae_z=10_beta=1", seed, bounds(nelbo))
    groups = records.aggregate(records.load([str(tmp_path)]))
    blocks = readme.blocks(groups, [], "en")
    # Every metric is 99, 100, 104 here: NELBO's 100 ± 2 and IWAE-1's 99 ± 2.5 hold the mean 101
    # and seeds 0 and 1; the other bounds hold neither the mean nor seed 1.
    assert blocks["outliers"].startswith("Means outside the course's tolerance: VAE: KL, Rec, IWAE-10, IWAE-100, "
                                         "IWAE-1000. Single seeds outside it: VAE seed 0: KL, ")
    assert ("; VAE seed 1: KL, Rec, IWAE-10, IWAE-100, IWAE-1000; VAE seed 2: NELBO, KL, Rec, IWAE-1,"
            in blocks["outliers"])
    assert ("| VAE | `python run_vae.py --run 0`; `python run_vae.py --run 1`; `python run_vae.py --run 2` | 3 | "
            "NELBO / KL / Rec |") in blocks["results"]
    for old in ("", "old\n", "old\nlines\n"):
        text = f"a\n<!-- beta -->\n{old}<!-- /beta -->\nb\n"
        assert readme.fill(text, {"beta": "new\nlines"}) == "a\n<!-- beta -->\nnew\nlines\n<!-- /beta -->\nb\n"


def test_records_group_by_model_configuration_and_precision_not_by_run_name(tmp_path):
    """Two folders whose names disagree with what they hold: the records decide."""
    write_run(tmp_path, "model=anything", 0, bounds(100.0))
    write_run(tmp_path, "model=vae_z=10_beta=1", 1, bounds(102.0))
    write_run(tmp_path, "model=vae_z=10_beta=1_but_bf16", 2, bounds(90.0), precision="bf16")
    write_run(tmp_path, "model=vae_z=10_beta=1_but_gmvae", 3, bounds(95.0), model="GMVAE")
    groups = records.aggregate(records.load([str(tmp_path)]))
    assert [(g["name"], g["seeds"]) for g in groups] == [
        ("GMVAE(z_dim=10, beta=1.0)", [3]), (VAE, [0, 1]), (f"{VAE}, bf16", [2])]


def test_bf16_runs_are_held_to_the_course_and_compared_seed_by_seed_with_float32(tmp_path):
    """Older float32 records have no "precision"; the comparison pairs the seeds run in both."""
    for seed, nelbo in enumerate([99.0, 100.0, 104.0]):
        write_run(tmp_path, "model=vae_z=10_beta=1", seed, bounds(nelbo))
    for seed, nelbo in ((1, 100.5), (2, 103.0), (7, 90.0)):
        write_run(tmp_path, "model=vae_z=10_beta=1_precision=bf16", seed, bounds(nelbo), precision="bf16")
    write_run(tmp_path, "model=vae_z=10_beta=2", 0, bounds(110.0), config={"z_dim": 10, "beta": 2.0})
    groups = records.aggregate(records.load([str(tmp_path)]))
    fp32 = next(g for g in groups if g["name"] == VAE)
    assert page.sweeps(groups)["VAE", "beta"] == {1.0: fp32, 2.0: groups[-1]}  # not the bf16 runs
    text = page.render(groups, str(tmp_path))
    se = statistics.stdev([100.5, 103.0, 90.0]) / math.sqrt(3)
    assert f"| `{VAE}, bf16` | 3 | NELBO | 97.83 ± {se:.2f} | 100 ± 2 | NO (1/3 seeds) |" in text
    # seeds 1 and 2: fp32 100, 104; bf16 100.5, 103; differences 0.5 and -1
    row = readme.blocks(groups, [])["variants"].splitlines()[2]
    assert row == "| VAE, bf16 products | 1, 2 | NELBO | 102.00 ± 2.00 | 101.75 ± 1.25 | -0.25 ± 0.75 |"
    made = readme.blocks(groups, [])  # the READMEs show float32 eager rows; docs/performance.md the variants'
    assert "| VAE, bf16 products |" not in made["results"] and "| VAE | `python run_vae.py --run 0`" in made["results"]
    assert "| VAE, bf16 products | `python run_vae.py --run 1`" in made["variant_results"]


def bench_record(date, cpu, rates):
    """A benchmark record: rates {(model, compiled): it/s}, float32"""
    return {"date": date, "cpu": cpu, "device": "cpu", "threads": 2, "command": "python -m codebase.bench",
            "rows": [{"model": m, "precision": "fp32", "compile": c, "rate": r} for (m, c), r in rates.items()]}


def test_the_commands_table_projects_one_benchmark_record_of_one_cpu(tmp_path):
    """Eager beside compiled from one record, of one CPU, named: the newest that timed every model;
    a configuration other than its model's default gets none."""
    default = {"z_dim": 10, "beta": 1.0, "hidden": 300, "layers": 2, "activation": "elu"}
    for seed in range(3):
        write_run(tmp_path, "model=vae_z=10_beta=1", seed, bounds(100.0), config=default)
    write_run(tmp_path, "model=vae_z=10_beta=4", 0, bounds(100.0), config={**default, "beta": 4.0})
    every = {(cls.__name__.lower(), False): 100.0 for cls in models.ALL}
    benches = [bench_record("2026-01-01", "Old CPU", every),
               bench_record("2026-02-01", "New CPU", {**every, ("vae", False): 200 / 3, ("vae", True): 400 / 3}),
               bench_record("2026-03-01", "Newest CPU, VAE alone", {("vae", False): 1.0})]
    groups = records.aggregate(records.load([str(tmp_path)]))
    rows = readme.command_rows(groups, benches, "en")
    assert rows[0] == ("Training minutes projected by one benchmark record, on New CPU, 2 threads, 2026-02-01 "
                       "(`python -m codebase.bench`):")
    assert rows[2] == "| command | prints | training, minutes | with `--compile` |"
    assert rows[4] == "| `python run_vae.py` | NELBO / KL / Rec; IWAE-1 / 10 / 100 / 1000 | 5.0 | 2.5 |"
    assert readme.command_rows(groups, [], "en")[2] == rows[4].replace("5.0 | 2.5", "– | –")


def test_a_benchmark_row_of_another_configuration_names_its_flags_in_the_speed_and_profile_tables():
    timed = {"model": "m1m2", "flags": "--hidden 8", "precision": "fp32", "compile": False, "rate": 300.0,
             "late_rate": None, "train_minutes": 5.0, "iterations": 90000, "eval_seconds": 0.3, "peak_rss_mb": 999.0,
             "ops_ms": 3.0, "products_ms": 0.4}
    record = {**bench_record("2026-01-01", "CPU", {}), "rows": [{**timed, "flags": ""}, timed]}
    lines = readme.speed_rows([record], "en")
    assert [line.split(" | ")[1] for line in lines if "ms |" in line] == ["m1m2", "m1m2 `--hidden 8`"]
    assert [line.split(" | ")[2] for line in lines if "MB |" in line] == ["m1m2", "m1m2 `--hidden 8`"]


def test_a_configuration_with_fewer_seeds_than_its_command_asks_for_gets_no_readme_row(tmp_path):
    for seed in range(2):
        write_run(tmp_path, "model=vae_z=10_beta=1", seed, bounds(100.0))
    for seed in range(2):
        path = tmp_path / f"model=vae_z=10_beta=1_run={seed:04d}" / "metrics.json"
        path.write_text(json.dumps({**json.loads(path.read_text()), "command": "python run_vae.py --runs 3"}))
    groups = records.aggregate(records.load([str(tmp_path)]))
    assert records.asked(groups[0]) == 3 and "| VAE |" not in readme.blocks(groups, [])["results"]
    assert "2 seeds (0, 1) of the 3 its command asks for." in page.render(groups, str(tmp_path))
    write_run(tmp_path, "model=vae_z=10_beta=1", 2, bounds(100.0))  # its own command, without --runs
    groups = records.aggregate(records.load([str(tmp_path)]))
    assert records.asked(groups[0]) == 4 and "| VAE |" not in readme.blocks(groups, [])["results"]


def test_the_beyond_table_gives_both_full_test_bounds_and_the_active_dimensions(tmp_path):
    """A row per published configuration bounded on all 10000 images; "active" where recorded."""
    full = {"full/NELBO": 99.0, "full/NELBO_se": 0.3, "full/IWAE-100": 95.0, "full/IWAE-100_se": 0.3}
    default = {"z_dim": 10, "beta": 1.0, "hidden": 300, "layers": 2, "activation": "elu"}
    for seed, shift in enumerate([0.0, 2.0]):
        write_run(tmp_path, "model=vae_z=10_beta=1", seed, {**bounds(100.0), **{k: v + shift for k, v in full.items()}},
                  config=default, train_seconds=60.0 * (seed + 1))
        write_run(tmp_path, "model=iwae_z=10_iw=5", seed, {**bounds(100.0), **full, "active": 5.0 + seed}, "IWAE",
                  {"z_dim": 10, "iw": 5})
    groups = records.aggregate(records.load([str(tmp_path)]))
    rows = readme.blocks(groups, [])["beyond"].splitlines()
    assert rows[2] == "| VAE | `python run_vae.py` | 2 | 100.00 ± 1.00 | 96.00 ± 1.00 | – |"
    assert rows[3] == "| IWAE, k = 5 | `python run_vae.py` | 2 | 99.00 ± 0.00 | 95.00 ± 0.00 | 5.5 ± 0.5 |"
    assert len(rows) == 4  # the IWAE at k = 1 has no records here


def test_m1m2s_row_gives_validation_beside_test_accuracy_with_their_ranges(tmp_path):
    """M1+M2's README row: validation beside test accuracy, each with its range over seeds; no minutes
    (the commands table projects a benchmark record's)."""
    config = {"gen_weight": 1.0, "class_weight": 1.0, "z_dim": 10, "hidden": 500, "layers": 1, "code": "once",
              "activation": "relu", "m1_hidden": 300, "m1_layers": 2, "m1_activation": "elu", "m1_z": 50, "y_dim": 10,
              "m1_run": "model=vae_z=50_beta=1_validation=1"}
    for seed, (seconds, accuracy) in enumerate([(1200.0, 0.96), (1080.0, 0.97)]):
        write_run(tmp_path, "model=m1m2", seed, {"accuracy": accuracy, "accuracy_validation": accuracy - 0.01},
                  "M1M2", config, train_seconds=seconds)
    groups = records.aggregate(records.load([str(tmp_path)]))
    results = readme.blocks(groups, [])["results"].splitlines()
    at = next(i for i, row in enumerate(results) if row.startswith("| M1+M2"))
    assert results[at].endswith("| validation / test accuracy | 0.9550 ± 0.0050 (0.9500–0.9600) / "
                                "0.9650 ± 0.0050 (0.9600–0.9700) | – |")
    assert len(results) == at + 1 and "minutes" not in "\n".join(results)


def test_a_seed_counts_once_the_newest_clean_record_and_the_others_are_shown_apart(tmp_path):
    """Seed 0 recorded twice (a rerun on another CPU, newer), seed 1 clean and again with uncommitted
    changes, seed 2 only with uncommitted changes (it counts, marked, and keeps its configuration out
    of the READMEs), seed 3 outside a git checkout: each seed counts once."""
    write_run(tmp_path, "model=vae_z=10_beta=1", 0, bounds(100.0), cpu="Old CPU", date="2026-01-01T00:00:00Z")
    write_run(tmp_path / "again", "model=vae_z=10_beta=1", 0, bounds(104.0), cpu="New CPU", date="2026-02-01T00:00:00Z")
    write_run(tmp_path, "model=vae_z=10_beta=1", 1, bounds(102.0), cpu="Old CPU")
    write_run(tmp_path / "dirty", "model=vae_z=10_beta=1", 1, bounds(50.0), cpu="Old CPU", dirty=True,
              date="2026-03-01T00:00:00Z")
    write_run(tmp_path, "model=vae_z=10_beta=1", 2, bounds(50.0), cpu="Old CPU", dirty=True)
    write_run(tmp_path / "elsewhere", "model=vae_z=10_beta=1", 3, bounds(101.0), cpu="Old CPU", dirty=None)
    found = records.load([str(tmp_path / d) for d in ("", "again", "dirty", "elsewhere")])
    assert len(found) == 6
    (g,) = records.aggregate(found)  # seed 3 was made outside a git checkout; seed 2 has no clean record
    assert g["seeds"] == [0, 1, 2, 3] and g["values"]["NELBO"] == [104.0, 102.0, 50.0, 101.0]
    assert [(r["seed"], r["why"]) for r in g["aside"]] == [(0, "rerun"), (1, "dirty")]
    text = page.render([g], str(tmp_path))
    assert "4 seeds (0, 1, 2, 3)." in text
    assert "Made with uncommitted changes (no clean record of these seeds): seed 2." in text
    assert "| VAE |" not in readme.blocks([g], [])["results"]  # the READMEs never rest on a dirty record
    (g,) = records.aggregate([r for r in found if r["seed"] != 2])
    text = page.render([g], str(tmp_path))
    assert ("Not counted: seed 0 at 0123456 (Old CPU, 2026-01-01), a rerun of a seed counted above; seed 1 at "
            "0123456 (Old CPU, 2026-03-01), made with uncommitted changes.") in text
    # times side by side from one CPU each
    assert ("on New CPU, 2 threads (1 seed); training 2.0 min (from 2.0 to 2.0), evaluation 1 s, on Old CPU, "
            "2 threads (2 seeds)") in text
    assert ("| VAE | `python run_vae.py --run 0`; `python run_vae.py --run 1`; `python run_vae.py --run 3` | 3 |"
            in readme.blocks([g], [])["results"])


def test_a_benchmark_record_made_with_uncommitted_changes_is_never_shown(tmp_path):
    clean, dirty = (bench_record(date, cpu, {("vae", False): 100.0})
                    for date, cpu in (("2026-01-01", "A"), ("2026-02-01", "B")))
    (tmp_path / "bench-a.json").write_text(json.dumps({**clean, "dirty": False}))
    (tmp_path / "bench-b.json").write_text(json.dumps({**dirty, "dirty": True}))
    assert [b["cpu"] for b in readme.load_benches(str(tmp_path))] == ["A"]


def test_no_page_cites_a_record_made_with_uncommitted_changes():
    """Every run folder or benchmark record under results/ that a README, a docs/ page or the results
    page names was made from a committed tree; and no published group counts a dirty record."""
    cited = set()
    for page_path in [ROOT / "README.md", ROOT / "README.es.md", ROOT / "results" / "RESULTS.md",
                      *sorted((ROOT / "docs").glob("*.md"))]:
        text = page_path.read_text()
        cited |= set(re.findall(r"results/([\w.=/-]+?\.json)", text))
        cited |= {f"{d}/metrics.json" for d in re.findall(r"results/((?:m1m2-ablation/)?model=[\w.=-]+)", text)}
        if page_path.name == "RESULTS.md":
            cited |= {f"{d}/metrics.json" for d in re.findall(r"\]\(((?:m1m2-ablation/)?model=[\w.=-]+)/", text)}
    assert cited
    for name in sorted(cited):
        path = ROOT / "results" / name
        if path.exists():
            assert json.loads(path.read_text()).get("dirty") is False, f"{name}: cited, made with uncommitted changes"
    groups = records.aggregate(records.load([str(ROOT / "results")]))
    assert all(r["dirty"] is False for g in groups for r in g["records"])
