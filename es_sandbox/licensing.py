"""The cluster's licence and the licence APIs as Elasticsearch 9's x-pack core answers them:
`GET/PUT/POST/DELETE _license`, `POST _license/start_trial`, `GET _license/trial_status`,
`POST _license/start_basic`, `GET _license/basic_status`, and `GET _xpack` (which features the licence
makes available).

The licence is cluster state: it starts as `--license` says (a self-generated trial, or basic), a trial
started or a licence installed changes what ML and inference allow at once, and `_sandbox/reset` or a
restart without a data dir brings back the starting one. A trial can be started once per cluster, as
ES records the trial in the cluster state; a cluster started with a trial has had its trial.

What the sandbox cannot do: verify a licence's signature (that needs Elastic's private key's public
half, which is not in this repository). An installed licence is checked for its fields, its type and
its dates, then taken as signed.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from starlette.requests import Request

from es_sandbox.errors import EsError, illegal_argument
from es_sandbox.http import Router, bool_param, json_body

if TYPE_CHECKING:
    from es_sandbox.cluster import Cluster

router = Router()

BASIC_EXPIRY_MILLIS = (
    2**63 - 1 - 365 * 24 * 3600 * 1000
)  # LicenseSettings.BASIC_SELF_GENERATED_LICENSE_EXPIRATION_MILLIS
TRIAL_DAYS = 30
SELF_GENERATED_MAX_NODES = 1000
# License.LicenseType -> OperationMode rank (trial allows everything, like enterprise)
_RANK = {"basic": 1, "standard": 2, "gold": 3, "platinum": 4, "enterprise": 5, "trial": 5}
_TYPES = ("basic", "standard", "gold", "platinum", "enterprise", "trial")


@dataclass(frozen=True)
class License:
    uid: str
    type: str
    issue_date: int
    expiry_date: int
    issued_to: str
    issuer: str = "elasticsearch"
    max_nodes: int | None = SELF_GENERATED_MAX_NODES
    max_resource_units: int | None = None
    start_date: int = -1

    def active(self, now_millis: int) -> bool:
        return now_millis < self.expiry_date

    def to_xcontent(self, now_millis: int) -> dict[str, Any]:
        """License.toInnerXContent in the REST API's current version (a basic licence has no expiry)."""
        body: dict[str, Any] = {
            "status": "active" if self.active(now_millis) else "expired",
            "uid": self.uid,
            "type": self.type,
            "issue_date": _iso(self.issue_date),
            "issue_date_in_millis": self.issue_date,
        }
        if self.expiry_date != BASIC_EXPIRY_MILLIS:
            body["expiry_date"] = _iso(self.expiry_date)
            body["expiry_date_in_millis"] = self.expiry_date
        body.update(
            {
                "max_nodes": self.max_nodes,
                "max_resource_units": self.max_resource_units,
                "issued_to": self.issued_to,
                "issuer": self.issuer,
                "start_date_in_millis": self.start_date,
            }
        )
        return body


