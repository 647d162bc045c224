"""Models Elasticsearch downloads by id: ELSER (and its platform build) and the other built-ins. An id
that is neither one of these nor a model the cluster has is refused before any write."""

from __future__ import annotations

import re

PLATFORM_SPECIFIC = "linux-x86_64"
ELSER_ID = re.compile(r"^\.elser_model_\d+$")
BUILTIN_MODELS = (".multilingual-e5-small", ".multilingual-e5-small_linux-x86_64", ".rerank-v1")


def is_builtin(model_id: str) -> bool:
    """ELSER or another model Elasticsearch downloads itself (not one uploaded, e.g. by eland)."""
    return bool(ELSER_ID.match(model_id)) or model_id in BUILTIN_MODELS


def is_elser(model_id: str) -> bool:
    return bool(ELSER_ID.match(model_id))
