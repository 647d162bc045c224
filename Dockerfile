# The Airflow image of docker-compose.yaml: the official Airflow image, requirements.txt, and the
# operator library installed as the package es-embedding-airflow (pyproject.toml), the way any Airflow
# deployment installs an operator package. dags/ and include/ are not baked in: docker-compose.yaml
# mounts them, so edits to them show up without a rebuild. Rebuild after changing requirements.txt or
# the library: `docker compose up -d --build`.
#
# AIRFLOW_VERSION must equal the apache-airflow pin in requirements.txt (tests/compose checks it).
# Python 3.12: the Elasticsearch provider pinned in requirements.txt needs Python >= 3.11.
ARG AIRFLOW_VERSION=3.3.2
ARG PYTHON_VERSION=3.12
FROM apache/airflow:${AIRFLOW_VERSION}-python${PYTHON_VERSION}

COPY --chown=airflow:0 requirements.txt /requirements.txt

# Naming apache-airflow at the image's own version keeps pip from up- or downgrading Airflow while it
# resolves requirements.txt (the image's ENV AIRFLOW_VERSION is the version it was built from).
RUN pip install --no-cache-dir "apache-airflow==${AIRFLOW_VERSION}" -r /requirements.txt

# The library last, so that changing it rebuilds only these layers. Its dependencies are already
# satisfied by requirements.txt; pip checks that they are.
COPY --chown=airflow:0 pyproject.toml README.md CHANGELOG.md /opt/es-embedding/
COPY --chown=airflow:0 plugins/es_embedding /opt/es-embedding/plugins/es_embedding
RUN pip install --no-cache-dir "apache-airflow==${AIRFLOW_VERSION}" /opt/es-embedding
