"""The Airflow Variables that tune the chain: typed, defaulted, validated with ES's own limits, and the
run's snapshot of them.

One class per Variable (`VariableSettings` subclasses naming their `variable`); defining one registers
it, so adding a Variable is a matter of one class. A missing Variable means the defaults; a Variable
may set only some keys. Unknown keys and invalid values fail with one message naming the Variable,
the key, the value and what is allowed, before anything is sent to the cluster.
Defaults equal `include/variables.json` (a unit test holds them equal).

A run reads its Variables once: the resolving task (`validate_settings`, `resolve_sources`) validates
them all (`RunSettings.read`) and pushes them as one JSON object, its XCom `settings`; every later task
gets that snapshot as the templated argument `settings=snapshot_from(<resolving task>)` and takes its
part of it (`RunSettings.of(snapshot)[ReindexSettings]`). A Variable edited during a run changes
nothing in that run; to make a running run use a fixed Variable, clear the resolving task too.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, Literal, TypeVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationError,
    model_validator,
)

from es_embedding.errors import SettingsError

_TIME_UNITS = {"d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "micros": 1e-6, "nanos": 1e-9}
_TIME_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(d|h|m|s|ms|micros|nanos)\s*$")
TIME_HELP = 'an ES time string such as "30s", "5m", "2h", or a number of seconds'


def parse_duration(value: Any) -> float:
    """Seconds in an ES time string ("90s", "5m") or a plain number of seconds; must be > 0."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str) and (match := _TIME_RE.match(value)):
        seconds = float(match.group(1)) * _TIME_UNITS[match.group(2)]
    else:
        raise ValueError(TIME_HELP)
    if seconds <= 0:
        raise ValueError(f"a duration > 0: {TIME_HELP}")
    return seconds


def es_time(seconds: float) -> str:
    """The ES time string for a number of seconds, in the largest exact unit ("30m", "90s", "1500ms")."""
    for unit in ("d", "h", "m", "s"):
        count = seconds / _TIME_UNITS[unit]
        if count >= 1 and float(count).is_integer():
            return f"{int(count)}{unit}"
    # Below a second, a whole number of the largest unit that holds it (a snapshot's settings parse
    # back to the same durations); nanoseconds are ES's smallest unit.
    for unit in ("ms", "micros"):
        count = seconds / _TIME_UNITS[unit]
        if count >= 1 and abs(count - round(count)) < 1e-6:
            return f"{round(count)}{unit}"
    return f"{max(round(seconds / _TIME_UNITS['nanos']), 1)}nanos"


Seconds = Annotated[float, BeforeValidator(parse_duration), PlainSerializer(es_time, when_used="json")]


def parse_slices(value: Any) -> int | str:
    if value == "auto" or (isinstance(value, int) and not isinstance(value, bool) and value >= 1):
        return value
    raise ValueError('an integer >= 1 or "auto"')


def parse_batch_size(value: Any) -> int | str:
    if value == "auto" or (isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 10_000):
        return value
    raise ValueError('an integer 1..10000, or "auto" (sized from the deployment\'s allocations and queues)')


def parse_allocations(value: Any) -> int | str | None:
    if (
        value is None
        or value == "auto"
        or (isinstance(value, int) and not isinstance(value, bool) and value >= 1)
    ):
        return value
    raise ValueError('an integer >= 1, or "auto" (one per free ML processor, see max_processors)')


def parse_threads(value: Any) -> int | str:
    if value == "auto" or (isinstance(value, int) and not isinstance(value, bool)):
        return value  # the power-of-2 rule is checked with the other rules, naming the choices
    raise ValueError('a power of 2 <= 32: 1, 2, 4, 8, 16, 32, or "auto"')


THREAD_CHOICES = (1, 2, 4, 8, 16, 32)
QUEUE_CAPACITY_MAX = {8: 1_000_000, 9: 100_000}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# The registered Variables, in the order they are defined (and validated, and reported).
VARIABLES: dict[str, type[VariableSettings]] = {}


class VariableSettings(_Strict):
    """The settings of one Variable. A subclass that names its `variable` is registered in VARIABLES:
    validated by the resolving tasks and part of every run's snapshot."""

    variable: ClassVar[str]

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        if "variable" in cls.__dict__:
            VARIABLES[cls.variable] = cls


