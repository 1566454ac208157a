#!/usr/bin/env bash
# M1+M2's ablation (docs/m1m2.md): each trial is one run of run_m1m2.py, seed 0 (G1, L1, P1: 1), varied one
# setting at a time from the best so far, and judged on the validation accuracy (the test accuracy
# is recorded, never used to choose). A to F ran with compiled steps for speed; G on run eager, as
# run_m1m2.py trains by default.
#
#   bash experiments/m1m2_ablation.sh A B     # the trials named, in order, one at a time
#   python experiments/m1m2_table.py logs     # their table: validation, test, iterations, minutes (--page: into a page)
#
# A trial already run stops with "already exists": its record stays as it is.
set -euo pipefail
cd "$(dirname "$0")/.."
# Each trial pins M1's and M2's lengths, the defaults' when it ran (--m1_iter_max 20000 before D),
# and M2's code and activation (--code sample before G, --activation elu before L: the defaults until
# 474dbed), so that it trains what it trained then whatever the defaults are now.
declare -A TRIAL=(
  [A]="--compile --m1_iter_max 20000 --iter_max 60000 --code sample --activation elu"                # the defaults before the ablation: M1 784-300-300 ELU, 20000 iterations
  [B]="--compile --m1_iter_max 20000 --iter_max 60000 --m1_hidden 600 --m1_activation softplus --code sample --activation elu"  # the paper's M1: two hidden layers of 600 softplus units
  [C]="--compile --m1_iter_max 20000 --iter_max 60000 --cw 10 --code sample --activation elu"        # A (B's M1 did worse) with the paper's weight of the labels: alpha = 0.1 N, 10 per mean cross-entropy
  [D]="--compile --m1_iter_max 60000 --iter_max 60000 --code sample --activation elu"                # A (C did worse) with its M1 trained three times longer; the defaults (M2 at 90000 since f57c185: docs/m1m2.md)
  [E]="--compile --m1_iter_max 60000 --iter_max 60000 --z 50 --code sample --activation elu"         # D, the best so far, with the paper's z = 50 for M2
  [F]="--compile --m1_iter_max 60000 --iter_max 120000 --resume --code sample --activation elu"      # D (E did worse) with M2 trained twice as long (--resume: D's run, if there, is continued); eager, over 45 min a seed
  [G]="--m1_iter_max 60000 --iter_max 90000 --code once --activation elu"     # the defaults of 6244f7a (D, M2 90000) with M1's posterior computed once per image on its grey levels and drawn from at each step, as the paper's code does
  [H]="--m1_iter_max 60000 --iter_max 90000 --code once --lr_end 0 --activation elu"  # G with M2's learning rate falling to 0 along a half cosine
  [K]="--m1_iter_max 60000 --iter_max 180000 --code once --resume --activation elu"  # G (H did no better) with M2 trained twice as long (--resume: G's run, if there, is continued)
  [G1]="--m1_iter_max 60000 --iter_max 90000 --code once --run 1 --activation elu"  # G on seed 1, beside the defaults' seed 1 (its M1: run_vae.py at 6244f7a, clean)
  [L]="--m1_iter_max 60000 --iter_max 90000 --code once --activation relu"  # G with ReLU in M2's encoder and decoder (its classifier's already)
  [L1]="--m1_iter_max 60000 --iter_max 90000 --code once --activation relu --run 1"  # L on seed 1, beside G1
  [N]="--m1_iter_max 60000 --iter_max 90000 --code once --activation relu --average 0.999"  # L evaluated on M2's weights averaged over its steps, decay 0.999 (training as L's)
  [P]="--m1_iter_max 60000 --iter_max 90000 --code once --activation relu --average 0.9999"  # N with decay 0.9999, an average over about ten times as many steps
  [P1]="--m1_iter_max 60000 --iter_max 90000 --code once --activation relu --average 0.9999 --run 1"  # P (above N on validation) on seed 1, beside L1
)
for t in "$@"; do
  [[ -v "TRIAL[$t]" ]] || { echo "unknown trial $t; known: ${!TRIAL[*]}" >&2; exit 2; }
  # shellcheck disable=SC2086  # the flags split into words
  python run_m1m2.py --threads 2 ${TRIAL[$t]}
done
