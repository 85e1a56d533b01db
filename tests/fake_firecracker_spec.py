# SPDX-License-Identifier: LGPL-2.1-or-later
"""What fake-firecracker.py checks requests against: Firecracker's Swagger
2.0 description (shared/spec), loaded with its paths routed and its body
schemas validated ($ref, type, required, properties, enum,
minimum/maximum, items; unknown properties refused), and the "Pre-boot
only" / "Post-boot only" rules its operation texts state."""

import json
import re

import yaml

VERSION_FALLBACK = "0.0.0"

METHODS = ("get", "put", "patch", "post", "delete", "head", "options")


class SpecLoader(yaml.SafeLoader):
    """YAML 1.1 would read the enum value `Off` (Logger.level) as false:
    only true/false are booleans here."""


SpecLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
SpecLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool",
    re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"),
)


class Refused(Exception):
    def __init__(self, rule, reason):
        super().__init__(reason)
        self.rule = rule
        self.reason = reason


class Spec:
    def __init__(self, path):
        with open(path, encoding="utf-8") as f:
            self.doc = yaml.load(f, Loader=SpecLoader)
        if self.doc.get("swagger") != "2.0":
            raise SystemExit(f"{path}: not a Swagger 2.0 document")
        self.definitions = self.doc.get("definitions", {})
        self.version = str(self.doc.get("info", {}).get("version", VERSION_FALLBACK))
        self.routes = []
        for template, item in self.doc["paths"].items():
            rx = "^" + re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(template)) + "$"
            self.routes.append((template, re.compile(rx), item))

    def route(self, path):
        for template, rx, item in self.routes:
            m = rx.match(path)
            if m:
                return template, m.groupdict(), item
        return None, None, None

    def resolve(self, schema):
        seen = 0
        while "$ref" in schema:
            ref = schema["$ref"]
            if not ref.startswith("#/definitions/"):
                raise SystemExit(f"unsupported $ref {ref}")
            schema = self.definitions[ref[len("#/definitions/"):]]
            seen += 1
            if seen > 32:
                raise SystemExit(f"$ref loop at {ref}")
        return schema

    def validate(self, schema, value, where, errors, partial=False):
        schema = self.resolve(schema)
        kind = schema.get("type")
        if kind is None and "properties" in schema:
            kind = "object"
        if kind == "object":
            if not isinstance(value, dict):
                errors.append(f"{where}: expected an object, got {describe(value)}")
                return
            if not partial:
                for name in schema.get("required", []):
                    if name not in value:
                        errors.append(f"{where}: missing required field '{name}'")
            props = schema.get("properties", {})
            extra = schema.get("additionalProperties", False)
            for name, sub in value.items():
                if name in props:
                    self.validate(props[name], sub, f"{where}.{name}", errors)
                elif extra is True:
                    pass
                elif isinstance(extra, dict):
                    self.validate(extra, sub, f"{where}.{name}", errors)
                else:
                    errors.append(f"{where}: unknown field '{name}'")
            return
        if kind == "array":
            if not isinstance(value, list):
                errors.append(f"{where}: expected an array, got {describe(value)}")
                return
            for i, sub in enumerate(value):
                self.validate(schema.get("items", {}), sub, f"{where}[{i}]", errors)
            return
        if kind == "string":
            if not isinstance(value, str):
                errors.append(f"{where}: expected a string, got {describe(value)}")
                return
        elif kind == "integer":
            if not isinstance(value, int) or isinstance(value, bool):
                errors.append(f"{where}: expected an integer, got {describe(value)}")
                return
            bits = {"int32": 31, "int64": 63}.get(schema.get("format"))
            if bits is not None and not -(1 << bits) <= value < (1 << bits):
                errors.append(f"{where}: {value} does not fit {schema['format']}")
        elif kind == "number":
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                errors.append(f"{where}: expected a number, got {describe(value)}")
                return
        elif kind == "boolean":
            if not isinstance(value, bool):
                errors.append(f"{where}: expected a boolean, got {describe(value)}")
                return
        elif kind is not None:
            raise SystemExit(f"unsupported schema type {kind} at {where}")
        if "enum" in schema:
            allowed = [str(e) if not isinstance(e, (bool, int)) else e for e in schema["enum"]]
            if "case-insensitive" in str(schema.get("description", "")) and isinstance(value, str):
                ok = value.lower() in [str(a).lower() for a in allowed]
            else:
                ok = value in allowed
            if not ok:
                errors.append(f"{where}: {json.dumps(value)} is not one of {allowed}")
        if "minimum" in schema and isinstance(value, (int, float)) and value < schema["minimum"]:
            errors.append(f"{where}: {value} is below the minimum {schema['minimum']}")
        if "maximum" in schema and isinstance(value, (int, float)) and value > schema["maximum"]:
            errors.append(f"{where}: {value} is above the maximum {schema['maximum']}")


def describe(value):
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def op_text(op):
    return (str(op.get("summary", "")) + " " + str(op.get("description", ""))).lower()


def pre_boot_only(op):
    text = op_text(op)
    return "pre-boot only" in text or "fail after machine startup" in text


def post_boot_only(op):
    return "post-boot only" in op_text(op)
