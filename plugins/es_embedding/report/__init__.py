"""The report family: what a run tells at its end.

- run_report: `run_report` (collects the report, best effort, after failed runs too)
- summary: the report's pure pieces and its rendering as a table
The Kibana links on the tasks (es_embedding.links) are shared by every family, so they live beside
the families, not in this one.
"""

from es_embedding.report.run_report import RunReportOperator
from es_embedding.report.summary import render

__all__ = ["RunReportOperator", "render"]
