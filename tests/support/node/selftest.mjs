// Checks oidc.mjs and smtp.mjs end to end, the way the Rust tests use them: `node selftest.mjs`.
// Exits 0 when every check passed; SELFTEST_VERBOSE=1 prints each chain of redirects. Needs nothing but the installed packages and loopback.

import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
let passed = 0;
let failed = 0;

async function check(name, fn) {
  try {
    await fn();
    passed += 1;
    console.log(`ok - ${name}`);
  } catch (err) {
    failed += 1;
    console.log(`not ok - ${name}\n  ${String(err.stack || err).split('\n').join('\n  ')}`);
  }
}

// Starts a script and resolves with the rest of its READY line.
function start(script, args, env) {
  const child = spawn(process.execPath, [path.join(here, script), ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      const line = out.split('\n')[0];
      if (out.includes('\n')) {
        if (line.startsWith('READY ')) resolve({ child, ready: line.slice(6), stdout: () => out, stderr: () => stderr });
        else reject(new Error(`unexpected first line: ${line}`));
      }
    });
    child.on('exit', (code) => reject(new Error(`${script} exited with ${code} before READY: ${stderr}`)));
  });
}

async function stop({ child }) {
  const t0 = Date.now();
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  child.kill('SIGTERM');
  const result = await exited;
  return { ...result, ms: Date.now() - t0 };
}

// --- a cookie jar that honours cookie paths, like an HTTP client's -------------------------------

class Jar {
  cookies = new Map(); // `${path}\0${name}` -> { name, value, path }

  store(res) {
    for (const line of res.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(';').map((s) => s.trim());
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq);
      const value = pair.slice(eq + 1);
      let cpath = '/';
      let expired = false;
      for (const attr of attrs) {
        const [k, v] = attr.split('=');
        if (k.toLowerCase() === 'path') cpath = v;
        if (k.toLowerCase() === 'expires' && new Date(v) < new Date()) expired = true;
      }
      const key = `${cpath}\0${name}`;
      if (expired || value === '') this.cookies.delete(key);
      else this.cookies.set(key, { name, value, path: cpath });
    }
  }

  header(url) {
    const { pathname } = new URL(url);
    return [...this.cookies.values()]
      .filter((c) => pathname === c.path || pathname.startsWith(c.path.endsWith('/') ? c.path : `${c.path}/`))
      .map((c) => `${c.name}=${c.value}`)
      .join('; ');
  }
}

async function get(url, jar) {
  const res = await fetch(url, { redirect: 'manual', headers: { cookie: jar.header(url) } });
  jar.store(res);
  return res;
}

// Follows redirects by hand until one leaves the provider; returns that URL and the chain.
async function followUntil(url, jar, prefix) {
  const chain = [];
  for (let i = 0; i < 10; i += 1) {
    const res = await get(url, jar);
    const location = res.headers.get('location');
    chain.push(`${res.status} ${new URL(url).pathname} -> ${location}`);
    if (![302, 303].includes(res.status) || !location) {
      throw new Error(`no redirect at ${url}: ${res.status} ${await res.text()}\n${chain.join('\n')}`);
    }
    const next = new URL(location, url).href;
    if (next.startsWith(prefix)) {
      if (process.env.SELFTEST_VERBOSE) console.log(`  # ${chain.join('\n  # ')}`);
      return { url: new URL(next), chain };
    }
    url = next;
  }
  throw new Error(`too many redirects:\n${chain.join('\n')}`);
}

const b64url = (buf) => Buffer.from(buf).toString('base64url');
const part = (jwt, i) => JSON.parse(Buffer.from(jwt.split('.')[i], 'base64url').toString('utf8'));

