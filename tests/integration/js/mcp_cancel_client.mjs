// The MCP TypeScript SDK (1.x) as a client that gives up on a call waiting for approval:
// it calls a tool over streamable HTTP, and when a line arrives on stdin it aborts the call
// (the SDK sends notifications/cancelled). Prints what the SDK reported, as JSON.
// Usage: node mcp_cancel_client.mjs URL TOKEN TOOL ARGUMENTS_JSON
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { createInterface } from "node:readline";

const [url, token, tool, args] = process.argv.slice(2);
const transport = new StreamableHTTPClientTransport(new URL(url), {
  requestInit: { headers: { Authorization: `Bearer ${token}` } },
});
const client = new Client({ name: "ts-sdk-canceller", version: "1.0.0" });
await client.connect(transport);
const controller = new AbortController();
const lines = createInterface({ input: process.stdin });
lines.once("line", () => controller.abort("the user gave up"));
console.log(JSON.stringify({ ready: true }));
let outcome;
try {
  const result = await client.callTool({ name: tool, arguments: JSON.parse(args) }, undefined, {
    signal: controller.signal,
    timeout: 120000,
  });
  outcome = { result };
} catch (error) {
  outcome = { error: String(error && error.message ? error.message : error) };
}
// Give the cancellation notification time to leave before closing.
await new Promise((resolve) => setTimeout(resolve, 300));
console.log(JSON.stringify(outcome));
lines.close();
await client.close();