class ModelSettings(VariableSettings):
    """Variable `embedding_model`: which trained model, and how to wait for its download."""

    variable = "embedding_model"

    model_id: str = Field(".elser_model_2", min_length=1)
    prefer_platform_specific: bool = True
    force_download: bool = False
    timeout: Seconds = Field(1800.0, description="bound of the wait for fully_defined")
    poll_interval: Seconds = 5.0


class AdaptiveAllocations(_Strict):
    enabled: bool = True
    min_number_of_allocations: int | None = Field(None, ge=0)
    max_number_of_allocations: int | None = Field(None, ge=1)

    @model_validator(mode="after")
    def _min_le_max(self) -> AdaptiveAllocations:
        low, high = self.min_number_of_allocations, self.max_number_of_allocations
        if low is not None and high is not None and low > high:
            raise _KeyError(
                "adaptive_allocations.min_number_of_allocations",
                low,
                f"an integer <= max_number_of_allocations ({high})",
            )
        return self


class DeploymentSettings(VariableSettings):
    """Variable `embedding_deployment`: the start-deployment parameters and the wait for allocation."""

    variable = "embedding_deployment"

    deployment_id: str = Field("elser-ingest", min_length=1)
    number_of_allocations: Annotated[int | str | None, BeforeValidator(parse_allocations)] = 1
    threads_per_allocation: Annotated[int | str, BeforeValidator(parse_threads)] = 1
    max_processors: int | None = Field(None, ge=1, description="the most ML processors `auto` takes")
    queue_capacity: int = Field(10_000, ge=1, le=max(QUEUE_CAPACITY_MAX.values()))
    priority: Literal["normal", "low"] = "normal"
    adaptive_allocations: AdaptiveAllocations | None = None
    wait_for: Literal["starting", "started", "fully_allocated"] = "starting"
    timeout: Seconds = Field(30.0, description="the start API's own server-side wait")
    wanted_state: Literal["started", "fully_allocated"] = "fully_allocated"
    wait_timeout: Seconds = 1200.0
    poll_interval: Seconds = 5.0
    stop_after_run: bool = Field(
        False, description="stop the deployment after a run unless another running DAG run uses it"
    )

    @model_validator(mode="before")
    @classmethod
    def _allocations_or_adaptive(cls, data: Any) -> Any:
        # Adaptive allocations replace a fixed count: a partial Variable that only enables them
        # must not inherit the default number_of_allocations.
        adaptive = data.get("adaptive_allocations") if isinstance(data, dict) else None
        if (
            isinstance(adaptive, dict)
            and adaptive.get("enabled", True)
            and "number_of_allocations" not in data
        ):
            data = {**data, "number_of_allocations": None}
        return data

    @model_validator(mode="after")
    def _es_rules(self) -> DeploymentSettings:
        if self.threads_per_allocation not in (*THREAD_CHOICES, "auto"):
            raise _KeyError(
                "threads_per_allocation",
                self.threads_per_allocation,
                'a power of 2 <= 32: 1, 2, 4, 8, 16, 32, or "auto"',
            )
        adaptive = self.adaptive_allocations is not None and self.adaptive_allocations.enabled
        if adaptive and self.number_of_allocations is not None:
            raise _KeyError(
                "number_of_allocations",
                self.number_of_allocations,
                "null when adaptive_allocations is enabled (ES: cannot be set if adaptive allocations is enabled)",
            )
        if not adaptive and self.number_of_allocations is None:
            raise _KeyError(
                "number_of_allocations", None, "an integer >= 1 unless adaptive_allocations is enabled"
            )
        if self.priority == "low" and (
            adaptive or self.number_of_allocations != 1 or self.threads_per_allocation != 1
        ):
            raise _KeyError(
                "priority",
                "low",
                "'low' only with number_of_allocations 1, threads_per_allocation 1 and no adaptive_allocations",
            )
        return self

    @property
    def adaptive(self) -> bool:
        return self.adaptive_allocations is not None and self.adaptive_allocations.enabled

    @property
    def allocations_at_start(self) -> int:
        """Allocations the cluster must place at once (ES starts adaptive deployments at min, or 1)."""
        if self.adaptive:
            return max(self.adaptive_allocations.min_number_of_allocations or 0, 1)
        return self.number_of_allocations if isinstance(self.number_of_allocations, int) else 1

    @property
    def auto(self) -> bool:
        return "auto" in (self.number_of_allocations, self.threads_per_allocation)


