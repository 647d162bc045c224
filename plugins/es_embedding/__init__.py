"""Operator library of the embedding chain: Elasticsearch ML models, deployments, ingest pipelines and
reindexes as Airflow 3 operators, deferrable sensors and triggers.

Lives in `plugins/` so that workers, the scheduler and the triggerer can all import it
(`es_embedding.triggers.<Class>` is the path stored with a deferred task).
"""

__version__ = "0.1.0"
