// The AWS SDK for JavaScript v3 as a client of awsgate's sidecar
// (tests/integration/test_sidecar_js.py runs it).
//
//   node sidecar_client.mjs '{"endpoint": "http://127.0.0.1:PORT", "accessKeyId": "...",
//     "secretAccessKey": "...", "region": "us-east-1", "steps": [STEP, ...]}'
//
// A STEP is {"service": "s3" | "dynamodb" | "sqs", "command": "PutObject", "input": {...}},
// optionally with its own "region". Two commands are not the SDK's own:
//   {"service": "s3", "command": "Upload", "input": {"Bucket", "Key", "size", "partSize"}}
//       @aws-sdk/lib-storage's managed (multipart) upload of `size` random bytes;
//   a string "{{N.Field}}" in an input is replaced by the field of step N's output.
//
// It prints one JSON object: {"sdk": {package: version}, "steps": [RESULT, ...]}, a RESULT
// being {"output": ..., "requests": [...]} or {"error": name, "message": ..., "status": ...,
// "requests": [...]}. `requests` are the HTTP requests the step sent, as they went on the
// wire (method, host, path, query, headers but `authorization`), so the test can show what
// the SDK sent. The SDK's clients never retry (maxAttempts: 1).

import { createHash, randomBytes } from "node:crypto";
import { createRequire } from "node:module";

import * as dynamodb from "@aws-sdk/client-dynamodb";
import * as s3 from "@aws-sdk/client-s3";
import * as sqs from "@aws-sdk/client-sqs";
import { Upload } from "@aws-sdk/lib-storage";

const SERVICES = {
  s3: { module: s3, Client: s3.S3Client, options: { forcePathStyle: true } },
  dynamodb: { module: dynamodb, Client: dynamodb.DynamoDBClient, options: {} },
  sqs: { module: sqs, Client: sqs.SQSClient, options: {} },
};

/** Records each request `client` sends, as it goes on the wire, into `log.current` (the
 * current step's requests): it wraps the client's own request handler. */
function record(client, log) {
  const handler = client.config.requestHandler;
  const handle = handler.handle.bind(handler);
  handler.handle = (request, options) => {
    const headers = { ...request.headers };
    for (const name of Object.keys(headers)) {
      if (name.toLowerCase() === "authorization") delete headers[name];
    }
    log.current.push({
      method: request.method,
      host: `${request.hostname}${request.port ? `:${request.port}` : ""}`,
      path: request.path,
      query: request.query ?? {},
      headers,
    });
    return handle(request, options);
  };
  return client;
}

function sdkVersions() {
  const require = createRequire(import.meta.url);
  const versions = {};
  for (const name of ["@aws-sdk/client-s3", "@aws-sdk/client-dynamodb", "@aws-sdk/client-sqs", "@aws-sdk/lib-storage"]) {
    // The packages' `exports` hide package.json; read it from the module's folder.
    const entry = require.resolve(name);
    const folder = entry.slice(0, entry.lastIndexOf(`/node_modules/${name}/`) + `/node_modules/${name}/`.length);
    versions[name] = require(`${folder}package.json`).version;
  }
  return versions;
}

/** Replaces "{{N.Field}}" strings with step N's output field. */
function substitute(value, results) {
  if (typeof value === "string") {
    const match = /^\{\{(\d+)\.([A-Za-z0-9_.]+)\}\}$/.exec(value);
    if (!match) return value;
    let found = results[Number(match[1])].output;
    for (const part of match[2].split(".")) found = found?.[part];
    if (found === undefined) throw new Error(`${value}: no such output`);
    return found;
  }
  if (Array.isArray(value)) return value.map((v) => substitute(v, results));
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, substitute(v, results)]));
  }
  return value;
}

/** The output as JSON: without the SDK's metadata and streams; bytes as their length. */
function plain(output) {
  return JSON.parse(
    JSON.stringify(output, (key, value) => {
      if (key === "$metadata") return { httpStatusCode: value.httpStatusCode };
      if (value instanceof Uint8Array) return { bytes: value.length };
      if (typeof value === "bigint") return value.toString();
      if (value && typeof value === "object" && typeof value.pipe === "function") return "<stream>";
      return value;
    }),
  );
}

async function main() {
  const config = JSON.parse(process.argv[2]);
  const log = { current: [] };
  const clients = new Map();
  const client = (service, region) => {
    const key = `${service}@${region}`;
    if (!clients.has(key)) {
      const { Client, options } = SERVICES[service];
      const made = new Client({
        endpoint: config.endpoint,
        region,
        credentials: { accessKeyId: config.accessKeyId, secretAccessKey: config.secretAccessKey },
        maxAttempts: 1,
        ...options,
      });
      clients.set(key, record(made, log));
    }
    return clients.get(key);
  };

  const results = [];
  for (const step of config.steps) {
    log.current = [];
    const result = {};
    try {
      const service = SERVICES[step.service];
      if (!service) throw new Error(`unknown service ${step.service}`);
      const input = substitute(step.input ?? {}, results);
      const region = step.region ?? config.region;
      if (step.command === "Upload") {
        const body = randomBytes(input.size);
        const upload = new Upload({
          client: client(step.service, region),
          params: { Bucket: input.Bucket, Key: input.Key, Body: body },
          partSize: input.partSize,
          queueSize: 1,
          leavePartsOnError: false,
        });
        const output = await upload.done();
        result.output = { ...plain(output), size: body.length, sha256: createHash("sha256").update(body).digest("hex") };
      } else {
        const Command = service.module[`${step.command}Command`];
        if (!Command) throw new Error(`unknown command ${step.service}:${step.command}`);
        result.output = plain(await client(step.service, region).send(new Command(input)));
      }
    } catch (error) {
      result.error = error?.name ?? String(error);
      result.message = error?.message ?? String(error);
      result.status = error?.$metadata?.httpStatusCode ?? null;
      if (error?.Code) result.code = error.Code;
    }
    result.requests = log.current;
    results.push(result);
  }
  console.log(JSON.stringify({ sdk: sdkVersions(), steps: results }));
}

main().catch((error) => {
  console.error(error?.stack ?? error);
  process.exit(1);
});
