"""The Kibana links' URLs (es_embedding.links)."""

from __future__ import annotations

from urllib.parse import parse_qs, unquote, urlsplit

from es_embedding.links import index_url, model_url


def test_kibana_urls():
    base = "https://kb.example.com:9243"
    url = model_url(base, ".elser_model_2_linux-x86_64")
    parts = urlsplit(url)
    assert parts.path == "/app/ml/trained_models"
    assert (
        unquote(parse_qs(parts.query)["_a"][0])
        == "(trained_models:(queryText:'.elser_model_2_linux-x86_64'))"
    )
    assert model_url(base, "it's!").endswith(quote_state("(trained_models:(queryText:'it!'s!!'))"))
    assert index_url(base, "articles-x") == (
        "https://kb.example.com:9243/app/management/data/index_management/indices/index_details?indexName=articles-x"
    )


def quote_state(state: str) -> str:
    from urllib.parse import quote

    return quote(state, safe="():,")
