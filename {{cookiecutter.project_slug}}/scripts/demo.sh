#!/usr/bin/env bash
# The whole loop without Docker: train, evaluate, predict, serve, send traffic, detect drift,
# send labels, detect the drop in performance, retrain on the labels behind the gate, serve
# the new champion, and see the gate keep a worse challenger out. Run it with `make demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/server.sh
cli() { uv run --all-extras {{ cookiecutter.project_slug }} "$@"; }
# Runs `cli monitor ...` and stops the demo, loudly, unless it exits with one of the statuses
# this demo announces (the first argument: "0", or "0 3" for either).
monitor_expecting() {
  local expected=$1 status=0
  shift
  cli monitor "$@" || status=$?
  echo "monitor exit status: ${status} (0 no drift, 3 drift, 4 not enough data, 5 performance degraded, 1 error)"
  if [[ " ${expected} " != *" ${status} "* ]]; then
    echo "demo: FAILED: expected monitor exit status ${expected// / or }, got ${status}" >&2
    exit 1
  fi
}
# The labelling system's token (the server and simulate-traffic --labels share it).
export APP_FEEDBACK_TOKEN="${APP_FEEDBACK_TOKEN:-demo-feedback-token}"
require_free_port  # before training: step 2 serves there

echo "== 1. train, evaluate, predict"
cli train
cli evaluate
cli predict examples/records.csv

echo "== 2. serve on ${SERVER_URL}"
start_server
curl -fsS "${SERVER_URL}/ready"; echo
curl -fsS -X POST "${SERVER_URL}/predict" -H 'Content-Type: application/json' \
  -d @examples/request.json; echo

echo "== 3. normal traffic, then the drift job: expect no drift (exit 0)"
cli simulate-traffic --url "${SERVER_URL}" --records 1000 --batch-size 50
monitor_expecting 0 --hours 1 --max-rows 1000

echo "== 4. 40% of the features shifted (numbers by 3 sd, one category in 90% of records): expect drift (exit 3)"
cli simulate-traffic --url "${SERVER_URL}" --records 1000 --batch-size 50 --shift-share 0.4
monitor_expecting 3 --hours 1 --max-rows 1000 --retrain
echo "(no labels yet: v1 was trained on this data with these settings, nothing new to learn)"

echo "== 5. labels come back, but the world changed (concept shift): expect exit 5, then a"
echo "   challenger that learned from the labels, promoted, and served with no restart"
traffic_with_labels() {
  cli simulate-traffic --url "${SERVER_URL}" --records "$1" --batch-size 50 --labels \
    --concept-shift 0.5 --seed "$2"
}
traffic_with_labels 1000 1
monitor_expecting 5 --hours 1 --max-rows 1000 --retrain
echo "(5, performance degraded, comes before drift)"
for _ in $(seq 60); do  # the server polls the registry every APP_MODEL_POLL_SECONDS
  if curl -fsS "${SERVER_URL}/ready" | grep -q '"model_version":"v2"'; then break; fi
  sleep 0.5
done
curl -fsS "${SERVER_URL}/ready"; echo

echo "== 6. more labels of the changed world: the new champion's live performance is ok"
echo "   (exit 0, or 3 while the shifted traffic of step 4 is still in the window)"
traffic_with_labels 600 2
monitor_expecting "0 3" --hours 1 --max-rows 1000

echo "== 7. a challenger that loses: weaker hyper-parameters (APP_MODEL_PARAMS), the same labels;"
echo "   the gate keeps it out and v2 serves on (docs/runbook.md: Challenger kept out)"
APP_MODEL_PARAMS='{{ '{"C": 0.0001}' if cookiecutter.__task == "classification" else '{"alpha": 1000000}' }}' \
  cli retrain --reason "demo: a weaker configuration"
curl -fsS "${SERVER_URL}/ready"; echo
stop_server

echo "== 8. the registry and its audit log"
cli models list
tail -n 3 "${APP_MODEL_DIR:-models}/audit.jsonl"
echo "Reports: ${APP_REPORTS_DIR:-reports}/ (open the .html file in a browser)"