class PipelineSettings(VariableSettings):
    """Variable `embedding_pipeline`: the ingest pipeline with the inference processor."""

    variable = "embedding_pipeline"

    pipeline_id: str = Field("es-embedding", min_length=1)
    input_field: str = Field("content", min_length=1)
    output_field: str = Field("content_embedding", min_length=1)
    processor_model: Literal["deployment_id", "model_id"] = "deployment_id"
    failure_field: str = Field("embedding_failure", min_length=1)
    ignore_missing: bool = False

    @model_validator(mode="after")
    def _distinct_fields(self) -> PipelineSettings:
        if len({self.input_field, self.output_field, self.failure_field}) < 3:
            raise _KeyError(
                "output_field", self.output_field, "a field other than input_field and failure_field"
            )
        return self


class ReindexSettings(VariableSettings):
    """Variable `embedding_reindex`: the reindex request, its wait, and what failures are tolerated."""

    variable = "embedding_reindex"

    batch_size: Annotated[int | str, BeforeValidator(parse_batch_size)] = "auto"
    slices: Annotated[int | str, BeforeValidator(parse_slices)] = "auto"
    requests_per_second: float = -1
    max_docs: int | None = Field(None, ge=1)
    conflicts: Literal["abort", "proceed"] = "abort"
    poll_interval: Seconds = 10.0
    timeout: Seconds = 43_200.0
    failure_policy: Literal["fail", "tolerate"] = "fail"
    max_failures: int = Field(0, ge=0)
    max_missing_embeddings: int = Field(0, ge=0)
    timestamp_field: str = Field(
        "@timestamp", min_length=1, description="date field that places a document in a data interval"
    )
    keep_indices: int | None = Field(
        2, ge=1, description="versioned indices kept per alias after a swap (null: keep all)"
    )
    max_embed_passes: int = Field(3, ge=1, le=20, description="copy and embed passes of the resume step")

    @model_validator(mode="after")
    def _es_rules(self) -> ReindexSettings:
        if self.requests_per_second != -1 and self.requests_per_second <= 0:
            raise _KeyError(
                "requests_per_second", self.requests_per_second, "-1 (unthrottled) or a number > 0"
            )
        return self


# Chunking as Elasticsearch takes it (x-pack inference `chunking`): each strategy's keys, the least
# max_chunk_size it accepts, and the chunking an endpoint uses when it is given none.
CHUNKING_KEYS = {
    "sentence": ("strategy", "max_chunk_size", "sentence_overlap"),
    "word": ("strategy", "max_chunk_size", "overlap"),
    "recursive": ("strategy", "max_chunk_size", "separators", "separator_group"),
    "none": ("strategy",),
}
CHUNK_SIZE_MIN = {"sentence": 20, "word": 10, "recursive": 10}
SEPARATOR_GROUPS = ("plaintext", "markdown")
ES_DEFAULT_CHUNKING = {"strategy": "sentence", "max_chunk_size": 250, "sentence_overlap": 1}
# Since when Elasticsearch has them: (major, minor).
SEMANTIC_TEXT_SINCE = (8, 15)
# A semantic_text mapping takes chunking_settings since 8.19 on 8.x, 9.1 on 9.x.
CHUNKING_IN_MAPPING_SINCE = {8: (8, 19), 9: (9, 1)}
CHUNKING_STRATEGY_SINCE = {"recursive": (9, 1), "none": (9, 1)}
CHUNKING_HELP = 'an object such as {"strategy": "sentence", "max_chunk_size": 250, "sentence_overlap": 1}'


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def parse_chunking_settings(value: Any) -> dict[str, Any] | None:
    """Chunking settings checked as Elasticsearch checks them (ChunkingSettingsBuilder and each
    strategy's fromMap), with its default filled in (sentence_overlap 1); None (or {}) leaves the
    chunking to the endpoint."""
    if value is None or value == {}:
        return None
    if not isinstance(value, dict):
        raise _KeyError("chunking_settings", value, f"{CHUNKING_HELP}, or null (the endpoint's chunking)")
    strategy = value.get("strategy")
    if strategy not in CHUNKING_KEYS:
        raise _KeyError(
            "chunking_settings.strategy", strategy, f"one of {', '.join(map(repr, CHUNKING_KEYS))}"
        )
    known = CHUNKING_KEYS[strategy]
    for key in value:
        if key not in known:
            raise _KeyError(
                f"chunking_settings.{key}",
                value[key],
                f"no such key for strategy '{strategy}'; known keys: {', '.join(sorted(known))}",
            )
    if strategy == "none":
        return {"strategy": "none"}
    size, least = value.get("max_chunk_size"), CHUNK_SIZE_MIN[strategy]
    if not _is_int(size) or size < least:
        raise _KeyError(
            "chunking_settings.max_chunk_size", size, f"an integer >= {least} (words per chunk; required)"
        )
    settings: dict[str, Any] = {"strategy": strategy, "max_chunk_size": size}
    if strategy == "sentence":
        overlap = value.get("sentence_overlap", 1)
        if overlap not in (0, 1) or isinstance(overlap, bool):
            raise _KeyError("chunking_settings.sentence_overlap", overlap, "0 or 1 (default 1)")
        settings["sentence_overlap"] = overlap
    elif strategy == "word":
        overlap = value.get("overlap")
        if not _is_int(overlap) or not 1 <= overlap <= size // 2:
            raise _KeyError(
                "chunking_settings.overlap",
                overlap,
                f"an integer 1..{size // 2} (at most half of max_chunk_size; required)",
            )
        settings["overlap"] = overlap
    else:
        separators, group = value.get("separators"), value.get("separator_group")
        if separators is not None and group is not None:
            raise _KeyError(
                "chunking_settings.separators", separators, "not both separators and separator_group"
            )
        if group is not None:
            if group not in SEPARATOR_GROUPS:
                raise _KeyError("chunking_settings.separator_group", group, f"one of {SEPARATOR_GROUPS}")
            settings["separator_group"] = group
        if separators is not None:
            if not (
                isinstance(separators, list) and separators and all(isinstance(s, str) for s in separators)
            ):
                raise _KeyError(
                    "chunking_settings.separators", separators, "a non-empty list of regular expressions"
                )
            settings["separators"] = separators
    return settings


