//! The Node.js test servers of `tests/support/node` (a real OpenID provider, a real SMTP
//! server), started as child processes and stopped when dropped.

use std::{
    io::{BufRead, BufReader},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

pub struct NodeServer {
    child: Child,
    /// What follows `READY ` on the first stdout line: the issuer URL or the port.
    pub ready: String,
}

impl Drop for NodeServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn support_dir() -> PathBuf {
    crate::repo_root().join("tests/support/node")
}

impl NodeServer {
    pub fn start(script: &str, args: &[&str], env: &[(&str, &str)]) -> Self {
        let dir = support_dir();
        assert!(
            dir.join("node_modules").exists(),
            "the Node.js test helpers are not installed: scripts/test runs `npm ci --prefix \
             tests/support/node`"
        );
        let mut cmd = Command::new("node");
        cmd.arg(dir.join(script))
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("node starts");
        let stdout = child.stdout.take().expect("stdout piped");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let started = Instant::now();
        // Generous: on a loaded 2-core machine (every browser test of the suite running at
        // once) the provider's start, keys included, has been seen to pass 30 s.
        let line = rx
            .recv_timeout(Duration::from_secs(90))
            .unwrap_or_else(|_| panic!("{script} did not start within 90 s"));
        let ready = line
            .trim()
            .strip_prefix("READY ")
            .unwrap_or_else(|| panic!("{script} printed {line:?} instead of READY"))
            .to_owned();
        let _ = started;
        Self { child, ready }
    }
}

/// A real SMTP server writing each message it receives as `<n>.eml` in a folder.
pub struct SmtpServer {
    _server: NodeServer,
    pub port: u16,
    pub dir: tempfile::TempDir,
}

impl SmtpServer {
    pub fn start() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let server =
            NodeServer::start("smtp.mjs", &[dir.path().to_str().expect("utf-8 path")], &[]);
        let port = server.ready.parse().expect("READY <port>");
        Self {
            _server: server,
            port,
            dir,
        }
    }

    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// The raw messages received so far, in order, waiting up to 10 s for `count` of them.
    pub fn messages(&self, count: usize) -> Vec<String> {
        wait_for_messages(self.dir.path(), count)
    }
}

/// The `.eml` files of a folder (an outbox or the SMTP server's), oldest first.
pub fn wait_for_messages(dir: &Path, count: usize) -> Vec<String> {
    let started = Instant::now();
    loop {
        let mut files: Vec<(std::time::SystemTime, PathBuf)> = std::fs::read_dir(dir)
            .map(|rd| {
                rd.filter_map(Result::ok)
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_some_and(|x| x == "eml"))
                    .map(|p| {
                        let t = p
                            .metadata()
                            .and_then(|m| m.modified())
                            .unwrap_or(std::time::UNIX_EPOCH);
                        (t, p)
                    })
                    .collect()
            })
            .unwrap_or_default();
        if files.len() >= count || started.elapsed() > Duration::from_secs(10) {
            files.sort();
            return files
                .into_iter()
                .map(|(_, p)| std::fs::read_to_string(p).unwrap_or_default())
                .collect();
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A quoted-printable raw message as text: soft line breaks joined, `=XX` bytes decoded.
pub fn decoded(message: &str) -> String {
    let joined = message.replace("=\r\n", "").replace("=\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'='
            && i + 2 < bytes.len()
            && let Ok(b) = u8::from_str_radix(&joined[i + 1..i + 3], 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The first link of a plain-text e-mail that starts with `prefix`.
pub fn link_in(message: &str, prefix: &str) -> Option<String> {
    let unfolded = decoded(message);
    let start = unfolded.find(prefix)?;
    let rest = &unfolded[start..];
    let end = rest.find(|c: char| c.is_whitespace()).unwrap_or(rest.len());
    Some(rest[..end].to_owned())
}

/// A real OpenID provider shaped like ProConnect (`oidc.mjs`), with test controls.
pub struct OidcServer {
    _server: NodeServer,
    pub issuer: String,
    http: reqwest::Client,
}

pub const OIDC_CLIENT_ID: &str = "ecarto-test";
pub const OIDC_CLIENT_SECRET: &str = "a-long-enough-client-secret-for-tests";

impl OidcServer {
    /// `redirect_uri` is the platform's callback; `signed_userinfo` makes userinfo a signed JWT
    /// as ProConnect's is.
    pub fn start(redirect_uri: &str, post_logout_uri: &str, signed_userinfo: bool) -> Self {
        let server = NodeServer::start(
            "oidc.mjs",
            &[],
            &[
                ("OIDC_CLIENT_ID", OIDC_CLIENT_ID),
                ("OIDC_CLIENT_SECRET", OIDC_CLIENT_SECRET),
                ("OIDC_REDIRECT_URIS", redirect_uri),
                ("OIDC_POST_LOGOUT_REDIRECT_URIS", post_logout_uri),
                (
                    "OIDC_USERINFO_SIGNED",
                    if signed_userinfo { "1" } else { "0" },
                ),
            ],
        );
        Self {
            issuer: server.ready.clone(),
            _server: server,
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("http client"),
        }
    }

    async fn control(&self, path: &str, body: serde_json::Value) {
        let res = self
            .http
            .post(format!("{}{path}", self.issuer))
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .expect("provider control endpoint");
        assert!(res.status().is_success(), "{path}: {}", res.status());
    }

    /// The account the next sign-ins authenticate as.
    pub async fn next_user(&self, sub: &str, email: &str, siret: &str) {
        self.control(
            "/__test/next-user",
            serde_json::json!({"sub": sub, "email": email, "given_name": "Camille",
                "usual_name": "Martin", "siret": siret, "uid": sub}),
        )
        .await;
    }

    /// `none`, `expired`, `bad-signature`, `wrong-nonce`, `wrong-audience`, `wrong-issuer`.
    pub async fn tamper(&self, mode: &str) {
        self.control("/__test/token-tamper", serde_json::json!({"mode": mode}))
            .await;
    }

    /// Plays the browser at the provider: follows its redirects (keeping its cookies) from the
    /// authorization URL until one leaves for `stop_prefix`, and returns that URL.
    pub async fn follow(&self, start: &str, stop_prefix: &str) -> String {
        let mut cookies: std::collections::BTreeMap<String, String> = Default::default();
        let mut url = start.to_owned();
        for _ in 0..20 {
            if url.starts_with(stop_prefix) {
                return url;
            }
            let jar: Vec<String> = cookies.iter().map(|(k, v)| format!("{k}={v}")).collect();
            let res = self
                .http
                .get(&url)
                .header("cookie", jar.join("; "))
                .send()
                .await
                .expect("provider answers");
            for c in res.headers().get_all("set-cookie") {
                if let Some((k, v)) = c
                    .to_str()
                    .ok()
                    .and_then(|c| c.split(';').next())
                    .and_then(|kv| kv.split_once('='))
                {
                    cookies.insert(k.to_owned(), v.to_owned());
                }
            }
            let location = res
                .headers()
                .get("location")
                .and_then(|l| l.to_str().ok())
                .unwrap_or_else(|| panic!("no redirect from {url}: {}", res.status()))
                .to_owned();
            url = if location.starts_with('/') {
                format!("{}{location}", self.issuer)
            } else {
                location
            };
        }
        panic!("too many redirects from {start}")
    }
}
