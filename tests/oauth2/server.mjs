// A real OAuth2 authorization server for the caller tests: oidc-provider
// (npm) with token introspection and revocation, on 127.0.0.1:$PORT.
//
// Clients:
//   mediagate        the resource server: introspects (client_secret_basic),
//                    and gets tokens of its own for the people lookup
//   alice, bob, carol, nobody, shortlived
//                    callers: each gets access tokens with the client
//                    credentials grant, no browser; extraTokenClaims mints
//                    the user, groups and institutions claims of the test's
//                    identities (nobody: none at all); shortlived's tokens
//                    expire after 10 s (long enough to be used once on a
//                    loaded machine).
// Prints "listening <port>" once ready.
import Provider from "oidc-provider";

const port = Number(process.env.PORT || 0);
const issuer = `http://127.0.0.1:${port}`;
const secret = (id) => `${id}-secret-0123456789abcdef`;
const identities = {
  alice: { user: "alice", groups: ["101888", "staff"], institutions: ["UIS"] },
  bob: { user: "bob", groups: ["students"], institutions: ["CHEM"] },
  carol: { user: "carol", groups: [], institutions: [] },
  shortlived: { user: "alice", groups: ["101888"], institutions: ["UIS"] },
};
const callers = ["alice", "bob", "carol", "nobody", "shortlived"];

const provider = new Provider(issuer, {
  clients: [
    // It also gets tokens of its own (client credentials) for the people lookup.
    { client_id: "mediagate", client_secret: secret("mediagate"), grant_types: ["client_credentials"],
      redirect_uris: [], response_types: [], scope: "lookup" },
    ...callers.map((id) => ({
      client_id: id, client_secret: secret(id), grant_types: ["client_credentials"],
      redirect_uris: [], response_types: [], scope: "media" })),
  ],
  scopes: ["media", "lookup"],
  features: {
    clientCredentials: { enabled: true },
    introspection: {
      enabled: true,
      // Only the resource server may ask.
      allowedPolicy: (ctx, client) => client.clientId === "mediagate",
    },
    revocation: { enabled: true },
    devInteractions: { enabled: false },
  },
  ttl: {
    ClientCredentials: (ctx, token, client) => (client.clientId === "shortlived" ? 10 : 600),
  },
  extraTokenClaims: (ctx, token) => identities[token.clientId] || undefined,
});
provider.proxy = false;
const server = provider.listen(port, "127.0.0.1", () => {
  console.log(`listening ${server.address().port}`);
});
process.on("SIGTERM", () => server.close(() => process.exit(0)));
