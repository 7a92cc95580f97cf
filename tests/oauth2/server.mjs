// A real OAuth2 authorization server for the caller tests: oidc-provider
// (npm) with token introspection, revocation and resource indicators
// (RFC 8707), on 127.0.0.1:$PORT.
//
// Resource servers (the aud of the access tokens minted for them):
//   https://media.example/      mediagate (the callers' default)
//   https://other-api.example/  another API at the same server: ask for it
//                               with resource=https://other-api.example/
//   https://people.example/     the people directory (mediagate's own token)
//
// Clients:
//   mediagate        the resource server: introspects (client_secret_basic),
//                    and gets tokens of its own for the people lookup
//   alice, bob, carol, nobody, shortlived, nuluser, nulgroup, badid,
//   expfrac-past, expstr-past, expfrac-soon
//                    callers: each gets access tokens with the client
//                    credentials grant, no browser; extraTokenClaims mints
//                    the user (also as sub), groups and institutions claims
//                    of the test's identities (nobody: none at all; nuluser,
//                    nulgroup: a NUL inside; badid: a space); shortlived's
//                    tokens expire after 10 s (long enough to be used once
//                    on a loaded machine), expfrac-soon's after 4 s.
//
// Two test-only shapings, because oidc-provider computes these members
// itself and no setting changes them:
//   POST /test/refresh-token  mints, with the provider's own models, the
//                    refresh token a login with offline_access would give
//                    alice (a Grant and a RefreshToken), and answers
//                    {"refresh_token": ...}; introspection then answers for
//                    it as oidc-provider does (sub alice, no token_type).
//   introspection answers for the expfrac-* and expstr-* clients' tokens get
//                    their exp rewritten after oidc-provider made them:
//                    expfrac-past an hour ago plus half a second,
//                    expstr-past an hour ago as a JSON string, expfrac-soon
//                    half a second before the token's real exp.
// Prints "listening <port>" once ready.
import Provider, { errors } from "oidc-provider";

const port = Number(process.env.PORT || 0);
const issuer = `http://127.0.0.1:${port}`;
const secret = (id) => `${id}-secret-0123456789abcdef`;
const MEDIA = "https://media.example/";
const resources = [MEDIA, "https://other-api.example/", "https://people.example/"];
const alice = { user: "alice", groups: ["101888", "staff"], institutions: ["UIS"] };
const identities = {
  alice,
  bob: { user: "bob", groups: ["students"], institutions: ["CHEM"] },
  carol: { user: "carol", groups: [], institutions: [] },
  shortlived: { user: "alice", groups: ["101888"], institutions: ["UIS"] },
  nuluser: { user: "alice\u0000@evil.example", groups: [], institutions: [] },
  nulgroup: { user: "mallory", groups: ["staff\u0000-interns"], institutions: [] },
  badid: { user: "alice bob", groups: [], institutions: [] },
  "expfrac-past": alice,
  "expstr-past": alice,
  "expfrac-soon": alice,
};
const callers = ["nobody", ...Object.keys(identities)];
const lifetimes = { shortlived: 10, "expfrac-soon": 4 };
const now = () => Math.floor(Date.now() / 1000);
const shapeExp = {
  "expfrac-past": () => now() - 3600 + 0.5,
  "expstr-past": () => String(now() - 3600),
  "expfrac-soon": (exp) => exp - 0.5,
};

const provider = new Provider(issuer, {
  clients: [
    // It also gets tokens of its own (client credentials) for the people lookup.
    { client_id: "mediagate", client_secret: secret("mediagate"), grant_types: ["client_credentials"],
      redirect_uris: [], response_types: [], scope: "lookup" },
    ...callers.map((id) => ({
      client_id: id, client_secret: secret(id), grant_types: ["client_credentials"],
      redirect_uris: [], response_types: [], scope: "media" })),
  ],
  // offline_access: the server knows refresh tokens (see /test/refresh-token).
  scopes: ["openid", "offline_access", "media", "lookup"],
  features: {
    clientCredentials: { enabled: true },
    introspection: {
      enabled: true,
      // Only the resource server may ask.
      allowedPolicy: (ctx, client) => client.clientId === "mediagate",
    },
    revocation: { enabled: true },
    devInteractions: { enabled: false },
    resourceIndicators: {
      enabled: true,
      defaultResource: (ctx, client) => (client.clientId === "mediagate" ? "https://people.example/" : MEDIA),
      getResourceServerInfo: (ctx, resource) => {
        if (!resources.includes(resource)) throw new errors.InvalidTarget();
        return { scope: "media lookup", audience: resource, accessTokenFormat: "opaque" };
      },
    },
  },
  ttl: {
    Grant: 3600,
    RefreshToken: 3600,
    ClientCredentials: (ctx, token, client) => lifetimes[client.clientId] || 600,
  },
  extraTokenClaims: (ctx, token) => {
    const id = identities[token.clientId];
    return id ? { ...id, sub: id.user } : undefined;
  },
});
provider.proxy = false;

provider.use(async (ctx, next) => {
  if (ctx.method === "POST" && ctx.path === "/test/refresh-token") {
    const client = await provider.Client.find("alice");
    const grant = new provider.Grant({ accountId: "alice", clientId: "alice" });
    grant.addOIDCScope("openid offline_access");
    const grantId = await grant.save();
    const rt = new provider.RefreshToken({ client, accountId: "alice", grantId,
      scope: "openid offline_access", gty: "authorization_code" });
    ctx.body = { refresh_token: await rt.save() };
    return;
  }
  await next();
  const b = ctx.body;
  if (ctx.path === "/token/introspection" && b && b.active && shapeExp[b.client_id])
    b.exp = shapeExp[b.client_id](b.exp);
});

const server = provider.listen(port, "127.0.0.1", () => {
  console.log(`listening ${server.address().port}`);
});
process.on("SIGTERM", () => server.close(() => process.exit(0)));
