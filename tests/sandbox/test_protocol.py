"""HTTP protocol fidelity: the product header, compatible-with media types, security, and the answers
Elasticsearch gives for unknown routes and wrong methods."""

from __future__ import annotations

import base64

import httpx
import pytest
from elasticsearch import AuthenticationException, BadRequestError, Elasticsearch

from es_sandbox import routing

V9 = "application/vnd.elasticsearch+json; compatible-with=9"
V8 = "application/vnd.elasticsearch+json; compatible-with=8"
V7 = "application/vnd.elasticsearch+json; compatible-with=7"


def raw(sandbox, method: str, path: str, **kwargs) -> httpx.Response:
    return httpx.request(method, sandbox.url + path, timeout=10, **kwargs)


def test_product_header_on_success_error_and_head(es, sandbox):
    assert raw(sandbox, "GET", "/").headers["x-elastic-product"] == "Elasticsearch"
    missing = raw(sandbox, "GET", "/nope/_doc/1")
    assert missing.status_code == 404
    assert missing.headers["x-elastic-product"] == "Elasticsearch"
    head = raw(sandbox, "HEAD", "/nope")
    assert head.status_code == 404 and head.content == b""
    assert head.headers["x-elastic-product"] == "Elasticsearch"
    assert raw(sandbox, "HEAD", "/").status_code == 200
    assert es.ping() is True


def test_unknown_route_is_a_bare_400(es, sandbox):
    resp = raw(sandbox, "GET", "/_nothing_here/_really?pretty")
    assert resp.status_code == 400
    assert resp.json() == {
        "error": "no handler found for uri [/_nothing_here/_really?pretty] and method [GET]"
    }
    assert resp.headers["x-elastic-product"] == "Elasticsearch"


def test_wrong_method_is_405_with_the_allowed_list(es, sandbox):
    # RestController.handleUnsupportedHttpMethod: the union of the methods of every template the path
    # matches, in RestRequest.Method's order (an EnumSet), also in the Allow header.
    es.indices.create(index="m")
    resp = raw(sandbox, "PATCH", "/m")
    assert resp.status_code == 405
    assert resp.json() == {
        "error": "Incorrect HTTP method for uri [/m] and method [PATCH], allowed: [GET, PUT, DELETE, HEAD]",
        "status": 405,
    }
    assert resp.headers["allow"] == "GET,PUT,DELETE,HEAD"
    assert resp.headers["x-elastic-product"] == "Elasticsearch"
    post = raw(sandbox, "POST", "/_cat/indices?v")
    assert post.json()["error"] == (
        "Incorrect HTTP method for uri [/_cat/indices?v] and method [POST], allowed: [GET]"
    )


def test_head_is_served_only_where_elasticsearch_registers_it(es, sandbox):
    # Elasticsearch does not turn HEAD into GET: a GET-only endpoint answers 405 (without a body).
    head = raw(sandbox, "HEAD", "/_cat/indices")
    assert head.status_code == 405 and head.content == b""
    assert head.headers["allow"] == "GET"
    assert es.ping() is True
    assert es.indices.exists(index="nope").body is False


def test_options_answers_the_allowed_methods(es, sandbox):
    resp = raw(sandbox, "OPTIONS", "/_cluster/health")
    assert resp.status_code == 200 and resp.content == b""
    assert resp.headers["allow"] == "GET"
    nowhere = raw(sandbox, "OPTIONS", "/_no/such/thing")
    assert nowhere.status_code == 200 and "allow" not in nowhere.headers


def test_unknown_method_is_405(es, sandbox):
    # llhttp (uvicorn's parser) refuses unregistered method names itself; the WebDAV ones reach the app.
    resp = raw(sandbox, "PROPFIND", "/")
    assert resp.status_code == 405
    assert resp.json() == {"error": "Unexpected http method: PROPFIND, allowed: [GET, HEAD]", "status": 405}


def test_elasticsearch_api_names_are_never_index_names(es, sandbox):
    # /_features is an Elasticsearch endpoint the sandbox does not serve: no handler, not "no such index".
    assert raw(sandbox, "GET", "/_features").json() == {
        "error": "no handler found for uri [/_features] and method [GET]"
    }
    # Elasticsearch registers only GET there, so a PUT falls through to create-index, which refuses.
    put = raw(sandbox, "PUT", "/_features")
    assert put.status_code == 400
    assert put.json()["error"]["type"] == "invalid_index_name_exception"
    # A name Elasticsearch does not know is an index expression, as on a real node.
    missing = raw(sandbox, "GET", "/_nothing")
    assert missing.status_code == 404
    assert missing.json()["error"]["type"] == "index_not_found_exception"


def test_paths_are_matched_raw_and_params_decoded(es, sandbox):
    # PathTrie matches the raw path, so an id with an encoded slash stays one segment.
    es.index(index="paths", id="a/b c", document={"n": 1}, refresh=True)
    assert es.get(index="paths", id="a/b c")["_id"] == "a/b c"
    # A trailing slash is dropped, as Java's split drops trailing empty tokens (no redirect).
    resp = raw(sandbox, "GET", "/_cluster/health/")
    assert resp.status_code == 200 and resp.json()["status"] in ("green", "yellow")


