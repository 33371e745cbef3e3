#!/usr/bin/env python3
"""Trim Opik's OpenAPI spec to the request and response schemas the fake server validates against.

    python3 tests/fake-opik/schema/trim.py OPENAPI_YAML [OUTPUT_JSON]

OPENAPI_YAML is comet-ml/opik's `sdks/code_generation/fern/openapi/openapi.yaml`.
OUTPUT_JSON defaults to `opik-write-schemas.json` beside this script.
Needs Python 3 and PyYAML only.

The output holds:
  _generated   where it came from: upstream path, sha256 of the input spec, the command.
  operations   for each operation in WRITE_OPERATIONS (the operations an SDK may call, with
               or without a body): method, path template, operationId, the success status
               the fake answers with, the request content type and the request-body schema
               (or null when the body is not JSON, e.g. the raw attachment upload), the
               query and path `parameters` (name, in, required, schema), and the `response`
               of the success status: its media type and the schema of its body, or for the
               NDJSON streams (`stream: true`) the schema of one line.
  known_operations
               [method, path template, success status] for every operation of the spec, so
               the fake can tell "a real endpoint we keep no schema for" from "no such path".
  components.schemas
               the transitive closure of `#/components/schemas/...` that the request,
               parameter and response schemas reference, normalized for JSON Schema 2020-12
               (OpenAPI 3.1 dialect).

Normalization is the one the project's reference checker applies (validate.py of the
python peer): a boolean `exclusiveMinimum`/`exclusiveMaximum` (an OpenAPI 3.0 habit) becomes
the 2020-12 numeric form (true moves the bound over, false is dropped), and `nullable: true`
on a schema with a string `type` becomes `type: [T, "null"]`.
"""
import copy
import hashlib
import json
import os
import sys

import yaml

UPSTREAM = "comet-ml/opik: sdks/code_generation/fern/openapi/openapi.yaml"
COMMAND = (
    "python3 tests/fake-opik/schema/trim.py <path to openapi.yaml> "
    "tests/fake-opik/schema/opik-write-schemas.json"
)