function verifyRs256(jwt, jwks) {
  const [h, p, s] = jwt.split('.');
  const { kid, alg } = JSON.parse(Buffer.from(h, 'base64url'));
  assert.equal(alg, 'RS256');
  const jwk = jwks.keys.find((k) => k.kid === kid);
  assert.ok(jwk, `kid ${kid} in the JWKS`);
  return crypto.verify('sha256', Buffer.from(`${h}.${p}`), crypto.createPublicKey({ key: jwk, format: 'jwk' }), Buffer.from(s, 'base64url'));
}

// --- OpenID provider -----------------------------------------------------------------------------

const CLIENT_ID = 'ecarto-test';
const CLIENT_SECRET = 'a-test-secret';
const REDIRECT_URI = 'http://127.0.0.1:9/cb';
const POST_LOGOUT_URI = 'http://127.0.0.1:9/logged-out';
const SCOPE = 'openid email given_name usual_name siret uid';

const op = await start('oidc.mjs', [], {
  OIDC_CLIENT_ID: CLIENT_ID,
  OIDC_CLIENT_SECRET: CLIENT_SECRET,
  OIDC_REDIRECT_URIS: `${REDIRECT_URI},http://localhost:9/cb`,
  OIDC_POST_LOGOUT_REDIRECT_URIS: POST_LOGOUT_URI,
});
const issuer = op.ready;
const config = await (await fetch(`${issuer}/.well-known/openid-configuration`)).json();
const jwks = await (await fetch(config.jwks_uri)).json();

async function post(url, body) {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  assert.equal(res.status, 200, await res.clone().text());
  return res.json();
}

function authorizationUrl({ state, nonce, verifier, pkce = true }) {
  const params = new URLSearchParams({
    response_type: 'code', client_id: CLIENT_ID, redirect_uri: REDIRECT_URI, scope: SCOPE, state, nonce,
  });
  if (pkce) {
    params.set('code_challenge', b64url(crypto.createHash('sha256').update(verifier).digest()));
    params.set('code_challenge_method', 'S256');
  }
  return `${config.authorization_endpoint}?${params}`;
}

async function token(code, verifier, auth = 'basic') {
  const form = new URLSearchParams({ grant_type: 'authorization_code', code, code_verifier: verifier, redirect_uri: REDIRECT_URI });
  const headers = { 'content-type': 'application/x-www-form-urlencoded' };
  if (auth === 'basic') headers.authorization = `Basic ${Buffer.from(`${CLIENT_ID}:${CLIENT_SECRET}`).toString('base64')}`;
  else { form.set('client_id', CLIENT_ID); form.set('client_secret', CLIENT_SECRET); }
  const res = await fetch(config.token_endpoint, { method: 'POST', headers, body: form });
  return { status: res.status, body: await res.json() };
}

// One authorization: from the authorization URL to the code at the redirect_uri.
async function authorize(jar) {
  const state = b64url(crypto.randomBytes(12));
  const nonce = b64url(crypto.randomBytes(12));
  const verifier = b64url(crypto.randomBytes(32));
  const { url, chain } = await followUntil(authorizationUrl({ state, nonce, verifier }), jar, REDIRECT_URI);
  assert.equal(url.searchParams.get('state'), state);
  assert.ok(url.searchParams.get('code'), `code in ${url}`);
  return { code: url.searchParams.get('code'), state, nonce, verifier, chain };
}

const agent = {
  sub: 'agent-42', email: 'camille.durand@mairie-rennes.fr', given_name: 'Camille',
  usual_name: 'Durand', siret: '21350238800018', uid: '42',
};

await check('health and discovery', async () => {
  assert.equal((await fetch(`${issuer}/__test/health`)).status, 200);
  assert.match(issuer, /^http:\/\/127\.0\.0\.1:\d+$/);
  assert.equal(config.issuer, issuer);
  for (const s of SCOPE.split(' ')) assert.ok(config.scopes_supported.includes(s), s);
  for (const c of ['email', 'given_name', 'usual_name', 'siret', 'uid']) assert.ok(config.claims_supported.includes(c), c);
  assert.deepEqual(config.code_challenge_methods_supported, ['S256']);
  assert.ok(config.end_session_endpoint && config.userinfo_endpoint);
  assert.equal(jwks.keys[0].kty, 'RSA');
  assert.equal(jwks.keys[0].d, undefined, 'no private part in the JWKS');
});