ChunkingSettings = Annotated[dict[str, Any] | None, BeforeValidator(parse_chunking_settings)]


# Elasticsearch's rule for inference ids (a leading dot marks the preconfigured ones).
_INFERENCE_ID = re.compile(r"^\.?[a-z0-9](?:[a-z0-9_-]*[a-z0-9])?$")


def parse_inference_id(value: Any) -> str | None:
    if value is None or (isinstance(value, str) and _INFERENCE_ID.match(value)):
        return value
    raise _KeyError(
        "inference_id",
        value,
        "lowercase letters, digits, '-' and '_', starting and ending with a letter or digit "
        "(a leading '.' names a preconfigured endpoint), or null (es-embedding-<model>)",
    )


class InferenceSettings(VariableSettings):
    """Variable `embedding_inference`: which backend embeds the documents, and for `semantic_text`, the
    inference endpoint and how it chunks long documents."""

    variable = "embedding_inference"

    backend: Literal["ingest_pipeline", "semantic_text"] = Field(
        "ingest_pipeline",
        description="ingest_pipeline: a deployment and an inference processor; semantic_text: an inference "
        "endpoint and a semantic_text field (chunks long documents)",
    )
    inference_id: Annotated[str | None, BeforeValidator(parse_inference_id)] = Field(
        None, description="the endpoint to create or reuse; null: es-embedding-<model>"
    )
    chunking_settings: ChunkingSettings = Field(
        None, description="chunking of the semantic_text field; null: the endpoint's (sentence, 250, 1)"
    )

    @property
    def semantic_text(self) -> bool:
        return self.backend == "semantic_text"


class _KeyError(ValueError):
    """A rule on one key, raised inside validators so the message can name that key."""

    def __init__(self, key: str, value: Any, allowed: str):
        super().__init__(allowed)
        self.key, self.value, self.allowed = key, value, allowed


def format_problem(variable: str, key: str, value: Any, allowed: str) -> str:
    return f"Variable '{variable}': key '{key}' has value {json.dumps(value)}; allowed: {allowed}"


def _model_at(model: type[BaseModel], loc: tuple) -> type[BaseModel]:
    """The (nested) settings model that owns the key at `loc`."""
    for part in loc[:-1]:
        field = model.model_fields.get(part) if isinstance(part, str) else None
        nested = (
            [arg for arg in getattr(field.annotation, "__args__", ()) if isinstance(arg, type)]
            if field
            else []
        )
        model = next((arg for arg in nested if issubclass(arg, BaseModel)), model)
    return model