# (METHOD, path template). Each must exist in the spec with this method, or the script fails.
WRITE_OPERATIONS = [
    # traces
    ("POST", "/v1/private/traces/batch"),
    ("POST", "/v1/private/traces"),
    ("PATCH", "/v1/private/traces/{id}"),
    ("PATCH", "/v1/private/traces/batch"),
    ("PUT", "/v1/private/traces/feedback-scores"),
    ("PUT", "/v1/private/traces/{id}/feedback-scores"),
    ("POST", "/v1/private/traces/{id}/feedback-scores/delete"),
    ("POST", "/v1/private/traces/{id}/comments"),
    ("POST", "/v1/private/traces/delete"),
    # spans
    ("POST", "/v1/private/spans/batch"),
    ("POST", "/v1/private/spans"),
    ("PATCH", "/v1/private/spans/{id}"),
    ("PATCH", "/v1/private/spans/batch"),
    ("PUT", "/v1/private/spans/feedback-scores"),
    ("PUT", "/v1/private/spans/{id}/feedback-scores"),
    ("POST", "/v1/private/spans/{id}/feedback-scores/delete"),
    ("POST", "/v1/private/spans/{id}/comments"),
    # threads
    ("PUT", "/v1/private/traces/threads/feedback-scores"),
    ("POST", "/v1/private/traces/threads/feedback-scores/delete"),
    ("PATCH", "/v1/private/traces/threads/{threadModelId}"),
    ("PATCH", "/v1/private/traces/threads/batch"),
    ("PUT", "/v1/private/traces/threads/open"),
    ("PUT", "/v1/private/traces/threads/close"),
    ("POST", "/v1/private/traces/threads/{id}/comments"),
    ("POST", "/v1/private/traces/threads/retrieve"),
    ("POST", "/v1/private/traces/threads/delete"),
    # attachments (upload-start answers with pre-signed urls; `upload` takes raw bytes)
    ("POST", "/v1/private/attachment/upload-start"),
    ("POST", "/v1/private/attachment/upload-complete"),
    ("PUT", "/v1/private/attachment/upload"),
    # projects
    ("POST", "/v1/private/projects"),
    ("POST", "/v1/private/projects/retrieve"),
    ("GET", "/v1/private/projects/{id}"),
    ("GET", "/v1/private/projects"),
    # reading traces, spans and threads back
    ("GET", "/v1/private/traces/{id}"),
    ("GET", "/v1/private/spans/{id}"),
    ("GET", "/v1/private/traces"),
    ("GET", "/v1/private/spans"),
    ("POST", "/v1/private/traces/search"),
    ("POST", "/v1/private/spans/search"),
    ("GET", "/v1/private/traces/threads"),
    ("POST", "/v1/private/traces/threads/search"),
    # datasets
    ("POST", "/v1/private/datasets"),
    ("GET", "/v1/private/datasets"),
    ("GET", "/v1/private/datasets/{id}"),
    ("PUT", "/v1/private/datasets/{id}"),
    ("DELETE", "/v1/private/datasets/{id}"),
    ("POST", "/v1/private/datasets/retrieve"),
    ("POST", "/v1/private/datasets/delete"),
    ("PUT", "/v1/private/datasets/items"),
    ("POST", "/v1/private/datasets/items/stream"),
    ("POST", "/v1/private/datasets/items/delete"),
    ("GET", "/v1/private/datasets/{id}/items"),
    ("GET", "/v1/private/datasets/items/{itemId}"),
    ("GET", "/v1/private/datasets/{id}/versions"),
    ("POST", "/v1/private/datasets/{id}/versions/retrieve"),
    ("GET", "/v1/private/datasets/{id}/items/experiments/items"),
    # experiments
    ("POST", "/v1/private/experiments"),
    ("GET", "/v1/private/experiments"),
    ("GET", "/v1/private/experiments/{id}"),
    ("PATCH", "/v1/private/experiments/{id}"),
    ("POST", "/v1/private/experiments/stream"),
    ("POST", "/v1/private/experiments/delete"),
    ("POST", "/v1/private/experiments/finish"),
    ("POST", "/v1/private/experiments/items"),
    ("POST", "/v1/private/experiments/items/stream"),
    ("POST", "/v1/private/experiments/items/delete"),
    ("GET", "/v1/private/experiments/items/{id}"),
    # prompts
    ("POST", "/v1/private/prompts"),
    ("GET", "/v1/private/prompts"),
    ("GET", "/v1/private/prompts/{id}"),
    ("DELETE", "/v1/private/prompts/{id}"),
    ("POST", "/v1/private/prompts/delete"),
    ("POST", "/v1/private/prompts/versions"),
    ("POST", "/v1/private/prompts/versions/retrieve"),
    ("GET", "/v1/private/prompts/{id}/versions"),
    ("GET", "/v1/private/prompts/versions/{versionId}"),
    ("GET", "/v1/private/prompts/by-commit/{commit}"),
    # attachments: reading back
    ("GET", "/v1/private/attachment/list"),
    ("GET", "/v1/private/attachment/download"),
    # the healthcheck: access to the workspace, the key's default workspace
    ("POST", "/v1/private/auth"),
    ("GET", "/v1/private/auth/workspace"),
]

HTTP_METHODS = ("get", "post", "put", "patch", "delete")
REF_PREFIX = "#/components/schemas/"


class Loader(yaml.SafeLoader):
    """YAML 1.1 reads a bare `=` (in the filter operator enums) as the `value` tag."""


Loader.add_constructor("tag:yaml.org,2002:value", lambda l, n: l.construct_scalar(n))


def normalize(node):
    """Same rules as the reference checker (validate.py)."""
    if isinstance(node, dict):
        for bound, excl in (("maximum", "exclusiveMaximum"), ("minimum", "exclusiveMinimum")):
            if isinstance(node.get(excl), bool):
                if node.pop(excl) and bound in node:
                    node[excl] = node.pop(bound)
        if node.pop("nullable", False) is True and isinstance(node.get("type"), str):
            node["type"] = [node["type"], "null"]
        for v in node.values():
            normalize(v)
    elif isinstance(node, list):
        for v in node:
            normalize(v)
    return node


def refs(node, out):
    if isinstance(node, dict):
        r = node.get("$ref")
        if isinstance(r, str):
            if not r.startswith(REF_PREFIX):
                raise SystemExit(f"trim.py: unsupported $ref {r!r}")
            out.add(r[len(REF_PREFIX):])
        for v in node.values():
            refs(v, out)
    elif isinstance(node, list):
        for v in node:
            refs(v, out)


def success_status(op):
    codes = sorted(c for c in (str(k) for k in op.get("responses", {})) if c.startswith("2"))
    return int(codes[0]) if codes else 200