let firstCode;
let firstTokens;
await check('full flow: authorization, interaction, code, token, userinfo', async () => {
  await post(`${issuer}/__test/next-user`, agent);
  const jar = new Jar();
  const flow = await authorize(jar);
  firstCode = flow;
  assert.equal(flow.chain.length, 3, flow.chain.join('\n')); // /auth -> /interaction/x -> /auth/x -> cb
  const { status, body } = await token(flow.code, flow.verifier);
  assert.equal(status, 200, JSON.stringify(body));
  firstTokens = body;
  const id = body.id_token;
  assert.ok(verifyRs256(id, jwks), 'ID token signature');
  const claims = part(id, 1);
  assert.equal(claims.iss, issuer);
  assert.equal(claims.aud, CLIENT_ID);
  assert.equal(claims.nonce, flow.nonce);
  assert.equal(claims.sub, agent.sub);
  assert.equal(claims.acr, 'eidas1');
  for (const c of ['email', 'given_name', 'usual_name', 'siret', 'uid']) assert.equal(claims[c], agent[c], c);
  assert.ok(claims.exp > Date.now() / 1000);
  const res = await fetch(config.userinfo_endpoint, { headers: { authorization: `Bearer ${body.access_token}` } });
  assert.equal(res.status, 200);
  const userinfo = await res.json();
  assert.equal(userinfo.sub, agent.sub);
  assert.equal(userinfo.siret, agent.siret);
  assert.equal(userinfo.usual_name, agent.usual_name);
});

await check('replayed code: invalid_grant', async () => {
  const { status, body } = await token(firstCode.code, firstCode.verifier);
  assert.equal(status, 400);
  assert.equal(body.error, 'invalid_grant');
});

await check('client_secret_post accepted, wrong verifier and wrong secret refused', async () => {
  const jar = new Jar();
  let flow = await authorize(jar);
  const bad = await token(flow.code, `${flow.verifier}x`, 'post');
  assert.equal(bad.body.error, 'invalid_grant');
  flow = await authorize(jar); // the session is kept: no interaction this time
  assert.equal(flow.chain.length, 1, flow.chain.join('\n'));
  const good = await token(flow.code, flow.verifier, 'post');
  assert.equal(good.status, 200, JSON.stringify(good.body));
  const form = new URLSearchParams({ grant_type: 'authorization_code', code: 'x', code_verifier: 'y', redirect_uri: REDIRECT_URI, client_id: CLIENT_ID, client_secret: 'nope' });
  const res = await fetch(config.token_endpoint, { method: 'POST', body: form });
  assert.equal((await res.json()).error, 'invalid_client');
});

await check('PKCE is required', async () => {
  const { url } = await followUntil(authorizationUrl({ state: 's', nonce: 'n', pkce: false }), new Jar(), REDIRECT_URI);
  assert.equal(url.searchParams.get('error'), 'invalid_request');
  assert.match(url.searchParams.get('error_description'), /PKCE/);
});

await check('next-user switches the account even with the session cookie kept', async () => {
  const jar = new Jar();
  await authorize(jar);
  const other = { ...agent, sub: 'agent-43', email: 'autre@example.gouv.fr', siret: '13002526500013' };
  await post(`${issuer}/__test/next-user`, other);
  const flow = await authorize(jar);
  const claims = part((await token(flow.code, flow.verifier)).body.id_token, 1);
  assert.equal(claims.sub, other.sub);
  assert.equal(claims.siret, other.siret);
  await post(`${issuer}/__test/next-user`, agent);
});

