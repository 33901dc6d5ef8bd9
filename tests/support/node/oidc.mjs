// A real OpenID provider for the integration tests, shaped like ProConnect (the French State's
// login for public agents): authorization code + PKCE (S256), RS256 ID tokens, ProConnect's
// scopes and claims (email, given_name, usual_name, siret, uid), userinfo, RP-initiated logout.
//
// Nobody types anything: the interaction step (login + consent) finishes on its own for the
// account that the test set with POST /__test/next-user, so a plain HTTP client that follows
// redirects by hand and keeps cookies goes from the authorization URL to the client's
// redirect_uri. Other /__test/ endpoints let a test make the token endpoint hand out broken ID
// tokens (expired, bad signature, wrong nonce/audience/issuer). See README.md.
//
// Environment: OIDC_CLIENT_ID, OIDC_CLIENT_SECRET, OIDC_REDIRECT_URIS (comma-separated),
// optional OIDC_POST_LOGOUT_REDIRECT_URIS (comma-separated), optional OIDC_USERINFO_SIGNED=1
// (userinfo answered as an RS256 JWT, as the real ProConnect does, instead of JSON).
// Listens on 127.0.0.1, port 0; prints `READY http://127.0.0.1:<port>` (the issuer) on stdout.

import * as crypto from 'node:crypto';
import * as http from 'node:http';

// oidc-provider prints its notices with console.info (stdout); stdout is kept for the READY
// line alone, so that the tests can read it without filtering.
console.info = console.error;
console.log = console.error;

const { default: Provider, interactionPolicy } = await import('oidc-provider');

function env(name, required = true) {
  const value = process.env[name];
  if (required && !value) {
    console.error(`oidc.mjs: ${name} must be set`);
    process.exit(2);
  }
  return value;
}

const list = (value) => (value || '').split(',').map((s) => s.trim()).filter(Boolean);

const clientId = env('OIDC_CLIENT_ID');
const clientSecret = env('OIDC_CLIENT_SECRET');
const redirectUris = list(env('OIDC_REDIRECT_URIS'));
const postLogoutRedirectUris = list(env('OIDC_POST_LOGOUT_REDIRECT_URIS', false));
const userinfoSigned = env('OIDC_USERINFO_SIGNED', false) === '1';

// --- accounts -------------------------------------------------------------------------------

// ProConnect's claims, each one granted by the scope of the same name.
const CLAIMS = ['email', 'given_name', 'usual_name', 'siret', 'uid'];

const accounts = new Map();
// The account that the next logins authenticate as, until a test sets another one.
let nextUser = {
  sub: 'agent-0001',
  email: 'jeanne.martin@example.gouv.fr',
  given_name: 'Jeanne',
  usual_name: 'Martin',
  siret: '21350238800018',
  uid: '0001',
};
accounts.set(nextUser.sub, nextUser);

// --- ID token tampering -----------------------------------------------------------------------

const TAMPER_MODES = new Set(['none', 'expired', 'bad-signature', 'wrong-nonce', 'wrong-audience', 'wrong-issuer']);
let tamperMode = 'none';

const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
const kid = crypto.randomBytes(8).toString('hex');
const signingJwk = { ...privateKey.export({ format: 'jwk' }), kid, alg: 'RS256', use: 'sig' };

const b64url = (buf) => Buffer.from(buf).toString('base64url');
const decodePart = (part) => JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));

// RS256 = RSASSA-PKCS1-v1_5 with SHA-256 over `base64url(header).base64url(payload)`.
function signJwt(header, payload) {
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(payload))}`;
  return `${input}.${b64url(crypto.sign('sha256', Buffer.from(input), privateKey))}`;
}

function tamper(idToken, mode) {
  const [h, p, s] = idToken.split('.');
  const header = decodePart(h);
  const payload = decodePart(p);
  const now = Math.floor(Date.now() / 1000);
  switch (mode) {
    case 'expired':
      return signJwt(header, { ...payload, iat: now - 7200, exp: now - 3600 });
    case 'bad-signature': {
      const sig = Buffer.from(s, 'base64url');
      for (let i = 0; i < 8; i += 1) sig[i] ^= 0xff;
      return `${h}.${p}.${b64url(sig)}`;
    }
    case 'wrong-nonce':
      return signJwt(header, { ...payload, nonce: `${payload.nonce ?? ''}-not-the-one-sent` });
    case 'wrong-audience':
      return signJwt(header, { ...payload, aud: 'some-other-client' });
    case 'wrong-issuer':
      return signJwt(header, { ...payload, iss: 'http://127.0.0.1:1/not-the-issuer' });
    default:
      return idToken;
  }
}

// --- provider -----------------------------------------------------------------------------------

const server = http.createServer();
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const issuer = `http://127.0.0.1:${server.address().port}`;

