#!/usr/bin/env python3
"""Writes src/sidecar/models/<iam-prefix>.json: compact tables of botocore's service models
(per operation: HTTP method, request URI, and the input shape's top-level members with where
each sits on the wire), read by the sidecar with include_str!.

Usage: .venv/bin/python tools/gen_sidecar_models.py [BOTOCORE_DATA_DIR]

BOTOCORE_DATA_DIR defaults to the `data` directory of the importable botocore package. For
each service the newest API version present in that directory is used. Output is
deterministic: running the generator twice gives no diff. Standard library only (plus
botocore, when no data directory is given).
"""

import gzip
import json
import os
import re
import sys

# botocore service name -> IAM prefix (the output file's name).
SERVICES = {
    "s3": "s3",
    "dynamodb": "dynamodb",
    "sqs": "sqs",
    "sns": "sns",
    "lambda": "lambda",
    "secretsmanager": "secretsmanager",
    "kms": "kms",
    "logs": "logs",
    "cloudwatch": "cloudwatch",
    "ssm": "ssm",
    "ec2": "ec2",
    "iam": "iam",
    "rds": "rds",
    "sts": "sts",
}

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT_DIR = os.path.join(ROOT, "src", "sidecar", "models")

# Locations a member can name itself; anything else is in the body (or is the payload).
LOCATIONS = {"uri", "querystring", "header", "headers", "statusCode"}


def default_data_dir():
    import botocore

    return os.path.join(os.path.dirname(botocore.__file__), "data")


def botocore_version(data_dir):
    """The version of the botocore package that `data_dir` belongs to."""
    init = os.path.join(os.path.dirname(os.path.abspath(data_dir)), "__init__.py")
    try:
        with open(init, encoding="utf-8") as f:
            m = re.search(r"""^__version__\s*=\s*['"]([^'"]+)['"]""", f.read(), re.M)
        if m:
            return m.group(1)
    except OSError:
        pass
    try:
        import botocore

        return botocore.__version__
    except ImportError:
        return "unknown"


def load_model(data_dir, service):
    """The newest API version's service-2 model of `service`, and that version."""
    service_dir = os.path.join(data_dir, service)
    versions = []
    for version in os.listdir(service_dir):
        for name in ("service-2.json", "service-2.json.gz"):
            path = os.path.join(service_dir, version, name)
            if os.path.isfile(path):
                versions.append((version, path))
                break
    if not versions:
        raise SystemExit(f"no service-2 model for {service} in {service_dir}")
    # API versions are dates (YYYY-MM-DD): the newest sorts last, as botocore's Loader picks.
    version, path = max(versions)
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as f:
        return json.load(f), version


def upper_first(s):
    return s[:1].upper() + s[1:]


def body_wire(protocol, name, member):
    """The name a body member goes by on the wire in `protocol`."""
    if protocol == "ec2":
        if "queryName" in member:
            return member["queryName"]
        return upper_first(member.get("locationName", name))
    if protocol == "rest-json" and "jsonName" in member:
        return member["jsonName"]
    # json, rest-json, query, rest-xml, smithy-rpc-v2-cbor.
    return member.get("locationName", name)


def member_entry(model, protocols, input_shape, name, member):
    shapes = model["shapes"]
    target = shapes[member["shape"]]
    entry = {"name": name, "type": target["type"]}
    if member.get("location") in LOCATIONS:
        entry["location"] = member["location"]
        entry["wire"] = member.get("locationName", name)
    else:
        entry["location"] = "payload" if input_shape.get("payload") == name else "body"
        entry["wire"] = body_wire(protocols[0], name, member)
        if entry["location"] == "body":
            for protocol in protocols[1:]:
                if protocol in ("query", "ec2"):
                    query_wire = body_wire(protocol, name, member)
                    if query_wire != entry["wire"]:
                        entry["query_wire"] = query_wire
                    break
    if target.get("streaming") or member.get("streaming"):
        entry["streaming"] = True
    if name in input_shape.get("required", ()):
        entry["required"] = True
    if member.get("hostLabel"):
        entry["host_label"] = True
    return entry


