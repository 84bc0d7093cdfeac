#!/usr/bin/env bash
# Smoke-test a built API image as compose runs it: train with the monitor image into a fresh
# models volume, start the API image on it (read-only), check /ready and /predict. Used by CI
# (`make smoke-test IMAGE=... MONITOR_IMAGE=...`); needs a Docker engine and both images.
set -euo pipefail
cd "$(dirname "$0")/.."
image="${1:?usage: smoke_test.sh IMAGE MONITOR_IMAGE}"
monitor_image="${2:?usage: smoke_test.sh IMAGE MONITOR_IMAGE}"
port="${SMOKE_PORT:-8000}"
name="smoke-test-$$"

cleanup() {
  docker rm -f -v "${name}" >/dev/null 2>&1 || true
  docker volume rm "${name}-models" >/dev/null 2>&1 || true
}
trap cleanup EXIT
health() { docker inspect --format '{{ "{{" }}.State.Health.Status{{ "}}" }}' "${name}"; }

docker volume create "${name}-models" >/dev/null
{%- if cookiecutter.__app_dataset == "csv" %}
# The image holds code, not data: training reads your CSV from a read-only mount, as in compose.
docker run --rm -v "${name}-models:/app/models" \
  -v "${PWD}/data/dataset.csv:/app/data/dataset.csv:ro" "${monitor_image}" train
{%- else %}
docker run --rm -v "${name}-models:/app/models" "${monitor_image}" train
{%- endif %}
docker run -d --name "${name}" -p "127.0.0.1:${port}:8000" -v "${name}-models:/app/models:ro" "${image}"
# The image's own HEALTHCHECK (GET /ready inside the container) must pass, not just the port.
for _ in $(seq 90); do
  if [ "$(health)" != starting ]; then break; fi
  sleep 1
done
if [ "$(health)" != healthy ]; then
  echo "error: ${image}: the container is $(health), not healthy; its log:" >&2
  docker logs --tail 30 "${name}" >&2
  exit 1
fi
curl -fsS "http://127.0.0.1:${port}/ready"
echo
# The served model's own example record (a real row of its training data), from GET /model.
example="$(curl -fsS "http://127.0.0.1:${port}/model" | python3 -c \
  'import json, sys; print(json.dumps({"features": json.load(sys.stdin)["feature_schema"]["example"]}))')"
curl -fsS -X POST "http://127.0.0.1:${port}/predict" -H 'Content-Type: application/json' \
  -d "${example}"
echo
test "$(docker exec "${name}" id -u)" != 0
