"""The licence pre-flight of the first task: a cluster whose licence lacks machine learning is
refused before anything is written. The client is a stand-in that answers GET _license (the
sandbox's basic licence is covered end to end in tests/e2e/test_faults.py)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from es_embedding.errors import LicenseError, TransientClusterError
from es_embedding.operators import EsStageOperator
from tests.unit.fakes import api_error


class LicenceApi:
    def __init__(self, answer) -> None:
        self.answer = answer

    def get(self):
        if isinstance(self.answer, Exception):
            raise self.answer
        return {"license": self.answer}


def operator_answering(answer) -> EsStageOperator:
    operator = EsStageOperator(task_id="validate_settings")
    operator.hook = SimpleNamespace(client=SimpleNamespace(license=LicenceApi(answer)), secrets=[])
    return operator


@pytest.mark.parametrize("kind", ["trial", "platinum", "enterprise"])
def test_licences_with_machine_learning_pass(kind):
    operator_answering({"type": kind, "status": "active"}).check_ml_licence()


@pytest.mark.parametrize(
    ("licence", "shown"),
    [
        ({"type": "basic", "status": "active"}, "type basic, status active"),
        ({"type": "gold", "status": "active"}, "type gold, status active"),
        ({"type": "platinum", "status": "expired"}, "type platinum, status expired"),
    ],
)
def test_a_licence_without_machine_learning_or_expired_is_refused_saying_what_to_do(licence, shown):
    with pytest.raises(LicenseError) as refused:
        operator_answering(licence).check_ml_licence()
    assert str(refused.value).startswith(f"the cluster's licence: {shown}; ")
    assert "start_trial" in str(refused.value)


def test_a_key_that_may_not_read_the_licence_is_not_refused_here(capsys):
    denied = api_error(
        403, "security_exception", "action [cluster:monitor/xpack/license/get] is unauthorized"
    )
    operator_answering(denied).check_ml_licence()  # the first ML call reports a missing licence itself
    assert "Not checking the cluster's licence" in capsys.readouterr().out  # Airflow logs to stdout


def test_a_cluster_error_while_reading_the_licence_is_not_swallowed():
    with pytest.raises(TransientClusterError):
        operator_answering(api_error(503, "unavailable", "node is shutting down")).check_ml_licence()
