#!/usr/bin/env bash
# The course's short runs and M1+M2's, each in a fresh folder, their standard output kept: what
# must not move when a change claims to compute the same numbers (each file ends with the exit
# status). Compare two commits' outputs with cmp:
#
#   git worktree add /tmp/base 23ccc21
#   bash experiments/short_runs.sh /tmp/base /tmp/out-base
#   bash experiments/short_runs.sh . /tmp/out-head
#   for i in 1 2 3 4 5 6; do cmp /tmp/out-base/$i.out /tmp/out-head/$i.out; done
#
# M1+M2's run trains its own short M1 in its folder; it runs M1+M2's defaults, which changed at
# 474dbed (--code once --activation relu): from there on its output differs from 23ccc21's by design,
# and the five course runs are what must not move. MNIST comes from --data-dir's default
# ($MNIST_DATA_DIR, or ./data of the folder the runs start in: set MNIST_DATA_DIR).
set -uo pipefail
repo=$(cd "$1" && pwd); out=$2; mkdir -p "$out"
i=0
while read -r cmd; do
  i=$((i + 1)); d=$(mktemp -d)
  # shellcheck disable=SC2086  # the flags split into words
  (cd "$d" && python "$repo"/$cmd > "$out/$i.out" 2> "$out/$i.err"; echo "$?" >> "$out/$i.out")
  rm -rf "$d"
done <<'CMDS'
run_vae.py --iter_max 300 --threads 2
run_vae.py --beta 4 --iter_max 300 --iw_full 0 --threads 2
run_gmvae.py --iter_max 300 --threads 2
run_ssvae.py -gw 0 --iter_max 300 --threads 2
run_ssvae.py --iter_max 100 --threads 2
run_m1m2.py --iter_max 100 --m1_iter_max 100 --threads 2
CMDS
