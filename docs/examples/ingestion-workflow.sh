#!/usr/bin/env bash
# lakehouse-api's "Complete Ingestion Workflow" example against a `make run` deployment.
#   TOKEN=... bash docs/examples/ingestion-workflow.sh     # a token from POST /auth/login (README step 2)
#   bash docs/examples/ingestion-workflow.sh               # or it logs in as admin with the generated password
# API defaults to the `make run` address (AIRFLOW__API__PORT, default 8080). It expects the catalog
# iceberg_data (POST /catalog) and the file s3://my-bucket/data/transactions.json (POST /upload with
# bucket=my-bucket, path=data, e.g. of docs/examples/data/transactions.json) to exist.
set -euo pipefail
command -v jq >/dev/null || { echo "this script needs jq (Debian: apt-get install jq)" >&2; exit 1; }
API="${API:-http://localhost:${AIRFLOW__API__PORT:-8080}/pluginsv2/headrace/api/v1}"
if [ -z "${TOKEN:-}" ]; then
  passwords="${AIRFLOW_HOME:-$PWD/airflow-home}/simple_auth_manager_passwords.json.generated"
  [ -r "$passwords" ] || { echo "set TOKEN, or AIRFLOW_HOME to the deployment's ($passwords not found)" >&2; exit 1; }
  TOKEN=$(jq -n --arg password "$(jq -r .admin "$passwords")" '{username: "admin", password: $password}' |
    curl -sS -X POST "$API/auth/login" -H "Content-Type: application/json" -d @- | jq -r '.access_token')
fi
AUTH="Authorization: Bearer $TOKEN"

# 1. Check authentication status
curl -sS -H "$AUTH" "$API/auth/status"

# 2. Get default configuration
curl -sS -H "$AUTH" "$API/ingestion/config/default"

# 3. Validate configuration
curl -sS -H "$AUTH" -X POST "$API/ingestion/validate" \
  -H "Content-Type: application/json" \
  -d '{
    "target": {
      "catalog": "iceberg_data",
      "schema": "sales",
      "table": "transactions"
    },
    "source": {
      "file_paths": "s3://my-bucket/data/transactions.json",
      "file_type": "json",
      "bucket_details": {
        "bucket_name": "my-bucket",
        "bucket_type": "minio"
      }
    }
  }'

# 4. Create ingestion job
JOB_ID=$(curl -sS -H "$AUTH" -X POST "$API/ingestion/jobs" \
  -H "Content-Type: application/json" \
  -d '{
    "target": {
      "catalog": "iceberg_data",
      "schema": "sales",
      "table": "transactions"
    },
    "source": {
      "file_paths": "s3://my-bucket/data/transactions.json",
      "file_type": "json",
      "bucket_details": {
        "bucket_name": "my-bucket",
        "bucket_type": "minio"
      }
    }
  }' | jq -r '.data.job_id')
[ -n "$JOB_ID" ] && [ "$JOB_ID" != null ] || { echo "the job was not created" >&2; exit 1; }

# 5. Monitor job status (until a terminal status: completed, failed or cancelled)
while true; do
  STATUS=$(curl -sS -H "$AUTH" "$API/ingestion/jobs/$JOB_ID" | jq -r '.data.status')
  echo "Job status: $STATUS"
  case "$STATUS" in
    completed | failed | cancelled) break ;;
    "" | null) echo "no status in the answer" >&2; exit 1 ;;
    *) sleep 5 ;;  # starting, running
  esac
done

# 6. Get final job details
curl -sS -H "$AUTH" "$API/ingestion/jobs/$JOB_ID"
[ "$STATUS" = completed ]
