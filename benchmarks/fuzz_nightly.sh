#!/usr/bin/env bash
# Nightly-size fuzzing (issue #19): the contract's property tests and both schemathesis phases, longer,
# on markets of other sizes and places, each round with a fresh seed that is printed first so that a
# failure can be replayed with `GIGMATCH_FUZZ_SEED=<seed> python -m pytest tests/test_reliability.py`.
#
#   bash benchmarks/fuzz_nightly.sh [ROUNDS]        (default 3 rounds; about 10-15 min a round on 2 cores)
#
# Knobs (environment): GIGMATCH_FUZZ_EXAMPLES (cases per operation, nightly 2000),
# GIGMATCH_FUZZ_STATEFUL (stateful scenarios, nightly 300), GIGMATCH_PROPERTY_EXAMPLES (per property,
# nightly 5000), GIGMATCH_FUZZ_WORKERS (market size, nightly 3000), GIGMATCH_FUZZ_REGION.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
ROUNDS=${1:-3}
REGIONS=(仁寿县 临邑县 将乐县 福建省福州市鼓楼区 河南省郑州市金水区)
export GIGMATCH_FUZZ_EXAMPLES=${GIGMATCH_FUZZ_EXAMPLES:-2000}
export GIGMATCH_FUZZ_STATEFUL=${GIGMATCH_FUZZ_STATEFUL:-300}
export GIGMATCH_PROPERTY_EXAMPLES=${GIGMATCH_PROPERTY_EXAMPLES:-5000}
export GIGMATCH_FUZZ_WORKERS=${GIGMATCH_FUZZ_WORKERS:-3000}
for round in $(seq 1 "$ROUNDS"); do
  seed=$($PY -c "import secrets; print(secrets.randbelow(2**31))")
  region=${GIGMATCH_FUZZ_REGION:-${REGIONS[$((round % ${#REGIONS[@]}))]}}
  echo "round $round/$ROUNDS: GIGMATCH_FUZZ_SEED=$seed GIGMATCH_FUZZ_REGION=$region"
  GIGMATCH_FUZZ_SEED=$seed GIGMATCH_FUZZ_REGION=$region $PY -m pytest -q -p no:cacheprovider \
    tests/test_contract_properties.py tests/test_reliability.py -k "fuzz or properties or any_table or api_models"
done