await check('token-tamper modes', async () => {
  const jar = new Jar();
  const now = Date.now() / 1000;
  const modes = {
    expired: (c, h, ok) => { assert.ok(ok); assert.ok(c.exp < now - 3000 && c.iat < now - 7000, JSON.stringify(c)); },
    'bad-signature': (c, h, ok) => { assert.equal(ok, false); assert.equal(c.siret, agent.siret); },
    'wrong-nonce': (c, h, ok, flow) => { assert.ok(ok); assert.notEqual(c.nonce, flow.nonce); },
    'wrong-audience': (c, h, ok) => { assert.ok(ok); assert.notEqual(c.aud, CLIENT_ID); },
    'wrong-issuer': (c, h, ok) => { assert.ok(ok); assert.notEqual(c.iss, issuer); },
    none: (c, h, ok, flow) => {
      assert.ok(ok); assert.equal(c.nonce, flow.nonce); assert.equal(c.aud, CLIENT_ID); assert.equal(c.iss, issuer);
      assert.ok(c.exp > now);
    },
  };
  for (const [mode, expect] of Object.entries(modes)) {
    assert.equal((await post(`${issuer}/__test/token-tamper`, { mode })).mode, mode);
    const flow = await authorize(jar);
    const { status, body } = await token(flow.code, flow.verifier);
    assert.equal(status, 200, `${mode}: ${JSON.stringify(body)}`);
    const header = part(body.id_token, 0);
    assert.equal(header.kid, jwks.keys[0].kid, `${mode}: same kid`);
    expect(part(body.id_token, 1), header, verifyRs256(body.id_token, jwks), flow);
  }
  const res = await fetch(`${issuer}/__test/token-tamper`, { method: 'POST', body: '{"mode":"bogus"}' });
  assert.equal(res.status, 400);
});

await check('RP-initiated logout: straight back to post_logout_redirect_uri, session gone', async () => {
  const jar = new Jar();
  const flow = await authorize(jar);
  const { id_token: idToken } = (await token(flow.code, flow.verifier)).body;
  const params = new URLSearchParams({ id_token_hint: idToken, post_logout_redirect_uri: POST_LOGOUT_URI, state: 'bye' });
  const { url } = await followUntil(`${config.end_session_endpoint}?${params}`, jar, POST_LOGOUT_URI);
  assert.equal(url.searchParams.get('state'), 'bye');
  const again = await authorize(jar);
  assert.equal(again.chain.length, 3, `a new login after logout:\n${again.chain.join('\n')}`);
  // Without a logged-in session, and with client_id instead of id_token_hint: the same way out.
  const anonymous = new URLSearchParams({ client_id: CLIENT_ID, post_logout_redirect_uri: POST_LOGOUT_URI, state: 'bye2' });
  const out = await followUntil(`${config.end_session_endpoint}?${anonymous}`, new Jar(), POST_LOGOUT_URI);
  assert.equal(out.url.searchParams.get('state'), 'bye2');
});

await check('oidc.mjs: one line on stdout, exits promptly on SIGTERM', async () => {
  assert.equal(op.stdout(), `READY ${issuer}\n`);
  const { code, ms } = await stop(op);
  assert.equal(code, 0);
  assert.ok(ms < 1000, `${ms} ms`);
});

