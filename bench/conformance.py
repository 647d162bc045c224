"""Runs Elasticsearch's YAML REST tests against a sandbox and says how many pass, per API and overall.

The tests are Elasticsearch's own format (`rest-api-spec/test/**/*.yml`: setup, teardown, `do` with
`catch`, `match`, `length`, `is_true`, `is_false`, `gt`/`gte`/`lt`/`lte`, `contains`, `close_to`,
`set` and `$stash`, `skip`/`requires` with features and versions). Each `do` goes through the real
elasticsearch-py client: its typed method for the API (`client.indices.create(...)`), transport
options through `client.options(...)`. Between tests the sandbox is wiped (`POST /_sandbox/reset`),
as Elasticsearch's runner wipes its test cluster.

The tests themselves are not part of this repository; `bench/conformance_tests.md` says where they
come from and how to place them (by default under the ignored `bench/.conformance-tests/`).

    .venv/bin/python bench/conformance.py                    # every source under bench/.conformance-tests
    .venv/bin/python bench/conformance.py DIR --url http://127.0.0.1:9200 --only indices.create

It writes `bench/results/conformance.json` (or `--out`) and prints a table per API.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import fnmatch
import json
import math
import re
import sys
import time
import warnings
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
TESTS_HOME = BENCH / ".conformance-tests"
for _path in (str(ROOT / "plugins"), str(ROOT)):
    if _path not in sys.path:
        sys.path.insert(0, _path)

# What a user of this product, or our own tests, reach (the brief of issue 13). A test is in scope when
# the API it is filed under matches one of these patterns.
IN_SCOPE = (
    "indices.*",
    "bulk",
    "index",
    "create",
    "get",
    "get_source",
    "exists",
    "exists_source",
    "mget",
    "update",
    "delete",
    "search",
    "count",
    "scroll",
    "clear_scroll",
    "open_point_in_time",
    "close_point_in_time",
    "point_in_time",
    "msearch",
    "field_caps",
    "explain",
    "validate_query",
    "reindex",
    "update_by_query",
    "delete_by_query",
    "tasks",
    "tasks*",
    "ingest",
    "ingest.*",
    "simulate.ingest",
    "ml.*trained_model*",
    "ml.clear_tm_deployment_cache",
    "ml.infer*",
    "ml.info",
    "ml.get_memory_stats",
    "inference.*",
    "inference",
    "cat.*",
    "cluster.health",
    "cluster.state",
    "cluster.get_settings",
    "cluster.put_settings",
    "nodes.info",
    "nodes.stats",
    "nodes",
    "nodes.*",
    "info",
    "info_stack",
    "xpack_info",
    "ping",
    "license",
    "license.*",
)

# Runner features (Elasticsearch's `features:` / `test_runner_features:`) this runner implements.
SUPPORTED_FEATURES = {
    "headers",
    "warnings",
    "warnings_regex",
    "allowed_warnings",
    "allowed_warnings_regex",
    "contains",
    "close_to",
    "stash_in_path",
    "stash_in_key",
    "stash_path_replace",
    "embedded_stash_key",
    "arbitrary_key",
    "default_shards",
    "node_selector",
    "catch_unauthorized",
    "transform_and_set",
    "is_after",
    "capabilities",
}

CATCHES = {
    "bad_request": 400,
    "unauthorized": 401,
    "forbidden": 403,
    "missing": 404,
    "request_timeout": 408,
    "conflict": 409,
    "unavailable": 503,
}

ASSERTIONS = {"match", "length", "is_true", "is_false", "gt", "gte", "lt", "lte", "contains", "close_to"}


class Skip(Exception):
    """The test does not apply to this cluster or runner."""


class Failure(AssertionError):
    """The sandbox answered unlike Elasticsearch."""


# -- paths and stash ---------------------------------------------------------------------------------


class Stash:
    def __init__(self, strict_warnings: bool = True) -> None:
        self.values: dict[str, Any] = {}
        self.body: Any = None
        self.strict_warnings = strict_warnings

    def get(self, name: str) -> Any:
        if name == "body":
            return self.body
        if name not in self.values:
            raise Failure(f"stash has no ${name}")
        return self.values[name]

    def replace(self, value: Any) -> Any:
        """$var and ${var} in strings, keys and nested values."""
        if isinstance(value, str):
            if value.startswith("$") and re.fullmatch(r"\$\{?[A-Za-z_][\w.]*\}?", value):
                return self.get(value.strip("${}"))
            return re.sub(r"\$\{([A-Za-z_]\w*)\}", lambda m: str(self.get(m.group(1))), value)
        if isinstance(value, dict):
            return {self.replace(k): self.replace(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.replace(v) for v in value]
        return value


def split_path(path: str) -> list[str]:
    parts, current, escaped = [], "", False
    for ch in path:
        if escaped:
            current += ch
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == ".":
            parts.append(current)
            current = ""
        else:
            current += ch
    parts.append(current)
    return parts


_MISSING = object()


def evaluate(body: Any, path: str, stash: Stash) -> Any:
    if path in ("", "$body"):
        return body
    value = body
    for part in split_path(path):
        if part.startswith("$"):
            part = str(stash.get(part.strip("${}")))
        if isinstance(value, list):
            try:
                value = value[int(part)]
            except (ValueError, IndexError):
                return _MISSING
        elif isinstance(value, dict):
            if part == "_arbitrary_key_":
                if not value:
                    return _MISSING
                return next(iter(value))
            if part not in value:
                return _MISSING
            value = value[part]
        else:
            return _MISSING
    return value


# -- comparisons -------------------------------------------------------------------------------------


def is_regex(expected: Any) -> bool:
    return (
        isinstance(expected, str)
        and len(expected) > 1
        and expected.strip().startswith("/")
        and expected.strip().endswith("/")
    )


def values_equal(actual: Any, expected: Any) -> bool:
    if isinstance(expected, bool) or isinstance(actual, bool):
        return actual is expected or (
            isinstance(actual, bool) and isinstance(expected, bool) and actual == expected
        )
    if isinstance(expected, (int, float)) and isinstance(actual, (int, float)):
        return (
            math.isclose(float(actual), float(expected), rel_tol=1e-6, abs_tol=1e-9)
            if isinstance(expected, float) or isinstance(actual, float)
            else actual == expected
        )
    if isinstance(expected, dict):
        return (
            isinstance(actual, dict)
            and actual.keys() == expected.keys()
            and all(values_equal(actual[k], v) for k, v in expected.items())
        )
    if isinstance(expected, list):
        return (
            isinstance(actual, list)
            and len(actual) == len(expected)
            and all(values_equal(a, e) for a, e in zip(actual, expected, strict=True))
        )
    if isinstance(expected, str) and not isinstance(actual, str) and actual is not None:
        return str(actual) == expected
    return actual == expected


def show(value: Any, limit: int = 300) -> str:
    if value is _MISSING:
        return "<missing>"
    text = json.dumps(value, default=str, sort_keys=True) if not isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


def truthy(value: Any) -> bool:
    """Elasticsearch's is_true: not null, not empty text, not false, not 0."""
    if value is _MISSING or value is None:
        return False
    if value is False or value == 0 and not isinstance(value, bool) and not isinstance(value, str):
        return False
    text = value if isinstance(value, str) else None
    return text not in ("", "false", "0")