def test_nine_accepts_eight_and_nine_but_not_seven(es, sandbox):
    for version in (V8, V9):
        assert raw(sandbox, "GET", "/", headers={"accept": version}).status_code == 200
        body = raw(
            sandbox, "PUT", "/v" + version[-1], headers={"accept": version, "content-type": version}, json={}
        )
        assert body.status_code == 200, body.text
    resp = raw(sandbox, "GET", "/", headers={"accept": V7})
    assert resp.status_code == 400
    assert resp.json() == {
        "error": {
            "root_cause": [
                {
                    "type": "media_type_header_exception",
                    "reason": "Invalid media-type value on headers [Accept, Content-Type]",
                }
            ],
            "type": "media_type_header_exception",
            "reason": "Invalid media-type value on headers [Accept, Content-Type]",
            "caused_by": {
                "type": "status_exception",
                "reason": f"Accept version must be either version 9 or 8, but found 7. Accept={V7}",
            },
        },
        "status": 400,
    }


def test_content_type_version_must_match_accept_when_there_is_a_body(es, sandbox):
    resp = raw(sandbox, "POST", "/_search", headers={"accept": V9, "content-type": V8}, content=b"{}")
    assert resp.status_code == 400
    assert resp.json()["error"]["caused_by"]["reason"] == (
        "A compatible version is required on both Content-Type and Accept headers if either one has requested a "
        f"compatible version and the compatible versions must match. Accept={V9}, Content-Type={V8}"
    )
    unversioned = raw(
        sandbox, "POST", "/_search", headers={"accept": V9, "content-type": "application/json"}, content=b"{}"
    )
    assert unversioned.status_code == 400
    assert unversioned.json()["error"]["caused_by"]["reason"] == (
        "A compatible version is required on both Content-Type and Accept headers if either one has requested a "
        f"compatible version. Accept={V9}, Content-Type=application/json"
    )
    # Without a body the Content-Type is not looked at; plain JSON both ways is fine.
    assert raw(sandbox, "GET", "/_search", headers={"accept": V9, "content-type": V8}).status_code == 200
    plain = raw(
        sandbox,
        "POST",
        "/_search",
        headers={"accept": "application/json", "content-type": "application/json"},
        content=b"{}",
    )
    assert plain.status_code == 200


def test_eight_refuses_the_nine_client(start_sandbox):
    proc = start_sandbox(version="8.19.0")
    es = Elasticsearch(proc.url)
    with pytest.raises(BadRequestError) as info:
        es.info()
    assert info.value.meta.status == 400
    assert info.value.error == "media_type_header_exception"
    assert info.value.body["error"]["caused_by"] == {
        "type": "status_exception",
        "reason": f"Accept version must be either version 8 or 7, but found 9. Accept={V9}",
    }
    for version in (V7, V8):
        resp = httpx.get(proc.url + "/", headers={"accept": version}, timeout=10)
        assert resp.status_code == 200
        assert resp.json()["version"]["number"] == "8.19.0"
        assert resp.json()["version"]["minimum_wire_compatibility_version"] == "7.17.0"


def _challenge(resp: httpx.Response) -> None:
    assert resp.status_code == 401
    assert resp.headers["x-elastic-product"] == "Elasticsearch"
    assert resp.headers["www-authenticate"].startswith('Basic realm="security"')
    assert resp.json()["error"]["type"] == "security_exception"
    assert resp.json()["error"]["header"]["WWW-Authenticate"]


def test_api_key_security(start_sandbox):
    key = base64.b64encode(b"id1:secret-key").decode()
    proc = start_sandbox(api_key=key)
    anonymous = httpx.get(proc.url + "/_cluster/health?pretty", timeout=10)
    _challenge(anonymous)
    assert anonymous.json()["error"]["reason"] == (
        "missing authentication credentials for REST request [/_cluster/health?pretty]"
    )
    wrong = httpx.get(proc.url + "/", headers={"authorization": "ApiKey d3Jvbmc="}, timeout=10)
    _challenge(wrong)
    assert wrong.json()["error"]["reason"] == (
        "unable to authenticate with provided credentials and anonymous access is not allowed for this request"
    )
    with pytest.raises(AuthenticationException):
        Elasticsearch(proc.url, api_key="d3Jvbmc=").info()
    es = Elasticsearch(proc.url, api_key=key)
    assert es.info()["tagline"] == "You Know, for Search"
    me = es.security.authenticate()
    assert me["authentication_type"] == "api_key"
    assert me["authentication_realm"] == {"name": "_es_api_key", "type": "_es_api_key"}
    assert me["api_key"]["name"] == "sandbox"
    assert me["enabled"] is True


def test_basic_auth_security(start_sandbox):
    proc = start_sandbox(user="elastic:changeme")
    with pytest.raises(AuthenticationException) as info:
        Elasticsearch(proc.url, basic_auth=("elastic", "wrong")).info()
    assert info.value.body["error"]["reason"] == "unable to authenticate user [elastic] for REST request [/]"
    es = Elasticsearch(proc.url, basic_auth=("elastic", "changeme"))
    me = es.security.authenticate()
    assert me["username"] == "elastic"
    assert me["roles"] == ["superuser"]
    assert me["authentication_type"] == "realm"
    assert me["authentication_realm"] == {"name": "default_native", "type": "native"}
    assert set(me) >= {
        "username",
        "roles",
        "full_name",
        "email",
        "metadata",
        "enabled",
        "authentication_realm",
        "lookup_realm",
        "authentication_type",
    }


def test_authenticate_without_security_has_no_handler(es, sandbox):
    resp = raw(sandbox, "GET", "/_security/_authenticate")
    assert resp.status_code == 400
    assert resp.json() == {"error": "no handler found for uri [/_security/_authenticate] and method [GET]"}


def test_the_route_table_is_the_clients():
    """es_rest_routes.txt lists every endpoint of the installed client; regenerate it on upgrades with
    `python -m es_sandbox.routing > es_sandbox/es_rest_routes.txt`."""
    assert routing.es_routes() == routing.routes_of_client()
