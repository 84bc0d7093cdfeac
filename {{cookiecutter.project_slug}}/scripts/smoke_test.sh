#!/usr/bin/env bash
# Smoke-test a built API image: train into a fresh volume, start the image, check /ready and
# /predict. Used by CI (`make smoke-test IMAGE=...`); needs a Docker engine.
set -euo pipefail
cd "$(dirname "$0")/.."
image="${1:?usage: smoke_test.sh IMAGE}"
port="${SMOKE_PORT:-8000}"
name="smoke-test-$$"

cleanup() {
  docker rm -f "${name}" >/dev/null 2>&1 || true
  docker volume rm "${name}-models" >/dev/null 2>&1 || true
}
trap cleanup EXIT

docker volume create "${name}-models" >/dev/null
{%- if cookiecutter.dataset == "csv" %}
# The image holds code, not data: training reads your CSV from a read-only mount, as in compose.
docker run --rm -v "${name}-models:/app/models" \
  -v "${PWD}/data/dataset.csv:/app/data/dataset.csv:ro" "${image}" train
{%- else %}
docker run --rm -v "${name}-models:/app/models" "${image}" train
{%- endif %}
docker run -d --name "${name}" -p "127.0.0.1:${port}:8000" -v "${name}-models:/app/models:ro" "${image}"
for _ in $(seq 60); do
  if curl -fsS "http://127.0.0.1:${port}/ready"; then break; fi
  sleep 1
done
echo
# The served model's own example record (a real row of its training data), from GET /model.
example="$(curl -fsS "http://127.0.0.1:${port}/model" | python3 -c \
  'import json, sys; print(json.dumps({"features": json.load(sys.stdin)["feature_schema"]["example"]}))')"
curl -fsS -X POST "http://127.0.0.1:${port}/predict" -H 'Content-Type: application/json' \
  -d "${example}"
echo
test "$(docker inspect --format '{{ "{{" }}.State.Health.Status{{ "}}" }}' "${name}")" != unhealthy
test "$(docker exec "${name}" id -u)" != 0