await check('OIDC_USERINFO_SIGNED=1: userinfo as an RS256 JWT', async () => {
  const signed = await start('oidc.mjs', [], {
    OIDC_CLIENT_ID: 'signed', OIDC_CLIENT_SECRET: 's', OIDC_REDIRECT_URIS: REDIRECT_URI, OIDC_USERINFO_SIGNED: '1',
  });
  try {
    const iss = signed.ready;
    const keys = await (await fetch(`${iss}/jwks`)).json();
    const verifier = b64url(crypto.randomBytes(32));
    const params = new URLSearchParams({
      response_type: 'code', client_id: 'signed', redirect_uri: REDIRECT_URI, scope: SCOPE, state: 's', nonce: 'n',
      code_challenge: b64url(crypto.createHash('sha256').update(verifier).digest()), code_challenge_method: 'S256',
    });
    const { url } = await followUntil(`${iss}/auth?${params}`, new Jar(), REDIRECT_URI);
    const res = await fetch(`${iss}/token`, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from('signed:s').toString('base64')}` },
      body: new URLSearchParams({ grant_type: 'authorization_code', code: url.searchParams.get('code'), code_verifier: verifier, redirect_uri: REDIRECT_URI }),
    });
    const { access_token: at } = await res.json();
    const ui = await fetch(`${iss}/me`, { headers: { authorization: `Bearer ${at}` } });
    assert.match(ui.headers.get('content-type'), /^application\/jwt/);
    const jwt = await ui.text();
    assert.ok(verifyRs256(jwt, keys));
    assert.equal(part(jwt, 1).siret, '21350238800018');
  } finally {
    await stop(signed);
  }
});

// --- SMTP ---------------------------------------------------------------------------------------

// A minimal SMTP client: sends the commands one by one, waiting for each reply.
async function sendMail(port, from, to, message) {
  const socket = net.connect(port, '127.0.0.1');
  let buffer = '';
  const replies = [];
  let wake;
  socket.on('data', (d) => {
    buffer += d;
    let i;
    while ((i = buffer.indexOf('\r\n')) !== -1) {
      const line = buffer.slice(0, i);
      buffer = buffer.slice(i + 2);
      if (/^\d{3} /.test(line)) { replies.push(line); if (wake) wake(); }
    }
  });
  const reply = async () => {
    while (!replies.length) await new Promise((r) => { wake = r; });
    return replies.shift();
  };
  const say = async (line, code) => {
    if (line !== null) socket.write(`${line}\r\n`);
    const r = await reply();
    assert.ok(r.startsWith(String(code)), `${line} -> ${r}`);
    return r;
  };
  await say(null, 220);
  await say('EHLO selftest', 250);
  await say(`MAIL FROM:<${from}>`, 250);
  for (const rcpt of to) await say(`RCPT TO:<${rcpt}>`, 250);
  await say('DATA', 354);
  await say(`${message.replace(/\r?\n/g, '\r\n').replace(/^\./gm, '..')}\r\n.`, 250);
  await say('QUIT', 221);
  socket.end();
}

await check('smtp.mjs: messages stored as n.eml and n.json', async () => {
  const outdir = await fs.mkdtemp(path.join(os.tmpdir(), 'smtp-selftest-'));
  const smtp = await start('smtp.mjs', [outdir], {});
  const port = Number(smtp.ready);
  assert.ok(port > 0);
  const message = 'From: a@example.org\nTo: c@example.org\nSubject: Bonjour\n\nPremier message.\n.leading dot\n';
  await sendMail(port, 'a@example.org', ['c@example.org', 'd@example.org'], message);
  await sendMail(port, 'noreply@ecarto.test', ['e@example.org'], 'Subject: deux\n\nSecond.\n');
  assert.deepEqual((await fs.readdir(outdir)).sort(), ['1.eml', '1.json', '2.eml', '2.json']);
  assert.deepEqual(JSON.parse(await fs.readFile(path.join(outdir, '1.json'), 'utf8')), { from: 'a@example.org', to: ['c@example.org', 'd@example.org'] });
  assert.deepEqual(JSON.parse(await fs.readFile(path.join(outdir, '2.json'), 'utf8')), { from: 'noreply@ecarto.test', to: ['e@example.org'] });
  const eml = await fs.readFile(path.join(outdir, '1.eml'), 'utf8');
  assert.match(eml, /Subject: Bonjour\r\n/);
  assert.match(eml, /\r\n\.leading dot\r\n/);
  assert.equal(smtp.stdout(), `READY ${port}\n`);
  const { code, ms } = await stop(smtp);
  assert.equal(code, 0);
  assert.ok(ms < 1000, `${ms} ms`);
  await fs.rm(outdir, { recursive: true });
});

if (op.child.exitCode === null) op.child.kill('SIGTERM');
console.log(`selftest: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
