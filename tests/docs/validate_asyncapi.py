#!/usr/bin/python3
"""Validates an AsyncAPI 3.0 document against the official JSON Schema.

    tests/docs/validate_asyncapi.py DOCUMENT.json

The schema is the AsyncAPI Initiative's own (tests/fixtures/asyncapi/, see its
README for the source commit), checked with python3-jsonschema (Debian) as
draft-07, which is what the schema declares. Beyond the schema, every "$ref"
in the document must resolve inside it: the schema cannot check that, and a
dangling reference is the mistake a generator makes. Exit 0 when valid;
otherwise one line per problem on stderr (path and message) and exit 1.
"""
import json
import os
import sys

import jsonschema

HERE = os.path.dirname(os.path.abspath(__file__))
SCHEMA = os.path.join(HERE, "..", "fixtures", "asyncapi", "asyncapi-3.0.0.schema.json")


def refs(node, path="#"):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield path, value
            else:
                yield from refs(value, f"{path}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from refs(value, f"{path}/{i}")


def resolve(doc, ref):
    node = doc
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def main():
    if len(sys.argv) != 2:
        print("usage: validate_asyncapi.py DOCUMENT.json", file=sys.stderr)
        return 2
    with open(sys.argv[1]) as f:
        doc = json.load(f)
    with open(SCHEMA) as f:
        schema = json.load(f)
    validator = jsonschema.Draft7Validator(schema)
    problems = [f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message[:300]}"
                for e in validator.iter_errors(doc)]
    for path, ref in refs(doc):
        if not ref.startswith("#/") or resolve(doc, ref) is None:
            problems.append(f"{path}: unresolved $ref {ref}")
    for p in problems:
        print(f"asyncapi: {p}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
