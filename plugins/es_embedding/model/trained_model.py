"""The trained model: `ensure_model` puts it when absent (the cluster then downloads it), and
`wait_model_download` waits until it is fully defined."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from es_embedding import bodies, checks
from es_embedding.base import EsStage
from es_embedding.errors import ClusterRequestError, ModelDownloadError
from es_embedding.links import KibanaModelLink
from es_embedding.model.known import PLATFORM_SPECIFIC, is_builtin, is_elser
from es_embedding.settings import ModelSettings
from es_embedding.triggers import ModelDownloadTrigger
from es_embedding.waits import EsWait

# Seconds after its put within which a model's download task is listed: an incomplete model younger
# than that may be another run's fresh download, not a failed one.
DOWNLOAD_START_GRACE = 5.0


class EnsureModelOperator(EsStage):
    """`ensure_model`: the trained model exists (put it, which starts the download, when absent).

    Prefers ELSER's linux-x86_64 build when every ML node is linux-x86_64 and the setting asks for
    it. `force_download` deletes and re-puts a model created before this run. A model alias is resolved
    to the model it points at. Pushes model_id (the model itself), and model_alias when it was one.
    """

    operator_extra_links = (KibanaModelLink(),)

    def execute(self, context: Any) -> dict[str, Any]:
        settings = self.run_settings[ModelSettings]
        model_id = self.resolve_model_id(settings)
        existing = self.model_config(model_id)
        alias = None
        if existing and existing.get("model_id") not in (None, model_id):
            # A model alias: the run embeds with (deploys, maps, reports) the model it points at now.
            alias, model_id = model_id, existing["model_id"]
            self.log.info("Model alias [%s] points at model [%s]: the run embeds with it", alias, model_id)
        if existing and settings.force_download and self.created_before_run(existing, context):
            self.log.info("force_download: deleting model [%s] to download it again", model_id)
            with self.calling(f"deleting model [{model_id}]"):
                self.es.ml.delete_trained_model(model_id=model_id, force=True)
            existing = None
        if existing and self.download_ended_incomplete(model_id, existing):
            # Elasticsearch cannot resume a download: the model stays, not fully defined, until it is
            # deleted; putting it again starts a fresh download (what Kibana's Download does).
            self.log.warning(
                "Model [%s] is not fully defined and no download of it is running (an earlier download "
                "failed or stalled): deleting it to download it again",
                model_id,
            )
            with self.calling(f"deleting the incomplete model [{model_id}]"):
                self.es.ml.delete_trained_model(model_id=model_id, force=True)
            existing = None
        if existing:
            self.log.info(
                "Model [%s] exists (fully_defined=%s): leaving it", model_id, existing.get("fully_defined")
            )
        else:
            self.put_model(model_id)
        return self.publish(context, model_id=model_id, **({"model_alias": alias} if alias else {}))

    def resolve_model_id(self, settings: ModelSettings) -> str:
        if not (settings.prefer_platform_specific and is_elser(settings.model_id)):
            return settings.model_id
        platform = self.ml_platform()
        if platform == PLATFORM_SPECIFIC:
            return f"{settings.model_id}_{PLATFORM_SPECIFIC}"
        self.log.info(
            "ML nodes are %s: using the cross-platform [%s]",
            platform or "of unknown platform",
            settings.model_id,
        )
        return settings.model_id

    def ml_platform(self) -> str | None:
        """linux-x86_64 when the cluster says so (_ml/info) or every ML node runs Linux on x86_64."""
        with self.calling("reading _ml/info and _nodes"):
            variant = (self.es.ml.info().get("defaults") or {}).get("model_platform_variant")
            if variant:
                return variant
            nodes = self.es.nodes.info()["nodes"].values()
        platforms = {
            f"{(n.get('os') or {}).get('name', '?').lower()}-{(n.get('os') or {}).get('arch', '?')}"
            for n in nodes
            if "ml" in (n.get("roles") or [])
        }
        platforms = {p.replace("-amd64", "-x86_64") for p in platforms}
        return platforms.pop() if len(platforms) == 1 else None

    def model_config(self, model_id: str) -> dict | None:
        found = self.get_or_none(
            f"reading model [{model_id}]",
            self.es.ml.get_trained_models,
            model_id=model_id,
            include="definition_status",
        )
        configs = (found or {}).get("trained_model_configs") or []
        return configs[0] if configs else None

    def download_ended_incomplete(self, model_id: str, config: dict) -> bool:
        """A model Elasticsearch downloads itself, not fully defined, with no download task running
        and created more than DOWNLOAD_START_GRACE seconds ago (a fresh put has its task by then).
        Models uploaded part by part (eland) are never touched: their upload may be under way."""
        if config.get("fully_defined") is not False:
            return False
        if not is_builtin(model_id.removesuffix(f"_{PLATFORM_SPECIFIC}")):
            return False
        created_ms = config.get("create_time") or 0
        if time.time() * 1000 - created_ms < DOWNLOAD_START_GRACE * 1000:
            return False
        with self.calling(f"listing the download tasks of model [{model_id}]"):
            tasks = self.es.tasks.list(actions=checks.MODEL_IMPORT_ACTIONS, detailed=True)
        return checks.import_task_id(dict(tasks), model_id) is None

    @staticmethod
    def created_before_run(config: dict, context: Any) -> bool:
        started = context["dag_run"].start_date
        created_ms = config.get("create_time")
        return started is None or created_ms is None or created_ms < started.timestamp() * 1000

    def put_model(self, model_id: str) -> None:
        self.log.info("Putting model [%s]: the cluster starts downloading it", model_id)
        try:
            with self.calling(f"putting model [{model_id}]"):
                self.es.ml.put_trained_model(
                    model_id=model_id, input={"field_names": [bodies.ELSER_INPUT_FIELD]}
                )
        except ClusterRequestError as exc:
            # A concurrent run (or a retry after a lost response) created it first.
            if exc.error_type != "resource_already_exists_exception":
                raise
            self.log.info("Model [%s] was created meanwhile: leaving it", model_id)


class ModelDownloadSensor(EsWait):
    """`wait_model_download`: waits until the model is fully_defined (its download finished); a
    download that ended without it fails with the cluster's reason, and one still running at the bound
    is cancelled (ModelDownloadTrigger). Returns the model id."""

    template_fields: Sequence[str] = (*EsWait.template_fields, "model_id")
    failure = ModelDownloadError
    bound_setting = "Variable 'embedding_model': key 'timeout'"

    def __init__(self, *, model_id: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.model_id = model_id

    def wait_bounds(self) -> tuple[float, float]:
        settings = self.run_settings[ModelSettings]
        return settings.timeout, settings.poll_interval

    def make_trigger(self, poll_interval: float) -> ModelDownloadTrigger:
        return ModelDownloadTrigger(
            model_id=self.model_id, conn_id=self.es_conn_id, poll_interval=poll_interval
        )

    def succeeded(self, context: Any, event: dict) -> str:
        return event["model_id"]
