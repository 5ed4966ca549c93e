-- Run once by the postgres image's entrypoint, on the first start with an empty data volume
-- (files in /docker-entrypoint-initdb.d run as POSTGRES_USER against POSTGRES_DB).
--
-- POSTGRES_DB (airflow) holds Airflow's metadata and Headrace's own tables; this second database
-- holds the Iceberg SQL catalog and the catalog registry ([headrace] catalog_uri).
-- To add it to an existing volume, run this statement by hand:
--   docker compose exec postgres psql -U airflow -d airflow -c 'CREATE DATABASE headrace_catalog'
CREATE DATABASE headrace_catalog;