def operation_entry(model, protocols, op):
    http = op.get("http", {})
    entry = {"method": http.get("method", "POST"), "uri": http.get("requestUri", "/")}
    members = []
    if "input" in op:
        input_shape = model["shapes"][op["input"]["shape"]]
        for name, member in input_shape.get("members", {}).items():
            members.append(member_entry(model, protocols, input_shape, name, member))
    members.sort(key=lambda m: m["name"])
    entry["members"] = members
    http_checksum = op.get("httpChecksum", {})
    # botocore sends a checksum when either trait says so (httpchecksum.py); S3's models
    # now use only the second.
    if op.get("httpChecksumRequired") or http_checksum.get("requestChecksumRequired"):
        entry["http_checksum_required"] = True
    if "requestAlgorithmMember" in http_checksum:
        entry["request_algorithm_member"] = http_checksum["requestAlgorithmMember"]
    if op.get("deprecated"):
        entry["deprecated"] = True
    # How the request is signed and sent: "none" (unsigned: STS AssumeRoleWithSAML and
    # AssumeRoleWithWebIdentity) or "v4-unsigned-body"; a host prefix such as "stream-";
    # a body the SDK may compress (CloudWatch PutMetricData: gzip).
    if "authtype" in op:
        entry["auth_type"] = op["authtype"]
    if op.get("unsignedPayload"):
        entry["unsigned_payload"] = True
    if "hostPrefix" in op.get("endpoint", {}):
        entry["host_prefix"] = op["endpoint"]["hostPrefix"]
    if "requestcompression" in op:
        entry["request_compression"] = op["requestcompression"]["encodings"]
    return entry


def dumps(value):
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def render(iam_prefix, model, api_version):
    meta = model["metadata"]
    protocols = list(meta.get("protocols") or [meta["protocol"]])
    header = [
        ("service", iam_prefix),
        ("signing_name", meta.get("signingName") or meta["endpointPrefix"]),
        ("endpoint_prefix", meta["endpointPrefix"]),
        ("protocols", protocols),
        ("target_prefix", meta.get("targetPrefix")),
        ("json_version", meta.get("jsonVersion")),
        ("api_version", meta.get("apiVersion", api_version)),
    ]
    head = ",".join(f"{dumps(k)}:{dumps(v)}" for k, v in header)
    ops = [
        f"{dumps(name)}:{dumps(operation_entry(model, protocols, model['operations'][name]))}"
        for name in sorted(model["operations"])
    ]
    return "{" + head + ',"operations":{\n' + ",\n".join(ops) + "\n}}\n"


README = """\
# Sidecar service models

One JSON file per AWS service the sidecar knows, named by its IAM prefix, generated from
botocore's own service models (`botocore/data/<service>/<api-version>/service-2.json`) and
read by the sidecar with `include_str!`. Each file holds the service's protocol facts
(signing name, endpoint prefix, protocols, JSON target prefix and version, API version)
and, one operation per line, the HTTP method, the request URI, and the input shape's
top-level members: where each member sits (`uri`, `querystring`, `header`, `headers`,
`payload`, `body`), its name on the wire (`query_wire` too when the service also speaks
the query or EC2 protocol and the name differs there), its type, and whether it is
required or streaming (`host_label` when it fills the host prefix). Operation-level facts
that help routing and verification appear only when set: `http_checksum_required` (from
`httpChecksumRequired` or `httpChecksum.requestChecksumRequired`, as botocore reads them),
`request_algorithm_member`, `deprecated`, `auth_type` (`none` for unsigned operations),
`unsigned_payload`, `host_prefix`, `request_compression`. No documentation and no nested
shapes.

Generated from botocore {version}. Do not edit by hand; regenerate with:

    .venv/bin/python tools/gen_sidecar_models.py

(`scripts/python-env.sh --main-only` creates `.venv`.) A botocore data directory can be
given as the argument instead of the installed package's.
"""


def write_if_changed(path, text):
    try:
        with open(path, encoding="utf-8") as f:
            if f.read() == text:
                return False
    except FileNotFoundError:
        pass
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write(text)
    return True


def main(argv):
    if len(argv) > 2:
        raise SystemExit(__doc__)
    data_dir = argv[1] if len(argv) == 2 else default_data_dir()
    os.makedirs(OUT_DIR, exist_ok=True)
    for service, iam_prefix in sorted(SERVICES.items(), key=lambda kv: kv[1]):
        model, api_version = load_model(data_dir, service)
        path = os.path.join(OUT_DIR, f"{iam_prefix}.json")
        changed = write_if_changed(path, render(iam_prefix, model, api_version))
        print(f"{'wrote' if changed else 'unchanged'} {os.path.relpath(path, ROOT)}")
    readme = README.format(version=botocore_version(data_dir))
    path = os.path.join(OUT_DIR, "README.md")
    changed = write_if_changed(path, readme)
    print(f"{'wrote' if changed else 'unchanged'} {os.path.relpath(path, ROOT)}")


if __name__ == "__main__":
    main(sys.argv)
