#!/usr/bin/env bash
# Start Headrace on its embedded defaults: `airflow standalone` on SQLite with the Headrace plugin,
# local storage, the Iceberg SQL catalog on SQLite and the Arrow engine. Used by `make run`.
#
# Ports: the API on AIRFLOW__API__PORT (8080; refused with a clear message when taken), the log
# servers of the task runner and the triggerer on AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT (8793)
# and AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT (8794): when those are not set and the default is
# taken (another Airflow on this machine), a free port is used instead.
#
# Ctrl-C or SIGTERM stops the whole deployment (standalone and every process it started) and exits 0.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${VENV:-$repo/.venv}"
case "$venv" in /*) ;; *) venv="$repo/$venv" ;; esac

export PATH="$venv/bin:$PATH"  # standalone starts its components as `airflow ...`
export AIRFLOW_HOME="${AIRFLOW_HOME:-$repo/airflow-home}"
export AIRFLOW__CORE__DAGS_FOLDER="${AIRFLOW__CORE__DAGS_FOLDER:-$repo/dags}"
export AIRFLOW__CORE__PLUGINS_FOLDER="${AIRFLOW__CORE__PLUGINS_FOLDER:-$repo/plugins}"
export AIRFLOW__CORE__LOAD_EXAMPLES="${AIRFLOW__CORE__LOAD_EXAMPLES:-False}"
# Definitions the APIs deploy go under AIRFLOW_HOME, never into the checkout's dags/workflows/ (the
# shipped, read-only [headrace] workflows_folder, which is left at its default).
export AIRFLOW__HEADRACE__DEFINITIONS_FOLDER="${AIRFLOW__HEADRACE__DEFINITIONS_FOLDER:-$AIRFLOW_HOME/headrace/definitions}"
port="${AIRFLOW__API__PORT:-8080}"
export AIRFLOW__API__PORT="$port"
# Task processes reach the api-server's Execution API here; Airflow's default assumes port 8080.
export AIRFLOW__CORE__EXECUTION_API_SERVER_URL="${AIRFLOW__CORE__EXECUTION_API_SERVER_URL:-http://localhost:$port/execution/}"
mkdir -p "$AIRFLOW_HOME"

# port_state PORT: "free" or "taken" (bound by another process, on any address).
port_state() {
  "$venv/bin/python" - "$1" <<'PY'
import socket, sys
with socket.socket() as sock:
    try:
        sock.bind(("0.0.0.0", int(sys.argv[1])))
    except OSError:
        print("taken")
    else:
        print("free")
PY
}

# log_port VARIABLE DEFAULT: the variable's value when set, else DEFAULT if free, else a free port.
log_port() {
  local name="$1" default="$2" chosen
  if [ -n "${!name:-}" ]; then
    chosen="${!name}"
  elif [ "$(port_state "$default")" = free ]; then
    chosen="$default"
  else
    chosen="$("$venv/bin/python" -c 'import socket; s = socket.socket(); s.bind(("0.0.0.0", 0)); print(s.getsockname()[1])')"
    echo "Port $default is taken (another Airflow?): $name=$chosen" >&2
  fi
  export "$name=$chosen"
}

if [ "$(port_state "$port")" = taken ]; then
  echo "Port $port is taken (another Airflow or web server?): start with AIRFLOW__API__PORT=<free port> make run" >&2
  exit 1
fi
log_port AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT 8793
log_port AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT 8794

ui="http://localhost:$port"
api="$ui/pluginsv2/headrace/api/v1"
passwords="$AIRFLOW_HOME/simple_auth_manager_passwords.json.generated"

# `airflow standalone` starts the scheduler, api-server, dag-processor and triggerer, and they start
# their own helpers (log servers, workers, task processes): run it in a session of its own, so that
# Ctrl-C in this terminal reaches only this script, which then ends that whole session and exits 0.
# A background job of a script starts with SIGINT ignored; standalone stops its components cleanly on
# SIGINT (KeyboardInterrupt), so it is given the default disposition back before it starts.
setsid "$venv/bin/python" -c 'import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); os.execv(sys.argv[1], sys.argv[1:])' \
  "$venv/bin/airflow" standalone &
pid=$!

alive() {  # any process left of standalone's session (or, without pgrep, its process group)
  if command -v pgrep >/dev/null; then
    pgrep -s "$pid" >/dev/null
  else
    kill -0 -- "-$pid" 2>/dev/null
  fi
}
signal_all() {
  kill "-$1" -- "-$pid" 2>/dev/null || true
  if command -v pkill >/dev/null; then pkill "-$1" -s "$pid" 2>/dev/null || true; fi
}
wait_gone() {  # wait_gone SECONDS: true once nothing of the session is left
  local deadline=$((SECONDS + $1))
  while alive; do
    [ "$SECONDS" -lt "$deadline" ] || return 1
    sleep 0.5
  done
}
stop() {
  alive || return 0
  echo "Stopping Airflow standalone and everything it started..."
  # SIGINT is standalone's own way to stop: it terminates each component and waits for it.
  kill -INT "$pid" 2>/dev/null || true
  wait_gone 18 && return 0
  signal_all TERM  # whatever outlived it (helpers of the components)
  wait_gone 6 && return 0
  echo "Still running: killing what is left." >&2
  signal_all KILL
  wait_gone 4 || echo "Some processes of session $pid did not end." >&2
}
trap stop EXIT
trap 'trap - EXIT INT TERM; stop; echo "Stopped."; exit 0' INT TERM

echo "Starting Airflow standalone with Headrace in $AIRFLOW_HOME (this takes about a minute)..."
until curl -fsS -o /dev/null "$api/health" 2>/dev/null; do
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "airflow standalone exited; see the output above." >&2
    exit 1
  fi
  if [ "$SECONDS" -gt 300 ]; then
    echo "The Headrace API did not answer at $api/health within 5 minutes; see the output above." >&2
    exit 1
  fi
  sleep 1
done

cat <<INFO

==================== Headrace is running ====================
 Airflow UI:   $ui
 Headrace API: $api   (OpenAPI: $api/openapi.json)
 Admin login:  $("$venv/bin/python" - "$passwords" <<'PY'
import json, sys
try:
    users = json.load(open(sys.argv[1]))
except OSError:
    print("see the 'Password for user' line above")
else:
    print(", ".join(f"{name} / {password}" for name, password in users.items()))
PY
)
 Passwords:    $passwords
 Deployed definitions: $AIRFLOW__HEADRACE__DEFINITIONS_FOLDER
 Log servers:  ports $AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT (tasks), $AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT (triggerer)
 Expected warnings above, not errors: the FAB provider's blueprint deprecation, and
   "SimpleAuthManager ... looks like production" (this development setup keeps generated
   passwords in the file above; use a real auth manager in production).
 Stop with Ctrl-C.
=============================================================
INFO
wait "$pid"
