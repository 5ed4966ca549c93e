#!/usr/bin/env bash
# Start Headrace on its embedded defaults: `airflow standalone` on SQLite with the Headrace plugin,
# local storage, the Iceberg SQL catalog on SQLite and the Arrow engine. Used by `make run`.
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

ui="http://localhost:$port"
api="$ui/pluginsv2/headrace/api/v1"
passwords="$AIRFLOW_HOME/simple_auth_manager_passwords.json.generated"

# `airflow standalone` forks helpers that outlive it: run it as its own process group and end the
# whole group on exit.
setsid "$venv/bin/airflow" standalone &
pid=$!
stop() {
  kill -TERM -- "-$pid" 2>/dev/null || return 0
  for _ in $(seq 1 30); do
    kill -0 -- "-$pid" 2>/dev/null || return 0
    sleep 0.5
  done
  kill -KILL -- "-$pid" 2>/dev/null || true
}
trap stop EXIT
trap 'exit 130' INT TERM

echo "Starting Airflow standalone with Headrace in $AIRFLOW_HOME (this takes about a minute)..."
for _ in $(seq 1 180); do
  if curl -fsS -o /dev/null "$api/health" 2>/dev/null; then
    break
  fi
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "airflow standalone exited; see the output above." >&2
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
 Stop with Ctrl-C.
=============================================================
INFO
wait "$pid"