def number(value: Any, path: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise Failure(f"{path}: {show(value)} is not a number")
    try:
        return float(value)
    except ValueError as exc:
        raise Failure(f"{path}: {show(value)} is not a number") from exc


def assert_step(kind: str, spec: Any, body: Any, stash: Stash) -> None:
    if kind in ("is_true", "is_false"):
        actual = evaluate(body, str(spec or ""), stash)
        if truthy(actual) != (kind == "is_true"):
            raise Failure(f"{kind} {spec}: got {show(actual)}")
        return
    for path, expected in spec.items():
        path = (
            stash.replace(path)
            if isinstance(path, str) and path.startswith("$") and path != "$body"
            else path
        )
        actual = evaluate(body, path, stash)
        expected = stash.replace(expected)
        if kind == "match":
            if is_regex(expected):
                pattern = expected.strip()[1:-1]
                if actual is _MISSING or not re.search(
                    pattern, str(actual) if not isinstance(actual, str) else actual, re.X
                ):
                    raise Failure(f"match {path}: {show(actual)} does not match {expected.strip()[:200]}")
            elif actual is _MISSING or not values_equal(actual, expected):
                raise Failure(f"match {path}: expected {show(expected)}, got {show(actual)}")
        elif kind == "length":
            if actual is _MISSING or not hasattr(actual, "__len__") or len(actual) != expected:
                got = len(actual) if hasattr(actual, "__len__") else show(actual)
                raise Failure(f"length {path}: expected {expected}, got {got}")
        elif kind in ("gt", "gte", "lt", "lte"):
            a, e = number(actual, path), number(expected, path)
            ok = {"gt": a > e, "gte": a >= e, "lt": a < e, "lte": a <= e}[kind]
            if not ok:
                raise Failure(f"{kind} {path}: {show(actual)} vs {show(expected)}")
        elif kind == "contains":
            if not isinstance(actual, list) or not any(contains_item(item, expected) for item in actual):
                raise Failure(f"contains {path}: {show(expected)} not in {show(actual)}")
        elif kind == "close_to":
            a = number(actual, path)
            if abs(a - float(expected["value"])) > float(expected["error"]):
                raise Failure(f"close_to {path}: {a} not within {expected['error']} of {expected['value']}")


def contains_item(item: Any, expected: Any) -> bool:
    if isinstance(expected, dict):
        return isinstance(item, dict) and all(
            k in item and values_equal(item[k], v) for k, v in expected.items()
        )
    return values_equal(item, expected)


# -- skip / requires -----------------------------------------------------------------------------------


def version_tuple(text: str) -> tuple[int, ...]:
    parts = re.findall(r"\d+", text)
    return tuple(int(p) for p in parts[:3]) if parts else ()


def in_version_range(ranges: str, version: tuple[int, ...]) -> bool:
    if ranges.strip() == "all":
        return True
    for one in ranges.split(","):
        low, _, high = one.partition("-")
        lo = version_tuple(low) or (0, 0, 0)
        hi = version_tuple(high) or (99, 99, 99)
        if lo <= version <= hi:
            return True
    return False


def cluster_has(feature: str, version: tuple[int, ...]) -> bool:
    """A 9.5 node has every historical feature; `gte_vX.Y.Z` is the version's own test."""
    match = re.fullmatch(r"gte_v(\d+\.\d+\.\d+)", feature)
    return version >= version_tuple(match.group(1)) if match else True


def as_list(value: Any) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def check_capabilities(client: Any, wanted: list[dict]) -> None:
    """`requires: capabilities`: the cluster says whether it has them (GET _capabilities), as ES's runner asks."""
    for one in wanted:
        params = {
            "method": one.get("method", "GET"),
            "path": one["path"],
            "capabilities": ",".join(as_list(one.get("capabilities"))),
        }
        if one.get("parameters"):
            params["parameters"] = ",".join(as_list(one["parameters"]))
        try:
            answer = client.perform_request(
                "GET", "/_capabilities", params=params, headers={"accept": "application/json"}
            ).body
        except Exception as exc:
            raise Skip(f"capabilities unknown ({type(exc).__name__})") from exc
        if not answer.get("supported"):
            raise Skip(f"capabilities {params['capabilities']} not supported on {params['path']}")


def check_prerequisites(step: dict, version: tuple[int, ...], client: Any = None) -> None:
    if "skip" in step:
        skip = step["skip"] or {}
        if "version" in skip and in_version_range(str(skip["version"]), version):
            raise Skip(f"skip version {skip['version']}: {skip.get('reason', '')}".strip())
        if skip.get("awaits_fix"):
            raise Skip(f"awaits fix: {skip['awaits_fix']}")
        features = as_list(skip.get("cluster_features"))
        if features and all(cluster_has(f, version) for f in features):
            raise Skip(f"skip cluster_features {features}")
        unsupported = [f for f in as_list(skip.get("features")) if f not in SUPPORTED_FEATURES]
        if unsupported:
            raise Skip(f"runner feature {unsupported}")
        if skip.get("os"):
            return
    if "requires" in step:
        req = step["requires"] or {}
        if req.get("stack") is False:
            raise Skip("serverless only")
        if req.get("feature_flag"):
            raise Skip(f"feature flag {req['feature_flag']}")
        unsupported = [f for f in as_list(req.get("test_runner_features")) if f not in SUPPORTED_FEATURES]
        if unsupported:
            raise Skip(f"runner feature {unsupported}")
        missing = [f for f in as_list(req.get("cluster_features")) if not cluster_has(f, version)]
        if missing:
            raise Skip(f"cluster feature {missing}")
        if req.get("capabilities") and client is not None:
            check_capabilities(client, as_list(req["capabilities"]))


# -- calling the client ------------------------------------------------------------------------------

DO_KEYS = {
    "catch",
    "headers",
    "warnings",
    "warnings_regex",
    "allowed_warnings",
    "allowed_warnings_regex",
    "node_selector",
}
NDJSON_APIS = {"bulk", "msearch", "msearch_template", "monitoring.bulk", "fleet.msearch"}


def api_of(do: dict) -> str:
    names = [k for k in do if k not in DO_KEYS]
    if len(names) != 1:
        raise Failure(f"a do names {names}")
    return names[0]


def client_method(client: Any, api: str) -> Any:
    target = client
    for part in api.split("."):
        target = getattr(target, part, None)
        if target is None:
            raise Skip(f"elasticsearch-py has no {api}")
    return target


def python_args(api: str, args: dict) -> tuple[dict, dict]:
    """The YAML's parameters as the typed method takes them, and the transport options."""
    kwargs, options = {}, {}
    for key, value in (args or {}).items():
        if key == "ignore":
            options["ignore_status"] = value
        elif key == "body":
            if isinstance(value, str) and api not in NDJSON_APIS:
                with contextlib.suppress(ValueError):
                    value = json.loads(value)
            if api in NDJSON_APIS and isinstance(value, str):
                value = [json.loads(line) for line in value.splitlines() if line.strip()]
            kwargs["body"] = value
        elif key == "from":
            kwargs["from_"] = value
        else:
            kwargs[key] = value
    return kwargs, options


@dataclass
class Outcome:
    status: int
    body: Any
    warnings: list[str] = field(default_factory=list)
    error: Exception | None = None


def call(client: Any, api: str, args: dict, headers: dict | None) -> Outcome:
    from elasticsearch import ApiError, ElasticsearchWarning

    kwargs, options = python_args(api, args)
    if headers:
        options["headers"] = headers
    scoped = client.options(**options) if options else client
    method = client_method(scoped, api)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        try:
            resp = method(**kwargs)
        except ApiError as exc:
            heard = [str(w.message) for w in seen if issubclass(w.category, ElasticsearchWarning)]
            return Outcome(exc.meta.status, exc.body, heard, exc)
        except (TypeError, ValueError) as exc:
            return Outcome(0, None, [], exc)
    heard = [str(w.message) for w in seen if issubclass(w.category, ElasticsearchWarning)]
    if isinstance(resp, bool):  # ping answers a bool
        return Outcome(200 if resp else 404, resp, heard)
    body = resp.body
    if api.split(".")[-1].startswith("exists") or type(resp).__name__ == "HeadApiResponse":
        body = bool(resp)
    return Outcome(resp.meta.status, body, heard)


def check_catch(catch: str, outcome: Outcome, stash: Stash) -> None:
    if catch == "param":
        if not isinstance(outcome.error, (TypeError, ValueError)):
            raise Failure(f"expected a client parameter error, got status {outcome.status}")
        return
    if outcome.status == 0 and outcome.error is not None:
        raise Failure(f"client refused the call: {outcome.error}")
    if catch in CATCHES:
        if outcome.status != CATCHES[catch]:
            raise Failure(f"expected {catch} ({CATCHES[catch]}), got {outcome.status}: {show(outcome.body)}")
        return
    if catch == "request":
        if not 400 <= outcome.status < 600 or outcome.status in (401, 403, 404, 408, 409):
            raise Failure(f"expected a request error, got {outcome.status}: {show(outcome.body)}")
        return
    if is_regex(catch):
        if outcome.status < 400:
            raise Failure(f"expected an error matching {catch}, got {outcome.status}")
        # ES's runner matches the regex (without COMMENTS) against the `error` object as Java prints a Map.
        error = outcome.body.get("error") if isinstance(outcome.body, dict) else outcome.body
        if not re.search(catch.strip()[1:-1], java_string(error)):
            raise Failure(f"error {outcome.status} does not match {catch}: {show(outcome.body)}")
        return
    if re.fullmatch(r"[a-z_]+_exception", catch):  # the clients' tests also name the error's type
        error = outcome.body.get("error") if isinstance(outcome.body, dict) else None
        kind = error.get("type") if isinstance(error, dict) else None
        if outcome.status < 400 or kind != catch:
            raise Failure(f"expected {catch}, got {outcome.status}: {show(outcome.body)}")
        return
    raise Skip(f"catch {catch!r}")


def java_string(value: Any) -> str:
    """A parsed JSON value as Java's Map/List toString() writes it."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}={java_string(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(java_string(v) for v in value) + "]"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def check_warnings(do: dict, heard: list[str], *, strict: bool) -> None:
    """Expected warnings must be heard; with `strict` (Elasticsearch's own runner) any other one fails
    the test. The clients' runners do not fail on warnings their tests do not list."""
    expected = as_list(do.get("warnings"))
    expected_re = as_list(do.get("warnings_regex"))
    allowed = as_list(do.get("allowed_warnings"))
    allowed_re = as_list(do.get("allowed_warnings_regex"))
    for want in expected:
        if want not in heard:
            raise Failure(f"expected warning {want!r}, heard {heard}")
    for want in expected_re:
        if not any(re.search(want, h) for h in heard):
            raise Failure(f"expected a warning matching {want!r}, heard {heard}")
    for h in heard if strict else []:
        known = h in expected or h in allowed or any(re.search(p, h) for p in expected_re + allowed_re)
        if not known:
            raise Failure(f"unexpected warning {h!r}")


def transform(expression: str, stash: Stash) -> Any:
    match = re.fullmatch(r"#base64EncodeCredentials\((\w+),(\w+)\)", expression.strip())
    if not match:
        raise Skip(f"transform {expression}")
    a, b = (str(stash.replace("$" + g)) for g in match.groups())
    return base64.b64encode(f"{a}:{b}".encode()).decode()


def run_steps(client: Any, steps: list, stash: Stash, version: tuple[int, ...], apis: list[str]) -> None:
    for index, step in enumerate(steps or []):
        (kind, spec), *_ = step.items()
        if kind in ("skip", "requires"):
            check_prerequisites(step, version, client)
        elif kind == "do":
            do = stash.replace(spec)
            api = api_of(do)
            apis.append(api)
            outcome = call(client, api, do[api] or {}, do.get("headers"))
            stash.body = outcome.body
            if "catch" in do:
                check_catch(do["catch"], outcome, stash)
            elif outcome.error is not None:
                if outcome.status == 0:
                    if "unexpected keyword" in str(outcome.error):
                        raise Skip(f"elasticsearch-py takes no such parameter: {outcome.error}")
                    raise Failure(f"{api}: client error {outcome.error}")
                raise Failure(f"{api}: {outcome.status} {show(outcome.body)}")
            check_warnings(do, outcome.warnings, strict=stash.strict_warnings)
        elif kind == "set":
            for path, name in spec.items():
                value = evaluate(stash.body, path, stash)
                if value is _MISSING:
                    raise Failure(f"set: {path} missing in {show(stash.body)}")
                stash.values[name] = value
        elif kind == "transform_and_set":
            for name, expression in spec.items():
                stash.values[name] = transform(expression, stash)
        elif kind in ASSERTIONS:
            assert_step(kind, spec, stash.body, stash)
        elif kind == "is_after":
            continue
        else:
            raise Skip(f"step {kind!r} (#{index})")


# -- files and tests -------------------------------------------------------------------------------------


@dataclass
class Case:
    source: str
    file: str
    group: str
    name: str
    setup: list
    teardown: list
    steps: list
    file_requires: list


NAMESPACES = {
    name: name for name in ("indices", "cat", "cluster", "ingest", "nodes", "simulate", "ml", "inference")
} | {"machine_learning": "ml"}


def group_of(rel: Path) -> str:
    """The API a test file is filed under.

    Elasticsearch files a test under its API (`indices.create/10_basic.yml`) or its plugin
    (`ml/3rd_party_deployment.yml`); the clients' tests under a namespace's API (`indices/create.yml`,
    `machine_learning/30_trained_model_stack.yml`) or the API alone (`bulk/10_basic.yml`, `get.yml`).
    """
    stem = re.sub(r"^\d+_", "", rel.stem)
    if len(rel.parts) == 1:
        return stem
    parent = rel.parts[-2]
    if parent in NAMESPACES:
        return f"{NAMESPACES[parent]}.{stem}"
    return parent


def load_cases(source: Path) -> list[Case]:
    cases = []
    for path in sorted(source.rglob("*.yml")):
        rel = path.relative_to(source)
        try:
            docs = [d for d in yaml.safe_load_all(path.read_text()) if d]
        except yaml.YAMLError as exc:
            print(f"unreadable {rel}: {exc}", file=sys.stderr)
            continue
        setup, teardown, requires, tests = [], [], [], []
        for doc in docs:
            for key, value in doc.items():
                if key == "setup":
                    setup = value or []
                elif key == "teardown":
                    teardown = value or []
                elif key in ("requires", "skip"):
                    requires.append({key: value})
                else:
                    tests.append((key, value or []))
        group = group_of(rel)
        for name, steps in tests:
            cases.append(Case(source.name, str(rel), group, name, setup, teardown, steps, requires))
    return cases


def in_scope(group: str, only: list[str] | None) -> bool:
    patterns = only or IN_SCOPE
    return any(fnmatch.fnmatch(group, p) for p in patterns)


def run_case(client: Any, case: Case, version: tuple[int, ...]) -> dict:
    stash = Stash(strict_warnings=case.source != "clients")
    apis: list[str] = []
    started = time.monotonic()
    result = {"source": case.source, "file": case.file, "group": case.group, "name": case.name}
    try:
        for req in case.file_requires:
            check_prerequisites(req, version)
        client.perform_request("POST", "/_sandbox/reset", headers={"accept": "application/json"})
        # A skip at the start of the setup or the test applies to the whole test.
        for steps in (case.setup, case.steps):
            for step in steps:
                (kind, _), *_ = step.items()
                if kind not in ("skip", "requires"):
                    break
                check_prerequisites(step, version, client)
        run_steps(client, case.setup, stash, version, [])
        try:
            run_steps(client, case.steps, stash, version, apis)
        finally:
            with contextlib.suppress(Exception):
                run_steps(client, case.teardown, Stash(), version, [])
        result["status"] = "pass"
    except Skip as exc:
        result.update(status="skip", reason=str(exc))
    except Failure as exc:
        result.update(status="fail", reason=str(exc))
    except Exception as exc:  # a transport error, a timeout: the sandbox did not answer as ES would
        result.update(status="fail", reason=f"{type(exc).__name__}: {exc}"[:500])
    result["apis"] = sorted(set(apis))
    result["seconds"] = round(time.monotonic() - started, 3)
    return result


def summarise(results: list[dict]) -> dict:
    totals = Counter(r["status"] for r in results)
    per_group: dict[str, Counter] = defaultdict(Counter)
    per_api: dict[str, Counter] = defaultdict(Counter)
    for r in results:
        per_group[r["group"]][r["status"]] += 1
        if r["status"] != "skip":
            for api in r["apis"]:
                per_api[api][r["status"]] += 1

    def rate(c: Counter) -> dict:
        run = c["pass"] + c["fail"]
        return {
            "pass": c["pass"],
            "fail": c["fail"],
            "skip": c["skip"],
            "pass_rate": round(c["pass"] / run, 3) if run else None,
        }

    return {
        "overall": rate(totals),
        "per_group": {g: rate(c) for g, c in sorted(per_group.items())},
        "per_api": {a: rate(c) for a, c in sorted(per_api.items())},
    }


def table(summary: dict, key: str) -> str:
    def row(name: str, c: dict) -> str:
        pct = f"{c['pass_rate']:.0%}" if c["pass_rate"] is not None else "-"
        return f"{name:40} {c['pass']:5} {c['fail']:5} {c['skip']:5} {pct:>6}"

    rows = [f"{'':40} {'pass':>5} {'fail':>5} {'skip':>5} {'rate':>6}"]
    rows += [row(name, c) for name, c in summary[key].items()]
    rows.append(row("overall", summary["overall"]))
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "sources",
        nargs="*",
        type=Path,
        help="test directories (default: each under bench/.conformance-tests)",
    )
    parser.add_argument("--url", help="a running sandbox or cluster (default: start a sandbox)")
    parser.add_argument("--only", action="append", help="API patterns instead of the built-in selection")
    parser.add_argument("--out", type=Path, default=BENCH / "results" / "conformance.json")
    parser.add_argument("--failures", action="store_true", help="print each failure's reason")
    opts = parser.parse_args()

    sources = opts.sources
    if not sources and TESTS_HOME.exists():
        sources = sorted(p for p in TESTS_HOME.iterdir() if p.is_dir())
    if not sources:
        sys.exit(f"no tests: place them under {TESTS_HOME} (see bench/conformance_tests.md)")
    cases = [c for s in sources for c in load_cases(s) if in_scope(c.group, opts.only)]
    if not cases:
        sys.exit(f"no test of {sources} matches {opts.only or 'the built-in selection'}")

    from elasticsearch import Elasticsearch

    from es_sandbox import SandboxConfig, SandboxProcess

    proc = None
    url = opts.url
    if not url:
        proc = SandboxProcess(SandboxConfig(port=0, download_seconds=0.5, inference_ms=1.0))
        url = proc.url
    started = time.time()
    try:
        client = Elasticsearch(url, request_timeout=15)
        info = client.info()
        version = version_tuple(info["version"]["number"])
        results = []
        for case in cases:
            results.append(run_case(client, case, version))
            if opts.failures and results[-1]["status"] == "fail":
                print(f"FAIL {case.file} :: {case.name}: {results[-1]['reason']}")
    finally:
        if proc:
            proc.stop()
    summary = summarise(results)
    from common import machine

    out = {
        "command": " ".join([".venv/bin/python bench/conformance.py", *sys.argv[1:]]),
        "machine": machine(),
        "date": time.strftime("%Y-%m-%d %H:%M", time.localtime(started)),
        "seconds": round(time.time() - started, 1),
        "cluster_version": info["version"]["number"],
        "sources": [source_line(s) for s in sources],
        **summary,
        "tests": results,
    }
    opts.out.parent.mkdir(parents=True, exist_ok=True)
    opts.out.write_text(json.dumps(out, indent=1) + "\n")
    print(table(summary, "per_group"))
    print(f"\nwritten {opts.out}")


def source_line(source: Path) -> dict:
    origin = source / "ORIGIN"
    return {"name": source.name, "origin": origin.read_text().strip() if origin.exists() else None}


if __name__ == "__main__":
    main()
