// A real OpenID provider for awsgate's tests: the npm package `oidc-provider`, on loopback,
// giving JWT access tokens by the client-credentials grant for one resource (RFC 8707).
// Usage: node oidc_provider.mjs PORT AUDIENCE JWKS_FILE CLIENTS_JSON
// JWKS_FILE holds the private signing keys (the test signs bad tokens with them too);
// CLIENTS_JSON is [{"client_id": ..., "client_secret": ...}]. Prints "ready" when it listens.
import fs from "node:fs";
import Provider from "oidc-provider";

const [port, audience, jwksFile, clientsJson] = process.argv.slice(2);
const issuer = `http://127.0.0.1:${port}`;
const clients = JSON.parse(clientsJson).map((c) => ({
  client_id: c.client_id,
  client_secret: c.client_secret,
  grant_types: ["client_credentials"],
  redirect_uris: [],
  response_types: [],
  token_endpoint_auth_method: "client_secret_basic",
}));
const provider = new Provider(issuer, {
  clients,
  jwks: JSON.parse(fs.readFileSync(jwksFile, "utf8")),
  scopes: ["mcp"],
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => audience,
      useGrantedResource: () => true,
      getResourceServerInfo: (ctx, resourceIndicator) => {
        if (resourceIndicator !== audience) throw new Error(`unknown resource ${resourceIndicator}`);
        return { scope: "mcp", audience, accessTokenTTL: 300, accessTokenFormat: "jwt", jwt: { sign: { alg: "RS256" } } };
      },
    },
  },
});
provider.listen(Number(port), "127.0.0.1", () => console.log("ready"));
