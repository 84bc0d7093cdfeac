# Start and stop the API in the background; `source` this file, then call the functions.
# The server is stopped by its PID, never by name; its log goes to $SERVER_LOG.

APP_PORT="${APP_PORT:-8000}"
export APP_PORT
SERVER_URL="http://127.0.0.1:${APP_PORT}"
SERVER_LOG="${SERVER_LOG:-$(mktemp -t {{ cookiecutter.project_slug }}-server.XXXXXX)}"

# Fails when something already listens on APP_PORT: its answers would pass for ours.
require_free_port() {
  if (exec 3<>"/dev/tcp/127.0.0.1/${APP_PORT}") 2>/dev/null; then
    echo "error: 127.0.0.1:${APP_PORT} is already in use by another process: stop it, or" \
      "choose a free port, e.g. APP_PORT=$((APP_PORT + 1)) make demo" >&2
    return 1
  fi
}

start_server() {
  require_free_port
  uv run --all-extras {{ cookiecutter.project_slug }} serve >"${SERVER_LOG}" 2>&1 &
  SERVER_PID=$!
  trap stop_server EXIT
  echo "server log: ${SERVER_LOG}"
  for _ in $(seq 120); do
    # Ours, first: a server that failed to start (a port taken since) must not pass for ready.
    if ! kill -0 "${SERVER_PID}" 2>/dev/null; then break; fi
    if curl -fsS "${SERVER_URL}/ready" >/dev/null 2>&1; then return 0; fi
    sleep 0.5
  done
  echo "the server did not become ready at ${SERVER_URL}; the end of its log:" >&2
  tail -n 20 "${SERVER_LOG}" >&2
  return 1
}

stop_server() {
  if [ -n "${SERVER_PID:-}" ] && kill -0 "${SERVER_PID}" 2>/dev/null; then
    kill -TERM "${SERVER_PID}"
    wait "${SERVER_PID}" 2>/dev/null || true
  fi
  SERVER_PID=""
}