def success_response(op, status):
    """The body the success status carries, as the fake must answer it.

    JSON bodies keep their schema. Streaming endpoints (`application/octet-stream` with an
    array schema: the backend's NDJSON streams) keep the schema of one line, the first
    `anyOf` alternative of the items (the entity; the others are the error a stream may end
    with), marked `"stream": true`. Binary bodies keep no schema.
    """
    resp = (op.get("responses") or {}).get(str(status)) or {}
    content = resp.get("content") or {}
    if not content:
        return None
    media = next(iter(content))
    schema = copy.deepcopy((content[media] or {}).get("schema"))
    if media == "application/json":
        return {"status": status, "content_type": media, "stream": False, "schema": schema}
    items = (schema or {}).get("items") if (schema or {}).get("type") == "array" else None
    if media == "application/octet-stream" and items and items.get("anyOf"):
        return {"status": status, "content_type": media, "stream": True,
                "schema": items["anyOf"][0]}
    return {"status": status, "content_type": media, "stream": False, "schema": None}


def main(argv):
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__, file=sys.stderr)
        return 2
    spec_path = argv[0]
    out_path = argv[1] if len(argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "opik-write-schemas.json"
    )
    with open(spec_path, "rb") as f:
        raw = f.read()
    spec = yaml.load(raw.decode("utf-8"), Loader=Loader)
    all_schemas = spec["components"]["schemas"]

    known = []
    for template, item in spec["paths"].items():
        for method, op in item.items():
            if method in HTTP_METHODS:
                known.append([method.upper(), template, success_status(op)])
    known.sort(key=lambda k: (k[1], k[0]))

    operations = []
    wanted = set()
    for method, template in WRITE_OPERATIONS:
        op = spec["paths"].get(template, {}).get(method.lower())
        if op is None:
            raise SystemExit(f"trim.py: {method} {template} is not in the spec")
        content = (op.get("requestBody") or {}).get("content") or {}
        if "application/json" in content:
            content_type = "application/json"
            schema = copy.deepcopy(content["application/json"].get("schema"))
        elif content:
            content_type = next(iter(content))
            schema = None  # not a JSON body: the fake checks no schema
        else:
            content_type, schema = None, None
        if schema is not None:
            refs(schema, wanted)
            normalize(schema)
        parameters = []
        for param in op.get("parameters") or []:
            if param.get("in") not in ("query", "path"):
                continue
            p_schema = normalize(copy.deepcopy(param.get("schema") or {}))
            refs(p_schema, wanted)
            parameters.append({
                "name": param["name"],
                "in": param["in"],
                "required": bool(param.get("required")),
                "schema": p_schema,
            })
        response = success_response(op, success_status(op))
        if response is not None and response.get("schema") is not None:
            refs(response["schema"], wanted)
            normalize(response["schema"])
        operations.append({
            "method": method,
            "path": template,
            "operation_id": op.get("operationId"),
            "status": success_status(op),
            "content_type": content_type,
            "schema": schema,
            "parameters": parameters,
            "response": response,
        })

    closure, todo = {}, sorted(wanted)
    while todo:
        name = todo.pop()
        if name in closure:
            continue
        if name not in all_schemas:
            raise SystemExit(f"trim.py: schema {name} is referenced but not defined")
        closure[name] = copy.deepcopy(all_schemas[name])
        more = set()
        refs(closure[name], more)
        todo.extend(sorted(more - closure.keys()))
    for s in closure.values():
        normalize(s)

    doc = {
        "_generated": {
            "from": UPSTREAM,
            "spec_sha256": hashlib.sha256(raw).hexdigest(),
            "spec_info": {
                "openapi": spec.get("openapi"),
                "title": (spec.get("info") or {}).get("title"),
                "version": (spec.get("info") or {}).get("version"),
            },
            "command": COMMAND,
            "note": "Generated file, do not edit: change schema/trim.py and rerun the command.",
        },
        "operations": operations,
        "components": {"schemas": dict(sorted(closure.items()))},
    }
    text = json.dumps(doc, indent=1, ensure_ascii=False)
    assert text.endswith("\n}")
    # known_operations last, one operation a line
    text = (
        text[:-2]
        + ',\n "known_operations": [\n'
        + ",\n".join("  " + json.dumps(k, ensure_ascii=False) for k in known)
        + "\n ]\n}\n"
    )
    with open(out_path, "w", encoding="utf-8") as f:
        f.write(text)
    print(
        f"trim.py: {len(operations)} operations, {len(closure)} schemas, "
        f"{len(known)} known operations, {len(text.encode('utf-8'))} bytes",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
