// A real SMTP server for the integration tests: `node smtp.mjs <outdir>`.
//
// Listens on 127.0.0.1, port 0, plain SMTP (no TLS, STARTTLS not offered), authentication
// optional (any AUTH PLAIN/LOGIN credentials are accepted, for a mailer configured with some),
// any sender and recipient. Each message is written raw to <outdir>/<n>.eml, n counting from 1,
// with its envelope in <outdir>/<n>.json as {"from": "...", "to": ["...", ...]}. Both files are
// written under a temporary name and renamed, and the .json is renamed before the .eml, so a test
// that polls for <n>.eml finds both complete.
// Prints `READY <port>` on stdout once listening; exits on SIGTERM/SIGINT.

import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { SMTPServer } from 'smtp-server';

const outdir = process.argv[2];
if (!outdir) {
  console.error('usage: node smtp.mjs <outdir>');
  process.exit(2);
}
await fs.mkdir(outdir, { recursive: true });

let count = 0;

async function writeAtomically(file, data) {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
  await fs.writeFile(tmp, data);
  await fs.rename(tmp, file);
}

const server = new SMTPServer({
  secure: false,
  disabledCommands: ['STARTTLS'],
  authOptional: true,
  allowInsecureAuth: true,
  authMethods: ['PLAIN', 'LOGIN'],
  logger: false,
  banner: 'eCarto test SMTP server',
  onAuth(auth, session, callback) {
    callback(null, { user: auth.username || 'anonymous' });
  },
  onData(stream, session, callback) {
    const chunks = [];
    stream.on('data', (chunk) => chunks.push(chunk));
    stream.on('error', callback);
    stream.on('end', async () => {
      try {
        count += 1;
        const n = count;
        const envelope = {
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((r) => r.address),
        };
        await writeAtomically(path.join(outdir, `${n}.json`), `${JSON.stringify(envelope)}\n`);
        await writeAtomically(path.join(outdir, `${n}.eml`), Buffer.concat(chunks));
        callback(null, `Message ${n} stored`);
      } catch (err) {
        console.error('smtp.mjs:', err);
        callback(err);
      }
    });
  },
});

server.on('error', (err) => console.error('smtp.mjs:', err));

server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`READY ${server.server.address().port}\n`);
});

function stop() {
  // close() waits for open connections (up to its closeTimeout); the tests want us gone now.
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 200).unref();
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
