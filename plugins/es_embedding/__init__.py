"""Operator library of the embedding chain: Elasticsearch ML models, deployments, ingest pipelines and
reindexes as Airflow 3 operators, deferrable sensors and triggers.

Lives in `plugins/` so that workers, the scheduler and the triggerer can all import it
(`es_embedding.triggers.<Class>` is the path stored with a deferred task).

Layout (imports point down this list, never up; a test holds the graph free of circles):

- stage families, one package each, their modules one stage or one job:
  - resolve: `validate_settings`, `resolve_sources`, the only readers of Variables (they push the
    run's settings snapshot)
  - model: trained model, deployment, pipeline, teardown; `model_group`, the group both DAGs open with
  - index: destination index; the reindex's start (one `ReindexStarter`), wait, completion, pooled run
  - publish: verification, alias swap, the alias's Asset event, retention
  - report: the run report and its pure pieces
  - operators: an index of every operator and sensor by class name (for older imports)
- the shared base: `base` (EsStage: connection id, hook, error translation, the settings
  snapshot, XCom; TaskMemory), `waits` (EsWait: poll once, then defer or poke through the trigger's
  own poll), `triggers` (the async polls the triggerer runs), `links` (Kibana links of any stage),
  `assets` (the Assets downstream DAGs schedule on)
- leaves, pure or nearly: `settings` (the Variables' models and the run's snapshot), `hooks`
  (connection to clients), `errors`, `checks` (what one poll's answer means), `reports`, `bodies`,
  `sizing`, `intervals`, `naming`
- `provider_info`: what Airflow reads when the library is installed as a package
"""

__version__ = "0.1.0"
