# Start and stop the API in the background; `source` this file, then call the functions.
# The server is stopped by its PID, never by name.

APP_PORT="${APP_PORT:-8000}"
export APP_PORT
SERVER_URL="http://127.0.0.1:${APP_PORT}"

start_server() {
  uv run --all-extras {{ cookiecutter.project_slug }} serve &
  SERVER_PID=$!
  trap stop_server EXIT
  for _ in $(seq 120); do
    if curl -fsS "${SERVER_URL}/ready" >/dev/null 2>&1; then return 0; fi
    if ! kill -0 "${SERVER_PID}" 2>/dev/null; then echo "the server exited" >&2; return 1; fi
    sleep 0.5
  done
  echo "the server did not become ready at ${SERVER_URL}" >&2
  return 1
}

stop_server() {
  if [ -n "${SERVER_PID:-}" ] && kill -0 "${SERVER_PID}" 2>/dev/null; then
    kill -TERM "${SERVER_PID}"
    wait "${SERVER_PID}" 2>/dev/null || true
  fi
  SERVER_PID=""
}