// An extra login check: a session opened for another account than the test's next user asks for
// a new login, so that a test changing the user is obeyed even when cookies are kept.
const policy = interactionPolicy.base();
policy.get('login').checks.add(new interactionPolicy.Check(
  'test_next_user_changed',
  'the test harness switched to another user',
  (ctx) => (ctx.oidc.session.accountId && ctx.oidc.session.accountId !== nextUser.sub
    ? interactionPolicy.Check.REQUEST_PROMPT
    : interactionPolicy.Check.NO_NEED_TO_PROMPT),
));

const provider = new Provider(issuer, {
  clients: [{
    client_id: clientId,
    client_secret: clientSecret,
    redirect_uris: redirectUris,
    post_logout_redirect_uris: postLogoutRedirectUris,
    response_types: ['code'],
    grant_types: ['authorization_code'],
    // client_secret_post is accepted too: oidc-provider takes either for a client registered
    // with one of the two.
    token_endpoint_auth_method: 'client_secret_basic',
    id_token_signed_response_alg: 'RS256',
    ...(userinfoSigned ? { userinfo_signed_response_alg: 'RS256' } : {}),
  }],
  jwks: { keys: [signingJwk] },
  cookies: {
    // Signed cookies; never `secure` since ctx.secure is false over plain http.
    keys: [crypto.randomBytes(32).toString('hex')],
  },
  claims: {
    // ProConnect's ID tokens carry the authentication context (acr) and time too.
    openid: ['sub', 'acr', 'auth_time'],
    ...Object.fromEntries(CLAIMS.map((c) => [c, [c]])),
  },
  // Claims of the granted scopes go in the ID token too, not only in userinfo, as ProConnect does.
  conformIdTokenClaims: false,
  acrValues: ['eidas1'],
  pkce: { required: () => true },
  features: {
    devInteractions: { enabled: false },
    userinfo: { enabled: true },
    jwtUserinfo: { enabled: userinfoSigned },
    rpInitiatedLogout: {
      enabled: true,
      // No "Do you want to sign out?" page: straight on to the confirmation (see the
      // GET-to-POST shim below), so logout is one chain of redirects too.
      async logoutSource(ctx) {
        const { secret } = ctx.oidc.session.state;
        ctx.status = 303;
        ctx.redirect(`${ctx.oidc.urlFor('end_session_confirm')}?${new URLSearchParams({ xsrf: secret, logout: 'yes' })}`);
      },
      async postLogoutSuccessSource(ctx) {
        ctx.type = 'json';
        ctx.body = { logged_out: true };
      },
    },
  },
  async findAccount(ctx, sub) {
    const account = accounts.get(sub);
    if (!account) return undefined;
    return {
      accountId: sub,
      async claims() {
        return { ...account, sub };
      },
    };
  },
  interactions: {
    policy,
    url: (ctx, interaction) => `/interaction/${interaction.uid}`,
  },
  // Errors as JSON rather than an HTML page, easier to assert on.
  async renderError(ctx, out) {
    ctx.type = 'json';
    ctx.body = out;
  },
  clientBasedCORS: () => false,
  ttl: {
    AccessToken: 3600,
    AuthorizationCode: 60,
    IdToken: 3600,
    Interaction: 3600,
    Session: 14 * 24 * 3600,
    Grant: 14 * 24 * 3600,
  },
});
provider.proxy = false;

provider.on('server_error', (ctx, err) => console.error('oidc.mjs server_error:', err));

// The token endpoint's ID token, altered when a test asked for it.
provider.use(async (ctx, next) => {
  await next();
  if (tamperMode !== 'none' && ctx.path === '/token' && ctx.method === 'POST'
      && ctx.status === 200 && ctx.body && typeof ctx.body.id_token === 'string') {
    ctx.body = { ...ctx.body, id_token: tamper(ctx.body.id_token, tamperMode) };
  }
});

