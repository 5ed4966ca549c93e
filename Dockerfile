# Headrace on the official Apache Airflow image (api-server, scheduler, dag-processor, triggerer).
#
# Follows the "extending the image" pattern of the Airflow docker-stack docs: start from
# apache/airflow, stay the unprivileged "airflow" user (uid 50000, gid 0) and pip-install on top.
# constraints.txt pins apache-airflow to the base image's version, so pip never up- or downgrades
# Airflow itself. Built by docker-compose.yaml; on its own:
#   docker build -t headrace-airflow .
FROM apache/airflow:3.3.2-python3.11

# Java for Spark: the Spark engine's spark-submit runs in the Airflow containers, and the compose
# stack's Spark master and worker run from this same image, so Spark is always the pinned pyspark.
USER root
RUN apt-get update \
    && apt-get install -y --no-install-recommends openjdk-17-jre-headless \
    && apt-get clean && rm -rf /var/lib/apt/lists/*
ENV JAVA_HOME=/usr/lib/jvm/java-17-openjdk-amd64

USER airflow

# Only what the install needs, so that local clutter (.venv, build/, caches) never reaches the image.
# README* may be missing: setup.cfg's long_description then is simply empty.
COPY --chown=airflow:root setup.cfg pyproject.toml constraints.txt README* /opt/airflow/headrace-src/
COPY --chown=airflow:root providers/ /opt/airflow/headrace-src/providers/

WORKDIR /opt/airflow/headrace-src
RUN pip install --no-cache-dir -c constraints.txt ".[postgres,spark]" \
    && python -c "import airflow, headrace; print('airflow', airflow.__version__, 'headrace', headrace.__version__)"

# Reading and writing s3a:// (MinIO) from Spark needs hadoop-aws and the AWS SDK it was built against,
# which pyspark does not ship. Ivy resolves both for the Hadoop version of pyspark's own client jars
# (hadoop-client-api-<version>.jar), and they join pyspark's jars, so spark-submit, the master and the
# worker all have them on their classpath without any network access at run time.
RUN set -eux; \
    jars="$(python -c 'import os, pyspark; print(os.path.join(os.path.dirname(pyspark.__file__), "jars"))')"; \
    hadoop="$(ls "$jars" | sed -n 's/^hadoop-client-api-\(.*\)\.jar$/\1/p')"; \
    test -n "$hadoop"; \
    echo 'print("resolved")' > /tmp/noop.py; \
    spark-submit --master 'local[1]' --conf spark.jars.ivy=/tmp/ivy \
        --packages "org.apache.hadoop:hadoop-aws:${hadoop}" /tmp/noop.py; \
    cp /tmp/ivy/jars/*.jar "$jars"/; \
    rm -rf /tmp/ivy /tmp/noop.py "$HOME/.ivy2" "$HOME/.ivy2.5.2"; \
    ls "$jars" | grep -E '^(hadoop-aws|bundle|aws-java-sdk)'

# The plugins-folder shim (the plugin itself comes from the package's airflow.plugins entry point);
# docker-compose.yaml bind-mounts ./plugins and ./dags over these folders.
COPY --chown=airflow:root plugins/ /opt/airflow/plugins/

# Local storage root of Headrace (uploads, staging); docker-compose.yaml mounts a named volume here,
# which Docker seeds with this folder's owner and mode. Group 0 may write, for any AIRFLOW_UID.
RUN mkdir -p /opt/airflow/headrace/storage && chmod -R g+rwX /opt/airflow/headrace

WORKDIR /opt/airflow
