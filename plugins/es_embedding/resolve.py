"""The resolving tasks, the first of each DAG and the only ones that read Variables: they validate the
run's Params and every Variable before anything is written, check the cluster (version, licence),
resolve the run's names, and push the validated Variables as the run's settings snapshot (XCom
`settings`, es_embedding.settings) that every later task takes instead.

- `validate_settings` (ValidateRunOperator): one source, its destination, alias, query and mode.
- `resolve_sources` (ResolveSourcesOperator): the fan-out's list or pattern of sources.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from es_embedding import bodies, intervals
from es_embedding.base import EsStage
from es_embedding.endpoint.validate import check_endpoint_choice
from es_embedding.errors import LICENSE_HINT, AuthenticationError, LicenseError, SettingsError
from es_embedding.model.known import BUILTIN_MODELS, is_builtin
from es_embedding.naming import MANAGED_BY, default_alias, dest_index_name, index_name_problem
from es_embedding.publish.alias import foreign_indices
from es_embedding.settings import SNAPSHOT_KEY, ModelSettings, PipelineSettings, ReindexSettings, RunSettings

# Licence types that include machine learning (x-pack License.OperationMode).
ML_LICENCES = ("trial", "platinum", "enterprise")
WILDCARDS = "*?"


def query_problem(query: Any) -> str | None:
    """What is wrong with Param 'query' (a query DSL object has exactly one key), or None."""
    if isinstance(query, dict) and len(query) == 1:
        return None
    return f"Param 'query' has value {query!r}: a query DSL object such as {{\"match_all\": {{}}}}"


def pick_sources(found: dict[str, dict], items: Sequence[str]) -> tuple[list[str], dict[str, str]]:
    """(source indices, {skipped index: why}) from `GET <items>` entries: hidden and system indices
    (a leading dot) and indices this package created (destinations) are never sources."""
    sources, skipped = [], {}
    for name in sorted(found):
        if name.startswith("."):
            skipped[name] = "hidden or system index"
        elif bodies.managed_meta((found[name] or {}).get("mappings") or {}):
            skipped[name] = "created by es_embedding (a destination index)"
        else:
            sources.append(name)
    return sources, skipped


class ResolvingStage(EsStage):
    """What both resolving tasks check on the cluster before anything is written."""

    def check_cluster(self, settings: RunSettings) -> str:
        """The cluster's version, after refusing a version the settings cannot use (SettingsError)
        and a licence without machine learning (LicenseError): before anything is written."""
        with self.calling("reading the cluster version"):
            version = self.es.info()["version"]["number"]
        settings.check_cluster_version(version)
        self.check_ml_licence()
        check_endpoint_choice(self, settings)
        return version

    def check_ml_licence(self) -> None:
        try:
            with self.calling("reading the cluster's licence"):
                licence = self.es.license.get()["license"]
        except AuthenticationError as refused:  # no `monitor` privilege: the first ML call will tell
            self.log.warning("Not checking the cluster's licence: %s", refused)
            return
        kind, status = licence.get("type"), licence.get("status")
        if kind not in ML_LICENCES or status != "active":
            raise LicenseError(f"the cluster's licence: type {kind}, status {status}; {LICENSE_HINT}")


class ValidateRunOperator(ResolvingStage):
    """First task: validates the four Variables and the run's Params, and resolves the run's names.

    Reads only (cluster version, source index, the query's count); writes nothing. Pushes
    source_index, dest_index, alias, query, es_version, mode, interval, dest_query, and settings:
    the run's snapshot of the Variables, the only time a run reads them (es_embedding.settings).

    Mode (es_embedding.intervals): `full` embeds the query into a new index; `incremental` embeds
    only the documents whose timestamp field lies in the run's data interval into the index the
    alias points at (dest_query then scopes the verification to them); an incremental run whose
    alias does not exist yet falls back to full and says so.
    """

    def execute(self, context: Any) -> dict[str, Any]:
        settings = RunSettings.read()
        params = context["params"]
        source = (params.get("source_index") or "").strip()
        interval = intervals.run_interval(context)
        mode, why = intervals.resolve_mode(params.get("mode"), context["dag_run"], interval)
        dest_param = (params.get("dest_index") or "").strip()
        dest = dest_param or dest_index_name(
            source, settings[ModelSettings].model_id, context["dag_run"].run_after
        )
        alias = (params.get("alias") or "").strip() or default_alias(source)
        query = params.get("query") or {"match_all": {}}
        problems = [
            f"Param '{name}' has value {value!r}: {problem}"
            for name, value in (("source_index", source), ("dest_index", dest), ("alias", alias))
            if (problem := index_name_problem(value))
        ]
        if problem := query_problem(query):
            problems.append(problem)
        if len({source, dest, alias}) < 3:
            problems.append(
                f"Params source_index, dest_index and alias must differ (got {source!r}, {dest!r}, {alias!r})"
            )
        if problems:
            raise SettingsError("\n".join(problems))

        version = self.check_cluster(settings)
        with self.calling(f"reading source index [{source}]"):
            if not self.es.indices.exists(index=source):
                raise SettingsError(f"Param 'source_index': index [{source}] does not exist")
            mappings = [entry["mappings"] for entry in self.es.indices.get_mapping(index=source).values()]
        field = settings[PipelineSettings].input_field
        if not any(bodies.field_mapping_at(m, field) for m in mappings):
            raise SettingsError(
                f"Variable 'embedding_pipeline': key 'input_field' has value \"{field}\"; allowed: a field "
                f"mapped in [{source}] (none of its indices maps it)"
            )
        dest_query = {"match_all": {}}  # XCom keeps no None: "all of the destination"
        if mode == "incremental":
            target = self.alias_target(alias)
            if target is None:
                self.log.warning(
                    "Mode incremental (%s), but alias [%s] does not exist yet: falling back to mode full "
                    "(every document matching the query, into the new index [%s])",
                    why,
                    alias,
                    dest,
                )
                mode, why = "full", f"fallback: alias [{alias}] does not exist yet"
            else:
                if dest_param and dest_param != target:
                    raise SettingsError(
                        f"Param 'dest_index' has value {dest_param!r}; allowed in mode incremental: empty or "
                        f"{target!r}, the index alias [{alias}] points at"
                    )
                dest = target
                query = dest_query = self.interval_scope(params, settings, mappings, source, query, interval)
        with self.calling(f"checking Param 'query' against [{source}]"):
            matching = self.es.count(index=source, query=query)["count"]
        self.check_alias_is_ours(alias)
        self.check_model_known(settings[ModelSettings].model_id)
        self.log.info(
            "Run (%s, %s%s): [%s] (%d matching documents) -> [%s], alias [%s], ES %s",
            mode,
            why,
            f", data interval {interval}" if mode == "incremental" else "",
            source,
            matching,
            dest,
            alias,
            version,
        )
        return self.publish(
            context,
            source_index=source,
            dest_index=dest,
            alias=alias,
            query=query,
            es_version=version,
            mode=mode,
            interval=[str(interval.start), str(interval.end)] if mode == "incremental" else [],
            dest_query=dest_query,
            **{SNAPSHOT_KEY: settings.to_json()},
        )

    def check_alias_is_ours(self, alias: str) -> None:
        """The alias may only move between indices this package created: refused before any write."""
        found = self.get_or_none(f"reading alias [{alias}]", self.es.indices.get_alias, name=alias)
        if not found:
            with self.calling(f"checking [{alias}]"):
                if self.es.indices.exists(index=alias):
                    raise SettingsError(
                        f"Param 'alias' has value {alias!r}: it is a concrete index, not an alias; "
                        "allowed: a new name or an alias of indices created by this package"
                    )
            return
        foreign = sorted(foreign_indices(self, found, f"reading the indices of alias [{alias}]"))
        if foreign:
            raise SettingsError(
                f"Param 'alias' has value {alias!r}: it points at {', '.join(foreign)}, not created by "
                f"{MANAGED_BY} (mapping _meta.managed_by); allowed: a new name or an alias of indices "
                "created by this package"
            )

    def check_model_known(self, model_id: str) -> None:
        """A model the cluster has, or a built-in one it can download; anything else is refused."""
        if is_builtin(model_id):
            return
        if self.get_or_none(f"reading model [{model_id}]", self.es.ml.get_trained_models, model_id=model_id):
            return
        raise SettingsError(
            f"Variable 'embedding_model': key 'model_id' has value \"{model_id}\"; allowed: a trained model "
            f"in the cluster, or a built-in one ({', '.join(['.elser_model_2', *BUILTIN_MODELS])})"
        )

    def alias_target(self, alias: str) -> str | None:
        """The one index `alias` points at (incremental runs write there), or None when it does not exist."""
        found = self.get_or_none(f"reading alias [{alias}]", self.es.indices.get_alias, name=alias)
        targets = sorted(found or {})
        if len(targets) > 1:
            raise SettingsError(
                f"Param 'alias': alias [{alias}] points at {len(targets)} indices ({', '.join(targets)}); "
                "mode incremental needs exactly one to write into"
            )
        return targets[0] if targets else None

    def interval_scope(self, params, settings, mappings, source, query, interval) -> dict:
        """The query restricted to the data interval on the timestamp field (Param, else Variable)."""
        field = (params.get("timestamp_field") or "").strip()
        origin = "Param 'timestamp_field'"
        if not field:
            field = settings[ReindexSettings].timestamp_field
            origin = "Variable 'embedding_reindex': key 'timestamp_field'"
        if problem := intervals.timestamp_problem(mappings, field):
            raise SettingsError(f"{origin} has value {json.dumps(field)}; allowed: {problem} [{source}]")
        return intervals.interval_query(query, field, interval)


class ResolveSourcesOperator(ResolvingStage):
    """First task of the fan-out: validates the four Variables and the Params, resolves Param
    `source_indices` (names and `*` patterns) to concrete indices, and names each one's destination
    and alias. Reads only. Returns [{source_index, dest_index, alias}]; pushes query, es_version and
    settings (the run's snapshot of the Variables, see es_embedding.settings)."""

    def execute(self, context: Any) -> list[dict[str, str]]:
        settings = RunSettings.read()
        params = context["params"]
        items = [str(item).strip() for item in params.get("source_indices") or []]
        query = params.get("query") or {"match_all": {}}
        problems = []
        if not items or not all(items):
            problems.append(
                f"Param 'source_indices' has value {items!r}: a non-empty list of names or patterns"
            )
        for item in items:
            if problem := index_name_problem(item.replace("*", "x").replace("?", "x")):
                problems.append(f"Param 'source_indices' has item {item!r}: {problem}")
        if problem := query_problem(query):
            problems.append(problem)
        if problems:
            raise SettingsError("\n".join(problems))
        version = self.check_cluster(settings)

        found: dict[str, dict] = {}
        for item in items:
            entries = self.get_or_none(
                f"resolving [{item}]",
                self.es.indices.get,
                index=item,
                expand_wildcards="open",
                allow_no_indices=True,
            )
            if not entries and not any(c in item for c in WILDCARDS):
                raise SettingsError(f"Param 'source_indices': index [{item}] does not exist")
            found.update(dict(entries or {}))
        sources, skipped = pick_sources(found, items)
        for name, why in skipped.items():
            self.log.info("Not a source: [%s] (%s)", name, why)
        if not sources:
            raise SettingsError(
                f"Param 'source_indices' has value {items!r}: it matches no index to embed "
                f"(skipped: {', '.join(skipped) or 'none'})"
            )
        field = settings[PipelineSettings].input_field
        unmapped = [s for s in sources if not bodies.field_mapping_at(found[s].get("mappings") or {}, field)]
        if unmapped:
            raise SettingsError(
                f"Variable 'embedding_pipeline': key 'input_field' has value \"{field}\"; allowed: a field "
                f"mapped in every source index (not mapped in {', '.join(unmapped)}); narrow "
                "Param 'source_indices'"
            )
        run_after = context["dag_run"].run_after
        indices = [
            {
                "source_index": source,
                "dest_index": dest_index_name(source, settings[ModelSettings].model_id, run_after),
                "alias": default_alias(source),
            }
            for source in sources
        ]
        self.log.info("Fan-out over %d indices: %s", len(indices), indices)
        self.publish(context, query=query, es_version=version, **{SNAPSHOT_KEY: settings.to_json()})
        return indices  # the return value: dynamic task mapping expands over it
