#!/usr/bin/env bash
# Regenerates docs/performance.md: small data of every kind (each kind's synthetic events through its real
# reference detector), tiny runs of every family (speed does not depend on how well a model is trained; the
# fidelity numbers of the bf16 section compare equally short trainings), then the three benchmarks.
# Usage: bash docs/performance.sh [WORKDIR]   (make performance)   One thread per process throughout.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
W=${1:-$ROOT/performance-output}
B=${MLFASTSIM_BIN:-$ROOT/.venv/bin}
DOC=$ROOT/docs/performance.md
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 MLFASTSIM_PROGRESS=0
mkdir -p "$W" && cd "$W"
[ -f showers.h5 ] || "$B/python" - <<'PY'
from mlfastsim.data.kinds import KINDS
for name, n in {"jet-images": 400, "particle-jets": 600, "pid": 4000, "tpc": 3000, "showers": 2000}.items():
    kind = KINDS[name]
    kind.write(f"{name}{kind.default_suffix}", kind.example(n, seed=1))
PY
C=$ROOT/configs
train() { fam=$1; data=$2; out=$3; shift 3; [ -f "$out/last.pt" ] || "$B/mlfastsim" train "$fam" --data "$data" --out "$out" "$@"; }
train gvae jet-images.parquet run-gvae --config $C/gvae.toml --max-steps 40 --set train.batch_size=16 --set data.n_max=200
train library jet-images.parquet run-library-jets --config $C/library.toml
train particle-vae particle-jets.h5 run-particle-vae --config $C/particle-vae.toml --set model.mode=detector --max-steps 60 --set train.batch_size=32
train library particle-jets.h5 run-library-particle-jets --config $C/library-particle-jets.toml
train cgan-pid pid.h5 run-cgan-pid --config $C/cgan-pid.toml --max-steps 200
train library pid.h5 run-library-pid --config $C/library-pid.toml
train cgan-tpc tpc.h5 run-cgan-tpc --config $C/cgan-tpc.toml --max-steps 90
train library tpc.h5 run-library-tpc --config $C/library-tpc.toml
train cgan-shower showers.h5 run-cgan-shower --config $C/cgan-shower.toml --max-steps 60 --set train.batch_size=64
train library showers.h5 run-library-showers --config $C/library-showers.toml
# 1. generation speed of every run beside its kind's reference simulation (and gvae-paper for jet images)
"$B/mlfastsim" bench --run run-gvae --run run-library-jets --run run-particle-vae --run run-library-particle-jets \
  --run run-cgan-pid --run run-library-pid --run run-cgan-tpc --run run-library-tpc \
  --run run-cgan-shower --run run-library-showers \
  --conditions jet-images.parquet --conditions particle-jets.h5 --conditions pid.h5 --conditions tpc.h5 \
  --conditions showers.h5 \
  --threads 1 --repeats 8 --reference-events 64 --out bench-runs.json --markdown "$DOC"
# 2. weak scaling of distributed training (seed 002's table), 1 and 2 processes, one thread each
#    at gvae's own config (batch 64, n_max 400) on 6,000 jets, so that no epoch ends inside the 30 steps
[ -f jet-images-6k.parquet ] || "$B/python" -c "from mlfastsim.data.kinds import KINDS; k = KINDS['jet-images']; k.write('jet-images-6k.parquet', k.example(6000, seed=2))"
"$B/mlfastsim" bench scaling --family gvae --data jet-images-6k.parquet --config $C/gvae.toml \
  --steps 30 --repeats 3 --nproc 1,2 --threads 1 --out bench-scaling.json --markdown "$DOC"
# 3. bf16 beside fp32, training and sampling, for every family that trains and samples; bf16 training judged
#    against the seed spread of fp32 trainings (gvae: 200 steps, where its same-seed runs part, and 3 seed pairs:
#    fp32 and bf16 at seeds 0, 1, 2, the mean paired difference judged against its standard error)
"$B/mlfastsim" bench precision --family gvae --data jet-images.parquet --config $C/gvae.toml \
  --set train.batch_size=16 --set data.n_max=200 --steps 200 --paired-seeds 3 --n-eval 150 --threads 1 --markdown "$DOC"
"$B/mlfastsim" bench precision --family particle-vae --data particle-jets.h5 --config $C/particle-vae.toml \
  --set model.mode=detector --set train.batch_size=32 --steps 60 --n-eval 200 --threads 1 --markdown "$DOC"
"$B/mlfastsim" bench precision --family cgan-pid --data pid.h5 --config $C/cgan-pid.toml --steps 200 \
  --n-eval 1000 --threads 1 --markdown "$DOC"
"$B/mlfastsim" bench precision --family cgan-tpc --data tpc.h5 --config $C/cgan-tpc.toml --steps 90 \
  --n-eval 1000 --threads 1 --markdown "$DOC"
"$B/mlfastsim" bench precision --family cgan-shower --data showers.h5 --config $C/cgan-shower.toml --steps 60 \
  --set train.batch_size=64 --n-eval 400 --paired-seeds 3 --threads 1 --markdown "$DOC"
