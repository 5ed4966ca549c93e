# Headrace on the official Apache Airflow image (api-server, scheduler, dag-processor, triggerer).
#
# Follows the "extending the image" pattern of the Airflow docker-stack docs: start from
# apache/airflow, stay the unprivileged "airflow" user (uid 50000, gid 0) and pip-install on top.
# constraints.txt pins apache-airflow to the base image's version, so pip never up- or downgrades
# Airflow itself. Built by docker-compose.yaml; on its own:
#   docker build -t headrace-airflow .
FROM apache/airflow:3.3.2-python3.11

USER airflow

# Only what the install needs, so that local clutter (.venv, build/, caches) never reaches the image.
# README* may be missing: setup.cfg's long_description then is simply empty.
COPY --chown=airflow:root setup.cfg pyproject.toml constraints.txt README* /opt/airflow/headrace-src/
COPY --chown=airflow:root providers/ /opt/airflow/headrace-src/providers/

WORKDIR /opt/airflow/headrace-src
RUN pip install --no-cache-dir -c constraints.txt ".[postgres]" \
    && python -c "import airflow, headrace; print('airflow', airflow.__version__, 'headrace', headrace.__version__)"

# The plugins-folder shim (the plugin itself comes from the package's airflow.plugins entry point);
# docker-compose.yaml bind-mounts ./plugins and ./dags over these folders.
COPY --chown=airflow:root plugins/ /opt/airflow/plugins/

# Local storage root of Headrace (uploads, staging); docker-compose.yaml mounts a named volume here,
# which Docker seeds with this folder's owner and mode. Group 0 may write, for any AIRFLOW_UID.
RUN mkdir -p /opt/airflow/headrace/storage && chmod -R g+rwX /opt/airflow/headrace

WORKDIR /opt/airflow