def _allowed_text(error: dict, model: type[BaseModel]) -> str:
    kind, ctx = error["type"], error.get("ctx") or {}
    if kind == "extra_forbidden":
        return f"no such key; known keys: {', '.join(sorted(_model_at(model, error['loc']).model_fields))}"
    if kind == "literal_error":
        return f"one of {ctx['expected']}"
    bounds = {
        "greater_than_equal": "a number >= {ge}",
        "greater_than": "a number > {gt}",
        "less_than_equal": "a number <= {le}",
        "less_than": "a number < {lt}",
        "string_too_short": "a non-empty string",
    }
    if kind in bounds:
        return bounds[kind].format(**ctx)
    if kind == "value_error":
        return str(ctx.get("error", error["msg"]))
    return error["msg"].removeprefix("Input should be ").removeprefix("Value error, ")


def _problem(variable: str, error: dict, model: type[BaseModel]) -> str:
    original = (error.get("ctx") or {}).get("error")
    if isinstance(original, _KeyError):
        return format_problem(variable, original.key, original.value, original.allowed)
    key = ".".join(str(part) for part in error["loc"]) or "(whole value)"
    return format_problem(variable, key, error.get("input"), _allowed_text(error, model))


def parse_variable(variable: str, raw: Any) -> VariableSettings:
    """The validated settings of one Variable's value (None = all defaults)."""
    model = VARIABLES[variable]
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise SettingsError(
            f"Variable '{variable}': must be a JSON object of keys ({', '.join(sorted(model.model_fields))}), "
            f"got {json.dumps(raw)}"
        )
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        problems = list(dict.fromkeys(_problem(variable, err, model) for err in exc.errors()))
        raise SettingsError("\n".join(problems)) from None


def read_variable(variable: str) -> Any:
    """The Variable's JSON value, or None when it is not set (run time only: never at parse time).

    Parsed here rather than with deserialize_json=True: the SDK's secrets-backend path logs a JSON
    error and then reports the Variable as missing, which would silently mean "defaults".
    """
    from airflow.sdk import Variable

    raw = Variable.get(variable, default=None)
    if raw is None or isinstance(raw, dict):
        return raw
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise SettingsError(
            f"Variable '{variable}': not valid JSON ({exc.msg} at position {exc.pos})"
        ) from None


# The XCom key under which a resolving task pushes the run's snapshot.
SNAPSHOT_KEY = "settings"

V = TypeVar("V", bound=VariableSettings)


