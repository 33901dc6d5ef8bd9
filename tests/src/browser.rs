//! A real headless Chromium for page tests, driven through Debian's `chromedriver` over the
//! W3C WebDriver protocol (a few JSON requests over HTTP/1.1: no client crate needed).
//! `scripts/test` installs `chromium` and `chromium-driver` when they are missing.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";
/// The W3C key for an element reference in WebDriver answers.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

pub struct Browser {
    driver: Child,
    port: u16,
    session: String,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

async fn http(port: u16, method: &str, path: &str, body: Option<&Value>) -> std::io::Result<Value> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await?;
    let body = body.map(Value::to_string).unwrap_or_default();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await?;
    // chromedriver announces `Connection: close` but keeps the socket open: read the headers,
    // then exactly `Content-Length` bytes.
    let mut raw = Vec::new();
    let mut buf = [0u8; 8192];
    let header_end = loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Err(std::io::Error::other(
                "connection closed before the headers",
            ));
        }
        raw.extend_from_slice(&buf[..n]);
        if let Some(p) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            break p + 4;
        }
    };
    let head = String::from_utf8_lossy(&raw[..header_end]).to_lowercase();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    while raw.len() < header_end + length {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        raw.extend_from_slice(&buf[..n]);
    }
    let payload = &raw[header_end..(header_end + length).min(raw.len())];
    if payload.is_empty() {
        return Ok(Value::Null);
    }
    serde_json::from_slice(payload).map_err(|e| {
        std::io::Error::other(format!("{head}: {e}: {}", String::from_utf8_lossy(payload)))
    })
}