// The logout confirmation is a POST form in oidc-provider, which a browser submits by script and
// a plain HTTP client cannot. Two places send it: RP-initiated logout (logoutSource above
// redirects instead) and the resume after a login as another account than the session's (the
// old session is ended first). Here the auto-submitting form page becomes a 303 to a GET of the
// confirmation, and that GET becomes the POST the route expects, so both stay chains of redirects.
provider.use(async (ctx, next) => {
  if (ctx.method === 'GET' && ctx.path === '/session/end/confirm') {
    await new Promise((resolve) => { ctx.req.on('end', resolve); ctx.req.resume(); });
    // oidc-provider reads req.body when the request stream was already consumed.
    ctx.req.body = { xsrf: ctx.query.xsrf, ...(ctx.query.logout ? { logout: ctx.query.logout } : {}) };
    ctx.req.headers['content-type'] = 'application/x-www-form-urlencoded';
    ctx.req.headers['content-length'] = '0';
    ctx.method = 'POST';
  }
  await next();
  if (ctx.status === 200 && typeof ctx.body === 'string' && ctx.body.includes('/session/end/confirm"')) {
    const xsrf = /name="xsrf" value="([^"]*)"/.exec(ctx.body)?.[1];
    const logout = /name="logout" value="([^"]*)"/.exec(ctx.body)?.[1];
    if (xsrf) {
      ctx.status = 303;
      ctx.redirect(`${issuer}/session/end/confirm?${new URLSearchParams({ xsrf, ...(logout ? { logout } : {}) })}`);
    }
  }
});

// --- interaction: login and consent without a form ------------------------------------------------

async function finishInteraction(req, res) {
  const details = await provider.interactionDetails(req, res);
  const { prompt, params, session } = details;
  const login = prompt.name === 'login' || !session?.accountId;
  const accountId = login ? nextUser.sub : session.accountId;

  let grant;
  if (!login && details.grantId) grant = await provider.Grant.find(details.grantId);
  grant ||= new provider.Grant({ accountId, clientId: params.client_id });
  // Everything the client asked for is granted: its scopes, and the claims of a `claims` parameter.
  if (params.scope) grant.addOIDCScope(params.scope);
  if (params.claims) {
    const requested = JSON.parse(params.claims);
    const names = [...Object.keys(requested.id_token || {}), ...Object.keys(requested.userinfo || {})];
    if (names.length) grant.addOIDCClaims(names);
  }
  const resourceScopes = prompt.details?.missingResourceScopes || {};
  for (const [indicator, scopes] of Object.entries(resourceScopes)) grant.addResourceScope(indicator, scopes.join(' '));
  const grantId = await grant.save();

  const result = { consent: { grantId } };
  if (login) result.login = { accountId, acr: 'eidas1', amr: ['pwd'] };
  await provider.interactionFinished(req, res, result, { mergeWithLastSubmission: false });
}

// --- test control endpoints ---------------------------------------------------------------------

function sendJson(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function readJson(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  const text = Buffer.concat(chunks).toString('utf8');
  try {
    return text ? JSON.parse(text) : {};
  } catch (err) {
    throw Object.assign(new Error(`the body is not JSON: ${err.message}`), { statusCode: 400, error: 'invalid_json' });
  }
}

async function control(req, res, path) {
  if (req.method === 'GET' && path === '/__test/health') {
    return sendJson(res, 200, { ok: true, issuer });
  }
  if (req.method === 'POST' && path === '/__test/next-user') {
    const user = await readJson(req);
    if (typeof user.sub !== 'string' || !user.sub) return sendJson(res, 400, { error: 'sub (a non-empty string) is required' });
    nextUser = { ...user };
    accounts.set(user.sub, nextUser);
    return sendJson(res, 200, { ok: true, next_user: nextUser });
  }
  if (req.method === 'POST' && path === '/__test/token-tamper') {
    const { mode } = await readJson(req);
    if (!TAMPER_MODES.has(mode)) return sendJson(res, 400, { error: `mode must be one of ${[...TAMPER_MODES].join(', ')}` });
    tamperMode = mode;
    return sendJson(res, 200, { ok: true, mode });
  }
  return sendJson(res, 404, { error: 'unknown test endpoint' });
}

const providerCallback = provider.callback();

server.on('request', async (req, res) => {
  const path = new URL(req.url, issuer).pathname;
  try {
    if (path.startsWith('/__test/')) return await control(req, res, path);
    if (req.method === 'GET' && /^\/interaction\/[^/]+$/.test(path)) return await finishInteraction(req, res);
    return providerCallback(req, res);
  } catch (err) {
    console.error('oidc.mjs:', err);
    // oidc-provider's errors carry error and error_description (e.g. a lost _interaction cookie:
    // invalid_request, "interaction session id cookie not found").
    if (!res.headersSent) {
      sendJson(res, err.statusCode || 500, { error: err.error || err.name, error_description: err.error_description || err.message });
    }
    else res.end();
  }
});

// --- start and stop -----------------------------------------------------------------------------

function stop() {
  server.close(() => process.exit(0));
  server.closeAllConnections();
  setTimeout(() => process.exit(0), 200).unref();
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);

process.stdout.write(`READY ${issuer}\n`);