class RunSettings:
    """The validated settings of every registered Variable, as one run uses them (its snapshot).

    `settings[ReindexSettings]` is one Variable's part. The JSON form (`to_json`, `of`) is an object
    keyed by Variable name; a Variable the snapshot lacks (one added after the run took it) has its
    defaults, as it had for that run.
    """

    def __init__(self, values: Mapping[str, VariableSettings] | None = None) -> None:
        values = dict(values or {})
        self._values = {name: values.pop(name, None) or model() for name, model in VARIABLES.items()}
        if values:
            raise SettingsError(f"not settings of a known Variable: {', '.join(sorted(values))}")

    def __getitem__(self, kind: type[V]) -> V:
        return self._values[kind.variable]  # type: ignore[return-value]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RunSettings) and other._values == self._values

    def __repr__(self) -> str:
        return f"RunSettings({self.to_json()})"

    @classmethod
    def read(cls) -> RunSettings:
        """Every registered Variable, read and validated now; every problem of every Variable in one
        error. Only the resolving tasks call this: later tasks use the snapshot they push."""
        parsed, problems = {}, []
        for variable in VARIABLES:
            try:
                parsed[variable] = parse_variable(variable, read_variable(variable))
            except SettingsError as exc:
                problems.append(str(exc))
        if problems:
            raise SettingsError("\n".join(problems))
        settings = cls(parsed)
        if problems := settings.combination_problems():
            raise SettingsError("\n".join(problems))
        return settings

    @classmethod
    def of(cls, snapshot: RunSettings | Mapping | str | None) -> RunSettings:
        """The snapshot as a task receives it: rendered JSON text, its parsed object, or itself."""
        if isinstance(snapshot, RunSettings):
            return snapshot
        if isinstance(snapshot, str):
            try:
                snapshot = json.loads(snapshot)
            except json.JSONDecodeError:
                snapshot = None
        if not isinstance(snapshot, Mapping):
            raise SettingsError(
                "no settings snapshot: the task's argument 'settings' did not render to the XCom "
                "'settings' of the run's resolving task (validate_settings, resolve_sources), which "
                "did not get that far in this run"
            )
        unknown = sorted(set(snapshot) - set(VARIABLES))
        if unknown:
            raise SettingsError(f"settings snapshot: not a known Variable: {', '.join(unknown)}")
        return cls({name: parse_variable(name, value) for name, value in snapshot.items()})

    def to_json(self) -> dict[str, dict]:
        """The snapshot as XCom keeps it: {Variable name: its settings as JSON}."""
        return {name: value.model_dump(mode="json") for name, value in self._values.items()}

    def combination_problems(self) -> list[str]:
        """Keys of different Variables that do not go together: each problem names both keys."""
        inference, deployment = self[InferenceSettings], self[DeploymentSettings]
        problems = []
        if not inference.semantic_text:
            for key in ("inference_id", "chunking_settings"):
                if getattr(inference, key) is not None:
                    problems.append(
                        format_problem(
                            "embedding_inference",
                            key,
                            getattr(inference, key),
                            'null while key \'backend\' is "ingest_pipeline" (it applies to backend "semantic_text" only)',
                        )
                    )
            return problems
        # An inference endpoint starts its deployment itself, from num_allocations, num_threads
        # and adaptive_allocations only; and the semantic_text field needs the endpoint to search.
        default = DeploymentSettings()
        fixed = {
            "priority": "an inference endpoint's deployment has normal priority",
            "queue_capacity": "an inference endpoint's deployment has Elasticsearch's default queue",
            "stop_after_run": "searches of a semantic_text field embed the query with the endpoint: "
            "let adaptive_allocations (min_number_of_allocations 0) scale it down instead",
        }
        for key, why in fixed.items():
            value = getattr(deployment, key)
            if value != getattr(default, key):
                problems.append(
                    format_problem(
                        "embedding_deployment",
                        key,
                        value,
                        f"{json.dumps(getattr(default, key))} with Variable 'embedding_inference' key 'backend' "
                        f'"semantic_text" ({why})',
                    )
                )
        return problems

    def check_cluster_version(self, version: str) -> None:
        """Limits that depend on the cluster: queue_capacity's maximum differs between 8.x and 9.x;
        semantic_text and some chunking strategies need a recent enough Elasticsearch."""
        deployment = self[DeploymentSettings]
        major, minor = (int(part) for part in version.split(".")[:2])
        limit = QUEUE_CAPACITY_MAX.get(major, QUEUE_CAPACITY_MAX[9])
        problems = []
        if deployment.queue_capacity > limit:
            problems.append(
                format_problem(
                    "embedding_deployment",
                    "queue_capacity",
                    deployment.queue_capacity,
                    f"1..{limit} on Elasticsearch {version}",
                )
            )
        inference = self[InferenceSettings]
        if inference.semantic_text and (major, minor) < SEMANTIC_TEXT_SINCE:
            problems.append(
                format_problem(
                    "embedding_inference",
                    "backend",
                    inference.backend,
                    f'"ingest_pipeline" on Elasticsearch {version} (semantic_text needs 8.15 or later)',
                )
            )
        strategy = (inference.chunking_settings or {}).get("strategy")
        since = CHUNKING_STRATEGY_SINCE.get(strategy)
        in_mapping = CHUNKING_IN_MAPPING_SINCE.get(major, (major, 0))
        if inference.semantic_text and strategy and not since and (major, minor) < in_mapping:
            problems.append(
                format_problem(
                    "embedding_inference",
                    "chunking_settings",
                    inference.chunking_settings,
                    f"null on Elasticsearch {version} (a semantic_text mapping takes chunking_settings since "
                    f"8.19 and 9.1; before, an endpoint created with them chunks so: name it in inference_id)",
                )
            )
        if inference.semantic_text and since and (major, minor) < since:
            problems.append(
                format_problem(
                    "embedding_inference",
                    "chunking_settings.strategy",
                    strategy,
                    f"'sentence' or 'word' on Elasticsearch {version} ('{strategy}' needs "
                    f"{since[0]}.{since[1]} or later)",
                )
            )
        if problems:
            raise SettingsError("\n".join(problems))


def snapshot_from(task_id: str) -> str:
    """The templated argument `settings=` of a later task: renders to the snapshot `task_id` pushed,
    as JSON. A template, not an XComArg, so that it draws no graph edge from the resolving task to
    every stage; every stage runs after it anyway."""
    return f"{{{{ ti.xcom_pull(task_ids='{task_id}', key='{SNAPSHOT_KEY}') | tojson }}}}"


def defaults_json() -> dict[str, dict]:
    """The defaults as `include/variables.json` holds them (the Variables' JSON shape)."""
    return RunSettings().to_json()
