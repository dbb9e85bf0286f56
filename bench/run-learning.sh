#!/usr/bin/env bash
# The full NIID-Bench setting of issue 3 on Fashion-MNIST (docs/benchmarks.md, "Learning (issue 3)"):
# 10 clients all taking part, 50 rounds, 10 local epochs, batch 64, SGD lr 0.01 momentum 0.9
# weight decay 1e-5, NIID-Bench simple CNN; partitions IID, Dirichlet(0.5), #C=2, #C=3;
# FedAvg and FedProx (mu 0.01); one or more seeds. Then the learning benchmarks (training
# throughput, inference latency).
#
# Long: a run is 50 rounds x 10 clients x 10 epochs x 6,000 images = 30 M CNN training samples,
# 30-70 min of one core depending on the machine. Every (seed, partition, strategy) is one job;
# PARALLEL jobs (default: the number of cores) run at once, each with THREADS intra-op threads
# (default 1), in the order seed, partition, strategy. Every run writes its CSV and a checkpoint
# of the global model after each round and goes on from there when started again (RESUME=0
# starts afresh). Runs go to $OUT/<init>-init/seed-<n>/<partition>/.
#
# Usage: bench/run-learning.sh                                  (seed 0, everything)
#        SEEDS="0 1 2" PARTITIONS=classes:2 bench/run-learning.sh  (three seeds of one partition)
#        SEEDS=42 PARTITION_RANDOM=numpy bench/run-learning.sh    (the reference's own partitions)
#        SEEDS="43 44" PARTITION_SEED=42 PARTITION_RANDOM=numpy bench/run-learning.sh
#                                                   (the reference's partition, other training seeds)
#        STRATEGIES="fedprox:0.001 fedprox:0.01 fedprox:0.1 fedprox:1" bench/run-learning.sh
#                                                   (FedProx's mu grid: the reference published the
#                                                    best mu per partition, design 0011)
#        ROUNDS=2 EPOCHS=1 TRAIN_SAMPLES=2000 BENCHMARKS=0 bench/run-learning.sh   (a smoke run)
# Needs Debian's dataset-fashion-mnist (/usr/share/datasets/fashion-mnist) and the .NET SDK.
set -euo pipefail
cd "$(dirname "$0")/.."

OUT=${OUT:-experiments/niid-bench}
ROUNDS=${ROUNDS:-50}
EPOCHS=${EPOCHS:-10}
THREADS=${THREADS:-1}
PARALLEL=${PARALLEL:-$(nproc)}
SEEDS=${SEEDS:-0}
INIT=${INIT:-torch}                 # torch: PyTorch's defaults, as the published runs (design 0011)
# numpy: partitions drawn by numpy's RandomState, index-identical to Flower's for the same seed
# (its default dataset seed is 42); runs go to $OUT/<init>-init-numpy-partitions/ instead.
PARTITION_RANDOM=${PARTITION_RANDOM:-dotnet}
# PARTITION_SEED: one partition for every seed (Flower's published runs all used dataset seed 42,
# varying only PyTorch's unseeded initialization and shuffles); runs go to
# $OUT/<init>-init[-numpy]-partition-<n>/seed-<n>/ instead.
PARTITION_SEED=${PARTITION_SEED:-}
PARTITIONS=${PARTITIONS:-"iid dirichlet:0.5 classes:2 classes:3"}
STRATEGIES=${STRATEGIES:-"fedavg fedprox:0.01"}
TRAIN_SAMPLES=${TRAIN_SAMPLES:-0}   # 0: all 60,000
RESUME=${RESUME:-1}
BENCHMARKS=${BENCHMARKS:-1}         # 0: skip the training and inference benchmarks
# JOBS: an explicit list of "seed partition strategy" lines (or ;-separated), run in that order
# instead of every combination of SEEDS, PARTITIONS and STRATEGIES.
JOBS=${JOBS:-}
# EXPERIMENTS: an already built fractal-experiments.dll (so that rebuilding the tool while runs
# go on cannot replace the assembly under them); by default the tool is built here.
if [ -z "${EXPERIMENTS:-}" ]; then
  dotnet build tools/Fractal.Experiments -c Release
  EXPERIMENTS=tools/Fractal.Experiments/bin/Release/net10.0/fractal-experiments.dll
fi

{ date -u; uname -m; nproc; free -h; uptime; } > "$(mkdir -p "$OUT" && echo "$OUT")/machine.txt"

# The folder of one kind of run: <init>-init, -numpy-partitions or -numpy-partition-<n> after it.
run_root() {
  local root="$INIT-init"
  if [ -n "$PARTITION_SEED" ]; then
    root+="$([ "$PARTITION_RANDOM" = numpy ] && echo -numpy)-partition-$PARTITION_SEED"
  elif [ "$PARTITION_RANDOM" = numpy ]; then
    root+=-numpy-partitions
  fi
  echo "$root"
}

run_one() {
  local seed=$1 partition=$2 strategy=$3 dir
  dir="$OUT/$(run_root)/seed-$seed/${partition//:/-}"
  mkdir -p "$dir"
  dotnet "$EXPERIMENTS" --partition "$partition" --strategy "$strategy" \
    --clients 10 --rounds "$ROUNDS" --epochs "$EPOCHS" --batch 64 \
    --lr 0.01 --momentum 0.9 --weight-decay 1e-5 --model cnn --seed "$seed" --init "$INIT" \
    --partition-random "$PARTITION_RANDOM" ${PARTITION_SEED:+--partition-seed "$PARTITION_SEED"} \
    --train-samples "$TRAIN_SAMPLES" --threads "$THREADS" --out "$dir" \
    $([ "$RESUME" = 1 ] && echo --resume) >> "$dir/log-${strategy//:/-}.txt" 2>&1
  echo "done: seed $seed $partition $strategy (see $dir)"
}
export -f run_one run_root
export OUT ROUNDS EPOCHS THREADS INIT PARTITION_RANDOM PARTITION_SEED TRAIN_SAMPLES EXPERIMENTS RESUME

job_list() {
  if [ -n "$JOBS" ]; then
    tr ';' '\n' <<< "$JOBS" | sed 's/^ *//; /^$/d'
    return
  fi
  for seed in $SEEDS; do
    for partition in $PARTITIONS; do
      for strategy in $STRATEGIES; do echo "$seed $partition $strategy"; done
    done
  done
}

job_list | xargs -P "$PARALLEL" -L 1 bash -c 'run_one "$@"' _

# Best accuracy per run, and per cell the mean and spread over seeds, against the published table.
dotnet "$EXPERIMENTS" summary "$OUT/$(run_root)" | tee "$OUT/$(run_root)/summary.md"

if [ "$BENCHMARKS" = 1 ]; then
  dotnet build bench/Fractal.Benchmarks -c Release
  BENCH=bench/Fractal.Benchmarks/bin/Release/net10.0/Fractal.Benchmarks.dll
  dotnet "$BENCH" training | tee "$OUT/training.md"
  dotnet "$BENCH" inference | tee "$OUT/inference.md"
fi
