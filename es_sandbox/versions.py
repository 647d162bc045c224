"""What a node of a given Elasticsearch version reports about its build: the facts behind `GET /`,
`GET _nodes` and the version ids other APIs print.

Read from Elasticsearch's sources: Build/Version (minimum wire compatibility = the first release of the
previous major's last minor; minimum index compatibility = the previous major's x.0.0),
build-tools-internal/version.properties (Lucene), IndexVersions and transport/upper_bounds/9.5.csv (the
9.5 line's ids). Versions this table does not know get the legacy id formula ES itself falls back to
(`Version.fromId`): major*1000000 + minor*10000 + patch*100 + 99.
"""

from __future__ import annotations

import bisect
import hashlib
from dataclasses import dataclass

# (first release, Lucene it shipped with); a release uses the last entry at or before it.
_LUCENE = [
    ((8, 0, 0), "9.0.0"),
    ((8, 10, 0), "9.7.0"),
    ((8, 11, 0), "9.8.0"),
    ((8, 12, 0), "9.9.1"),
    ((8, 13, 0), "9.10.0"),
    ((8, 15, 0), "9.11.1"),
    ((8, 16, 0), "9.12.0"),
    ((8, 18, 0), "9.12.1"),
    ((8, 19, 0), "9.12.2"),
    ((9, 0, 0), "10.1.0"),
    ((9, 1, 0), "10.2.2"),
    ((9, 2, 0), "10.3.0"),
    ((9, 3, 0), "10.3.2"),
    ((9, 4, 0), "10.4.0"),
    ((9, 5, 0), "10.5.0"),
    ((9, 5, 3), "10.5.1"),  # elastic/elasticsearch#156764, the fix for the 9.5.1-9.5.2 known issue
]

# The bundled JDK's java.version (build-tools-internal/version.properties: 24 in 9.1.0, 26.0.1 in
# 9.4.2); releases after 9.4 are taken to bundle the 9.4 line's JDK.
_JDK = [((8, 0, 0), "17.0.2"), ((8, 13, 0), "21.0.2"), ((9, 0, 0), "24"), ((9, 4, 0), "26.0.1")]

# IndexVersions of the 9.5 line: IGNORED_SOURCE_AS_DOC_VALUES_NO_FF (Lucene 10.5.0), then
# UPGRADE_TO_LUCENE_10_5_1.
_INDEX_VERSION = [((9, 5, 0), 9_107_0_00), ((9, 5, 3), 9_108_0_00)]
# transport/upper_bounds/9.5.csv
_TRANSPORT_VERSION = {(9, 5): 9_421_0_00}

_BUILD_DATE = "2026-09-10T08:14:26.114209533Z"


def _parse(number: str) -> tuple[int, int, int]:
    major, minor, patch = (int(p) for p in number.split("."))
    return major, minor, patch


def legacy_id(number: str) -> int:
    major, minor, patch = _parse(number)
    return major * 1_000_000 + minor * 10_000 + patch * 100 + 99


def release_of_index_version(index_version: int) -> tuple[int, int, int] | None:
    """The release an `index.version.created` id was written by: a legacy id (ending in 99) decodes to
    its release; an IndexVersion id maps to the first release of the line that has it, or to none when
    this table does not know it."""
    if index_version % 100 == 99:
        return index_version // 1_000_000, index_version // 10_000 % 100, index_version // 100 % 100
    known = [release for release, number in _INDEX_VERSION if number <= index_version]
    return known[-1] if known else None


def _floor(table: list[tuple[tuple[int, int, int], object]], version: tuple[int, int, int]) -> object | None:
    keys = [k for k, _ in table]
    at = bisect.bisect_right(keys, version) - 1
    return table[at][1] if at >= 0 else None


@dataclass(frozen=True)
class BuildInfo:
    number: str

    @property
    def parts(self) -> tuple[int, int, int]:
        return _parse(self.number)

    @property
    def major(self) -> int:
        return self.parts[0]

    @property
    def lucene_version(self) -> str:
        return str(_floor(_LUCENE, self.parts) or "9.0.0")

    @property
    def minimum_wire_compatibility_version(self) -> str:
        """The first release of the previous major's last minor that this release knows: 8.18.0 for
        9.0 (8.19 came later), 8.19.0 from 9.1 on, 7.17.0 for 8.x."""
        major, minor, _ = self.parts
        if major == 9:
            return "8.18.0" if minor == 0 else "8.19.0"
        return "7.17.0"

    @property
    def minimum_index_compatibility_version(self) -> str:
        return f"{self.major - 1}.0.0"

    def deprecation_header(self, message: str) -> dict[str, str]:
        """The Warning header a deprecated use is answered with (HeaderWarning: 299, agent, quoted text)."""
        return {"Warning": f'299 Elasticsearch-{self.number}-{self.build_hash} "{message}"'}

    @property
    def build_hash(self) -> str:
        """A stable 40-hex stand-in for the release commit (the sandbox is not built from it)."""
        return hashlib.sha1(f"elasticsearch-{self.number}".encode()).hexdigest()

    @property
    def build_date(self) -> str:
        return _BUILD_DATE

    @property
    def jdk_version(self) -> str:
        return str(_floor(_JDK, self.parts) or "17.0.2")

    @property
    def index_version(self) -> int:
        known = _floor(_INDEX_VERSION, self.parts) if self.parts[:2] == (9, 5) else None
        return int(known) if known else legacy_id(self.number)

    @property
    def transport_version(self) -> int:
        return _TRANSPORT_VERSION.get(self.parts[:2], legacy_id(self.number))

    def main_response(self) -> dict[str, object]:
        """The `version` object of `GET /` (RestMainAction)."""
        return {
            "number": self.number,
            "build_flavor": "default",
            "build_type": "tar",
            "build_hash": self.build_hash,
            "build_date": self.build_date,
            "build_snapshot": False,
            "lucene_version": self.lucene_version,
            "minimum_wire_compatibility_version": self.minimum_wire_compatibility_version,
            "minimum_index_compatibility_version": self.minimum_index_compatibility_version,
        }
