#!/usr/bin/env bash
# lakehouse-api's "Complete Ingestion Workflow" example, changed only in its base URL and credentials.
#   API=http://localhost:8080/pluginsv2/headrace/api/v1 AUTH="Authorization: Bearer $TOKEN" \
#     bash docs/examples/ingestion-workflow.sh
# It expects the file s3://my-bucket/data/transactions.json (POST /upload with bucket=my-bucket,
# path=data) and the catalog iceberg_data (POST /catalog) to exist.
set -u
API="${API:-http://localhost:8080/pluginsv2/headrace/api/v1}"
AUTH="${AUTH:?set AUTH, e.g. AUTH=\"Authorization: Bearer \$TOKEN\"}"

# 1. Check authentication status
curl -H "$AUTH" $API/auth/status

# 2. Get default configuration
curl -H "$AUTH" $API/ingestion/config/default

# 3. Validate configuration
curl -H "$AUTH" -X POST $API/ingestion/validate \
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
JOB_ID=$(curl -H "$AUTH" -X POST $API/ingestion/jobs \
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

# 5. Monitor job status
while true; do
  STATUS=$(curl -H "$AUTH" -s $API/ingestion/jobs/$JOB_ID | jq -r '.data.status')
  echo "Job status: $STATUS"
  if [ "$STATUS" = "completed" ] || [ "$STATUS" = "failed" ]; then
    break
  fi
  sleep 5
done

# 6. Get final job details
curl -H "$AUTH" $API/ingestion/jobs/$JOB_ID