def _iso(millis: int) -> str:
    moment = datetime.fromtimestamp(millis / 1000, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{millis % 1000:03d}Z"


def _now() -> int:
    return int(time.time() * 1000)


class Licensing:
    """The cluster's LicensesMetadata: the licence, and whether the cluster has had its trial."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.license = self._starting_license()
        self.trial_used = self.license.type == "trial"

    def _starting_license(self) -> License:
        cluster = self.cluster
        issued = int(cluster.started_at) * 1000
        digest = hashlib.sha256(cluster.cluster_uuid.encode()).hexdigest()
        uid = f"{digest[:8]}-{digest[8:12]}-4{digest[13:16]}-a{digest[17:20]}-{digest[20:32]}"
        kind = cluster.config.license
        expiry = issued + TRIAL_DAYS * 86_400_000 if kind == "trial" else BASIC_EXPIRY_MILLIS
        return License(uid, kind, issued, expiry, cluster.config.cluster_name)

    # -- the subsystem's life --
    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    def reset(self) -> None:
        self.license = self._starting_license()
        self.trial_used = self.license.type == "trial"

    def snapshot(self) -> dict[str, Any]:
        return {"license": asdict(self.license), "trial_used": self.trial_used}

    def restore(self, state: dict[str, Any]) -> None:
        if "license" in state:
            self.license = License(**state["license"])
            self.trial_used = bool(state.get("trial_used"))

    def on_node_restart(self) -> None: ...

    # -- what the licence allows --
    def allows(self, minimum: str, *, needs_active: bool = True) -> bool:
        """XPackLicenseState.isAllowedByLicense: the operation mode at least `minimum`, and active."""
        if needs_active and not self.license.active(_now()):
            return False
        return _RANK[self.license.type] >= _RANK[minimum]

    @property
    def allows_ml(self) -> bool:
        return self.allows("platinum")

    # -- the changes --
    def start_trial(self) -> bool:
        if self.trial_used:
            return False
        issued = _now()
        self.license = License(
            str(uuid.uuid4()),
            "trial",
            issued,
            issued + TRIAL_DAYS * 86_400_000,
            self.cluster.config.cluster_name,
        )
        self.trial_used = True
        return True

    def start_basic(self) -> bool:
        """A new self-generated basic licence, unless the licence is one already."""
        current = self.license
        if current.type == "basic" and current.expiry_date == BASIC_EXPIRY_MILLIS:
            return False
        self.license = License(
            str(uuid.uuid4()), "basic", _now(), BASIC_EXPIRY_MILLIS, self.cluster.config.cluster_name
        )
        return True


# --- acknowledgement messages (XPackLicenseState.ACKNOWLEDGMENT_MESSAGES) ------------------------


def _ack_messages(current: str, new: str) -> dict[str, list[str]]:
    """The features that lose something going from the `current` licence type to the `new` one."""
    above_gold = ("trial", "platinum", "enterprise")
    paid = ("trial", "standard", "gold", "platinum", "enterprise")
    messages: dict[str, list[str]] = {}
    if new == "basic" and current in above_gold + ("gold",):
        messages["security"] = [
            "Authentication will be limited to the native and file realms.",
            "Security tokens will not be supported.",
            "IP filtering and auditing will be disabled.",
            "Field and document level access control will be disabled.",
            "Custom realms will be ignored.",
            "A custom authorization engine will be ignored.",
        ]
    elif new == "basic" and current == "standard":
        messages["security"] = ["Security tokens will not be supported."]
    if new == "basic" and current in paid:
        messages["watcher"] = ["Watcher will be disabled"]
        mode = new.upper()
        messages["monitoring"] = [
            f"Multi-cluster support is disabled for clusters with [{mode}] license. If you are\n"
            f"running multiple clusters, users won't be able to access the clusters with\n"
            f"[{mode}] licenses from within a single X-Pack Kibana instance. You will have to deploy a\n"
            f"separate and dedicated X-pack Kibana instance for each [{mode}] cluster you wish to monitor."
        ]
    lower = new in ("basic", "standard", "gold") and current in above_gold
    if lower:
        messages["graph"] = ["Graph will be disabled"]
        messages["ml"] = ["Machine learning will be disabled"]
    if new == "basic" and current != "basic":
        messages["logstash"] = ["Logstash will no longer poll for centrally-managed pipelines"]
        messages["beats"] = ["Beats will no longer be able to use centrally-managed configuration"]
    if lower:
        messages["sql"] = [
            "JDBC and ODBC support will be disabled, but you can continue to use SQL CLI and REST endpoint"
        ]
        messages["ccr"] = ["Cross-Cluster Replication will be disabled"]
        messages["enterprise_search"] = ["Search Applications and behavioral analytics will be disabled"]
        messages["redact_processor"] = ["Redact ingest pipeline processors will be disabled"]
    return messages


def _acknowledge(header: str, messages: dict[str, list[str]]) -> dict[str, Any]:
    return {"message": header, **messages}


# --- the REST API --------------------------------------------------------------------------------


def _licensing(cluster: Cluster) -> Licensing:
    return cluster.license


@router.route("/_license", "GET")
async def get_license(request: Request, cluster: Cluster):
    return {"license": _licensing(cluster).license.to_xcontent(_now())}


@router.route("/_license", "PUT", "POST")
async def put_license(request: Request, cluster: Cluster):
    """RestPutLicenseAction / LicenseService.registerLicense (the signature taken as valid: see above)."""
    raw = await request.body()
    if not raw.strip():
        raise illegal_argument("The license must be provided in the request body")
    new = _parse_license(await json_body(request), cluster)
    licensing = _licensing(cluster)
    if new.expiry_date < _now():
        return {"acknowledged": True, "license_status": "expired"}
    if not bool_param(request, "acknowledge", False):
        messages = _ack_messages(licensing.license.type, new.type)
        if messages:
            header = (
                "This license update requires acknowledgement. To acknowledge the license, please read the following "
                'messages and update the license again, this time with the "acknowledge=true" parameter:'
            )
            return {
                "acknowledged": False,
                "license_status": "valid",
                "acknowledge": _acknowledge(header, messages),
            }
    licensing.license = new
    if new.type == "trial":
        licensing.trial_used = True
    return {"acknowledged": True, "license_status": "valid"}


_LICENSE_FIELDS = {
    "uid",
    "type",
    "subscription_type",
    "issue_date",
    "issue_date_in_millis",
    "feature",
    "expiry_date",
    "expiry_date_in_millis",
    "start_date_in_millis",
    "max_nodes",
    "max_resource_units",
    "issued_to",
    "issuer",
    "signature",
    "version",
    "status",
    "cluster_licenses",
}


def _parse_license(body: dict[str, Any], cluster: Cluster) -> License:
    """License.fromXContent of `{"license": {...}}` or `{"licenses": [{...}]}` (one licence)."""
    spec: Any = body.get("license")
    if spec is None and isinstance(body.get("licenses"), list) and len(body["licenses"]) == 1:
        spec = body["licenses"][0]
    if not isinstance(spec, dict):
        raise EsError(400, "parse_exception", "failed to parse licenses expected a license object")
    for key in spec:
        if key not in _LICENSE_FIELDS:
            raise EsError(400, "parse_exception", f"unexpected field [{key}]")
    required = (
        ("issuer", "issuer can not be null"),
        ("issued_to", "issuedTo can not be null"),
        ("issue_date_in_millis", "issueDate has to be set"),
        ("type", "type can not be null"),
        ("uid", "uid can not be null"),
        ("signature", "signature can not be null"),
        ("expiry_date_in_millis", "expiryDate has to be set"),
    )
    for key, problem in required:
        if spec.get(key) is None:
            raise EsError(400, "illegal_state_exception", problem)
    kind = str(spec["type"]).lower()
    if kind not in _TYPES:
        raise illegal_argument(f"unknown license type [{spec['type']}]")
    if kind == "basic":
        raise illegal_argument("Registering basic licenses is not allowed.")
    if kind == "enterprise" and spec.get("max_resource_units") is None:
        raise EsError(
            400,
            "illegal_state_exception",
            "maxResourceUnits must be set for enterprise licenses (version 5+)",
        )
    if kind != "enterprise" and spec.get("max_nodes") is None:
        raise EsError(400, "illegal_state_exception", "maxNodes has to be set")
    try:
        return License(
            uid=str(spec["uid"]),
            type=kind,
            issue_date=int(spec["issue_date_in_millis"]),
            expiry_date=int(spec["expiry_date_in_millis"]),
            issued_to=str(spec["issued_to"]),
            issuer=str(spec["issuer"]),
            max_nodes=None if spec.get("max_nodes") is None else int(spec["max_nodes"]),
            max_resource_units=None
            if spec.get("max_resource_units") is None
            else int(spec["max_resource_units"]),
            start_date=int(spec.get("start_date_in_millis", -1)),
        )
    except (TypeError, ValueError):
        raise EsError(400, "parse_exception", "failed to parse license") from None


@router.route("/_license", "DELETE")
async def delete_license(request: Request, cluster: Cluster):
    """TransportDeleteLicenseAction: back to a self-generated basic licence (a basic one stays)."""
    _licensing(cluster).start_basic()
    return {"acknowledged": True}


@router.route("/_license/trial_status", "GET")
async def trial_status(request: Request, cluster: Cluster):
    return {"eligible_to_start_trial": not _licensing(cluster).trial_used}


@router.route("/_license/basic_status", "GET")
async def basic_status(request: Request, cluster: Cluster):
    current = _licensing(cluster).license
    return {
        "eligible_to_start_basic": not (
            current.type == "basic" and current.expiry_date == BASIC_EXPIRY_MILLIS
        )
    }


_TRIAL_HEADER = (
    "This API initiates a free 30-day trial for all platinum features. By starting this trial, you agree that it is "
    "subject to the terms and conditions at https://www.elastic.co/legal/trial_license/. To begin your free trial, "
    'call /start_trial again and specify the "acknowledge=true" parameter.'
)


@router.route("/_license/start_trial", "POST")
async def start_trial(request: Request, cluster: Cluster):
    """RestPostStartTrialLicense / StartTrialClusterTask."""
    kind = request.query_params.get("type", "trial")
    if kind != "trial":
        raise illegal_argument(f"Cannot start trial of type [{kind}]. Valid trial types are [trial].")
    acknowledged = bool_param(request, "acknowledge", False)
    if not acknowledged:
        return {
            "acknowledged": False,
            "trial_was_started": False,
            "error_message": "Operation failed: Needs acknowledgement.",
            "acknowledge": _acknowledge(
                _TRIAL_HEADER,
                {
                    "security": [
                        "With a trial license, X-Pack security features are available, but are not enabled by default."
                    ]
                },
            ),
        }
    if not _licensing(cluster).start_trial():
        return 403, {
            "acknowledged": True,
            "trial_was_started": False,
            "error_message": "Operation failed: Trial was already activated.",
        }
    return {"acknowledged": True, "trial_was_started": True, "type": kind}


_BASIC_HEADER = (
    "This license update requires acknowledgement. To acknowledge the license, please read the following messages "
    'and call /start_basic again, this time with the "acknowledge=true" parameter:'
)


@router.route("/_license/start_basic", "POST")
async def start_basic(request: Request, cluster: Cluster):
    """RestPostStartBasicLicense / StartBasicClusterTask."""
    licensing = _licensing(cluster)
    current = licensing.license
    already = current.type == "basic" and current.expiry_date == BASIC_EXPIRY_MILLIS
    if not already and not bool_param(request, "acknowledge", False):
        messages = _ack_messages(current.type, "basic")
        if messages:
            return {
                "acknowledged": False,
                "basic_was_started": False,
                "error_message": "Operation failed: Needs acknowledgement.",
                "acknowledge": _acknowledge(_BASIC_HEADER, messages),
            }
    if not licensing.start_basic():
        return 403, {
            "acknowledged": True,
            "basic_was_started": False,
            "error_message": "Operation failed: Current license is basic.",
        }
    return {"acknowledged": True, "basic_was_started": True}


# --- GET _xpack ----------------------------------------------------------------------------------

# Each feature GET _xpack reports, and the lowest licence that makes it available.
_FEATURES = {
    "aggregate_metric": "basic",
    "analytics": "basic",
    "archive": "enterprise",
    "ccr": "platinum",
    "data_streams": "basic",
    "data_tiers": "basic",
    "enrich": "basic",
    "enterprise_search": "platinum",
    "eql": "basic",
    "esql": "basic",
    "gpu_vector_indexing": "enterprise",
    "graph": "platinum",
    "ilm": "basic",
    "logsdb": "enterprise",
    "logstash": "standard",
    "ml": "platinum",
    "monitoring": "basic",
    "rollup": "basic",
    "searchable_snapshots": "enterprise",
    "security": "basic",
    "slm": "basic",
    "spatial": "basic",
    "sql": "basic",
    "transform": "basic",
    "universal_profiling": "enterprise",
    "voting_only": "basic",
    "watcher": "standard",
}
_CATEGORIES = ("build", "license", "features")


@router.route("/_xpack", "GET")
async def xpack_info(request: Request, cluster: Cluster):
    """RestXPackInfoAction: the build, the licence in short, each feature's availability."""
    wanted = (request.query_params.get("categories") or "build,license,features").split(",")
    if "_all" in wanted:
        wanted = list(_CATEGORIES)
    for category in wanted:
        if category not in _CATEGORIES and category != "_none":
            raise illegal_argument(f"Unknown info category [{category}]")
    licensing = _licensing(cluster)
    body: dict[str, Any] = {}
    if "build" in wanted:
        build = cluster.config.build
        body["build"] = {"hash": build.build_hash, "date": build.build_date}
    if "license" in wanted:
        current = licensing.license
        short: dict[str, Any] = {
            "uid": current.uid,
            "type": current.type,
            "mode": current.type,
            "status": "active" if current.active(_now()) else "expired",
        }
        if current.expiry_date != BASIC_EXPIRY_MILLIS:
            short["expiry_date_in_millis"] = current.expiry_date
        body["license"] = short
    if "features" in wanted:
        body["features"] = {
            name: {
                "available": licensing.allows(minimum),
                "enabled": name != "security" or cluster.security.enabled,
            }
            for name, minimum in _FEATURES.items()
        }
    body["tagline"] = "You know, for X"
    return body
