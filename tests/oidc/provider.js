// A real OpenID provider (the certified `oidc-provider` package) on 127.0.0.1 for the SSO tests.
//
// Usage: PORT=NNNN ACCOUNTS='{"alice": {"email": ..., "email_verified": true, "name": ...}}'
//        node provider.js
// Prints "ready" once listening. One HTTP server holds several providers, each at its own path
// (its issuer is http://127.0.0.1:PORT/<name>):
//   /main      a well-behaved provider: email and email_verified come from userinfo, as the
//              OpenID spec has it when an access token is issued
//   /claims    the same, with the claims in the ID token itself (as Google and Keycloak do)
//   /nonce     rewrites the nonce of every authorization request: its ID tokens carry another
//   /audience  issues the code and the ID token to a second client: the ID token's audience
//              is not the client that asked
//   /issuer    not a provider: a discovery document naming /issuer as the issuer, whose
//              endpoints are /main's (an ID token from there names /main as its issuer)
// Every ID token lives 60 seconds, so that a relying party whose clock is ahead sees it expired.
// Log in through the development login form with an account's login name and any password;
// consent is granted at once (the relying party is first-party).
import http from 'node:http';
import Provider from 'oidc-provider';

const port = Number(process.env.PORT);
const accounts = JSON.parse(process.env.ACCOUNTS || '{}');
const base = `http://127.0.0.1:${port}`;
const CLIENT = { id: 'launchseq', secret: 'launchseq-test-secret' };
const OTHER = { id: 'other-app', secret: 'other-app-secret' };
const PROVIDER_IDS = ['main', 'claims', 'nonce', 'audience', 'issuer', 'alias'];

function client({ id, secret }) {
  return {
    client_id: id,
    client_secret: secret,
    // native: loopback redirect URIs match on any port (RFC 8252), the test server's is random
    application_type: 'native',
    redirect_uris: PROVIDER_IDS.map((p) => `http://127.0.0.1/login/sso/${p}/callback`),
    response_types: ['code'],
    grant_types: ['authorization_code'],
    token_endpoint_auth_method: 'client_secret_basic',
  };
}

async function findAccount(ctx, id) {
  const account = accounts[id];
  if (!account) return undefined;
  return {
    accountId: id,
    async claims() {
      return { sub: id, email: account.email, email_verified: account.email_verified, name: account.name };
    },
  };
}

async function loadExistingGrant(ctx) {
  const grantId = ctx.oidc.result?.consent?.grantId
    || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
  if (grantId) return ctx.oidc.provider.Grant.find(grantId);
  const grant = new ctx.oidc.provider.Grant({
    clientId: ctx.oidc.client.clientId,
    accountId: ctx.oidc.session.accountId,
  });
  grant.addOIDCScope('openid email profile');
  await grant.save();
  return grant;
}

function makeProvider(name, { conform = true } = {}) {
  const provider = new Provider(`${base}/${name}`, {
    clients: [client(CLIENT), client(OTHER)],
    findAccount,
    loadExistingGrant,
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
    conformIdTokenClaims: conform,
    features: { devInteractions: { enabled: true } },
    ttl: { IdToken: 60 },
    cookies: { keys: ['test-cookie-key'] },
  });
  provider.proxy = false;
  return provider;
}

const providers = {
  main: makeProvider('main'),
  claims: makeProvider('claims', { conform: false }),
  nonce: makeProvider('nonce'),
  audience: makeProvider('audience'),
};
const callbacks = Object.fromEntries(
  Object.entries(providers).map(([name, p]) => [name, p.callback()]),
);

function rewriteQuery(req, change) {
  const url = new URL(req.url, base);
  change(url.searchParams);
  req.url = url.pathname + url.search;
}

async function issuerImpostor(req, res) {
  const answer = await fetch(`${base}/main/.well-known/openid-configuration`);
  const metadata = await answer.json();
  metadata.issuer = `${base}/issuer`;
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify(metadata));
}

const server = http.createServer((req, res) => {
  const name = req.url.split('/')[1];
  if (name === 'issuer' && req.url.startsWith('/issuer/.well-known/openid-configuration')) {
    issuerImpostor(req, res).catch(() => { res.writeHead(502); res.end(); });
    return;
  }
  if (!callbacks[name]) {
    res.writeHead(404);
    res.end();
    return;
  }
  const path = req.url.slice(name.length + 1);
  if (name === 'nonce' && path.startsWith('/auth?')) {
    rewriteQuery(req, (q) => q.set('nonce', 'a-nonce-the-relying-party-never-made'));
  }
  if (name === 'audience' && path.startsWith('/auth?')) {
    rewriteQuery(req, (q) => q.set('client_id', OTHER.id));
  }
  if (name === 'audience' && path.startsWith('/token')) {
    const basic = Buffer.from(`${OTHER.id}:${OTHER.secret}`).toString('base64');
    req.headers.authorization = `Basic ${basic}`;
  }
  req.originalUrl = req.url; // as Express mounts it: the routes see the rest, links the whole
  req.url = req.url.slice(name.length + 1) || '/';
  callbacks[name](req, res);
});

server.listen(port, '127.0.0.1', () => {
  console.log('ready');
});
