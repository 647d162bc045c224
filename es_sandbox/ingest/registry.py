"""Every processor type the sandbox runs, by the name pipelines give it."""

from __future__ import annotations

from es_sandbox.ingest.config import config_error
from es_sandbox.ingest.convert import ConvertProcessor
from es_sandbox.ingest.date import DateProcessor
from es_sandbox.ingest.dissect import DissectProcessor
from es_sandbox.ingest.foreach import ForEachProcessor
from es_sandbox.ingest.grok import GrokProcessor
from es_sandbox.ingest.processors import (
    AppendProcessor,
    DropProcessor,
    FailProcessor,
    InferenceProcessor,
    LowercaseProcessor,
    PipelineProcessor,
    Processor,
    RemoveProcessor,
    RenameProcessor,
    SetProcessor,
    TrimProcessor,
    UppercaseProcessor,
)
from es_sandbox.ingest.script import ScriptProcessor
from es_sandbox.ingest.text_processors import (
    BytesProcessor,
    GsubProcessor,
    JoinProcessor,
    SortProcessor,
    SplitProcessor,
)

PROCESSORS: dict[str, type[Processor]] = {
    p.type: p
    for p in (
        SetProcessor,
        AppendProcessor,
        LowercaseProcessor,
        UppercaseProcessor,
        TrimProcessor,
        RemoveProcessor,
        RenameProcessor,
        FailProcessor,
        DropProcessor,
        PipelineProcessor,
        InferenceProcessor,
        ConvertProcessor,
        DateProcessor,
        DissectProcessor,
        ForEachProcessor,
        GrokProcessor,
        ScriptProcessor,
        BytesProcessor,
        GsubProcessor,
        SplitProcessor,
        JoinProcessor,
        SortProcessor,
    )
}


def unknown_processor(processor_type: str, tag: str | None):
    return config_error(
        f"No processor type exists with name [{processor_type}]", processor_type=processor_type, tag=tag
    )