impl Browser {
    /// Starts chromedriver and a headless Chromium session.
    pub async fn start() -> Self {
        assert!(
            std::path::Path::new(CHROMEDRIVER).exists() && std::path::Path::new(CHROMIUM).exists(),
            "page tests need Debian's chromium and chromium-driver: scripts/test installs them"
        );
        let port = free_port();
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let started = Instant::now();
        loop {
            if let Ok(status) = http(port, "GET", "/status", None).await
                && status["value"]["ready"] == true
            {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "chromedriver did not start"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,900"]
            }
        }}});
        let created = http(port, "POST", "/session", Some(&caps))
            .await
            .expect("session request");
        let session = created["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no WebDriver session: {created}"))
            .to_owned();
        Browser {
            driver,
            port,
            session,
        }
    }

    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let path = format!("/session/{}{path}", self.session);
        let answer = http(self.port, method, &path, body.as_ref())
            .await
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        if answer["value"].get("error").is_some() {
            panic!("{method} {path}: {}", answer["value"]);
        }
        answer["value"].clone()
    }

    pub async fn goto(&self, url: &str) {
        self.call("POST", "/url", Some(json!({"url": url}))).await;
    }

    /// The element matching a CSS selector.
    pub async fn find(&self, css: &str) -> String {
        let v = self
            .call(
                "POST",
                "/element",
                Some(json!({"using": "css selector", "value": css})),
            )
            .await;
        v[ELEMENT_KEY]
            .as_str()
            .unwrap_or_else(|| panic!("{css}: {v}"))
            .to_owned()
    }

    pub async fn click(&self, element: &str) {
        self.call(
            "POST",
            &format!("/element/{element}/click"),
            Some(json!({})),
        )
        .await;
    }

    /// Types into an element; for a file input, the text is the file's path.
    pub async fn send_keys(&self, element: &str, text: &str) {
        self.call(
            "POST",
            &format!("/element/{element}/value"),
            Some(json!({"text": text})),
        )
        .await;
    }

    pub async fn script(&self, script: &str, args: Value) -> Value {
        self.call(
            "POST",
            "/execute/sync",
            Some(json!({"script": script, "args": args})),
        )
        .await
    }

    /// The page's visible text.
    pub async fn text(&self) -> String {
        self.script(
            "return document.body ? document.body.innerText : '';",
            json!([]),
        )
        .await
        .as_str()
        .unwrap_or_default()
        .to_owned()
    }

    pub async fn url(&self) -> String {
        self.call("GET", "/url", None)
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Runs axe-core (npm `axe-core`, in `tests/support/node`) in the page, and returns its
    /// violations of impact `serious` or `critical` as `rule: nodes` lines, empty when none.
    /// RGAA's automatable checks (labels, contrast, landmarks, names…) are among its rules.
    pub async fn serious_accessibility_violations(&self) -> Vec<String> {
        let axe = crate::repo_root().join("tests/support/node/node_modules/axe-core/axe.min.js");
        let source = std::fs::read_to_string(&axe).unwrap_or_else(|e| {
            panic!(
                "{}: {e} (run scripts/test, which installs it)",
                axe.display()
            )
        });
        self.script(&source, json!([])).await;
        let found = self
            .call(
                "POST",
                "/execute/async",
                Some(json!({
                    "script": "const done = arguments[arguments.length - 1];\
                        axe.run(document, {resultTypes: ['violations']}).then(r => done(\
                          r.violations.filter(v => v.impact === 'serious' || v.impact === 'critical')\
                            .map(v => v.id + ' (' + v.impact + '): ' + v.help + ' — ' +\
                              v.nodes.map(n => n.target.join(' ')).slice(0, 5).join(', ')))\
                        ).catch(e => done(['axe failed: ' + e]));",
                    "args": []
                })),
            )
            .await;
        found
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_else(|| vec![format!("unexpected answer from axe: {found}")])
    }

    /// Asserts that the page has no serious or critical accessibility violation.
    pub async fn assert_accessible(&self, page: &str) {
        let violations = self.serious_accessibility_violations().await;
        assert!(violations.is_empty(), "{page}: {violations:#?}");
    }

    /// Saves what the browser shows as `target/screenshots/NAME.png`, for people to look at.
    pub async fn screenshot(&self, name: &str) -> std::path::PathBuf {
        use base64::Engine as _;
        let shot = self.call("GET", "/screenshot", None).await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(shot.as_str().unwrap_or_default())
            .expect("a base64 PNG");
        let dir = crate::repo_root().join("target/screenshots");
        std::fs::create_dir_all(&dir).expect("screenshots folder");
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png).expect("screenshot written");
        path
    }

    /// Sets the window's size, e.g. 375 px wide for a phone.
    pub async fn resize(&self, width: u32, height: u32) {
        self.call(
            "POST",
            "/window/rect",
            Some(json!({"width": width, "height": height})),
        )
        .await;
    }

    /// Whether the page is wider than its window (text cut, or a sideways scroll for all).
    pub async fn overflows_horizontally(&self) -> bool {
        self.script(
            "return document.documentElement.scrollWidth > window.innerWidth + 1;",
            json!([]),
        )
        .await
        .as_bool()
        .unwrap_or(true)
    }

    /// The elements that stick out of the window on the right, to say what overflows.
    pub async fn elements_wider_than_window(&self) -> Value {
        self.script(
            "return [...document.querySelectorAll('body *')]\
               .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1)\
               .slice(0, 10)\
               .map(e => e.tagName + (e.id ? '#' + e.id : '') + (e.className ? '.' + e.className : '') \
                 + ' ' + Math.round(e.getBoundingClientRect().right));",
            json!([]),
        )
        .await
    }

    /// Waits until the page's text contains `needle`, and returns the text.
    pub async fn wait_for_text(&self, needle: &str) -> String {
        let started = Instant::now();
        loop {
            let text = self.text().await;
            if text.contains(needle) {
                return text;
            }
            assert!(
                started.elapsed() < Duration::from_secs(15),
                "« {needle} » never appeared; the page says: {text}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// Signs in through the sign-in page with an e-mail link taken from the outbox; the browser
/// ends on the page it was going to.
pub async fn sign_in_by_email(app: &crate::TestApp, browser: &Browser, base: &str, email: &str) {
    browser.wait_for_text("Recevoir un lien de connexion").await;
    let input = browser.find("input[name=email]").await;
    browser.send_keys(&input, email).await;
    let submit = browser.find("form[action='/auth/email'] button").await;
    browser.click(&submit).await;
    browser.wait_for_text("Vérifiez votre messagerie").await;
    let outbox = app.dir.path().join("outbox");
    let link = crate::node::wait_for_messages(&outbox, 1)
        .iter()
        .rev()
        .find(|m| m.contains(email))
        .and_then(|m| crate::node::link_in(m, "http://127.0.0.1:8080/auth/email/confirm?token="))
        .expect("a sign-in link in the e-mail");
    browser
        .goto(&link.replace("http://127.0.0.1:8080", base))
        .await;
    let confirm = browser.find("#confirm").await;
    browser.click(&confirm).await;
}

/// Signs out from the sign-in page; the browser ends on the home page.
pub async fn sign_out(browser: &Browser, base: &str) {
    browser.goto(&format!("{base}/connexion")).await;
    browser.wait_for_text("Vous êtes connecté(e)").await;
    let logout = browser.find("form[action='/auth/logout'] button").await;
    browser.click(&logout).await;
    browser
        .wait_for_text("Le numérique éducatif dans les écoles")
        .await;
}

impl Drop for Browser {
    fn drop(&mut self) {
        let (port, session) = (self.port, self.session.clone());
        // Closing the session quits Chromium; then the driver goes.
        let _ = std::thread::spawn(move || {
            if let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                rt.block_on(async {
                    let _ = http(port, "DELETE", &format!("/session/{session}"), None).await;
                });
            }
        })
        .join();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
