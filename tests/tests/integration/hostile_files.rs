//! The hostile corpus (`tests/corpus/hostile/`, written by `scripts/make-hostile-corpus.py`):
//! encoding traps, broken CSV, formulas, NUL bytes, 10 MB cells, zip bombs renamed `.xlsx`, a
//! workbook formatted down to its millionth row, XML entity bombs, JSON nested 100,000 deep…
//! Each goes through the real validation endpoint and must get the answer written beside it
//! in `expected.csv`: the status, and a phrase of the answer (a clear error for what cannot be
//! read, a report naming the faults for what can). Never a 500, never a panic, never the
//! server's memory: every file is answered.

use axum::http::{Method, StatusCode};
use ecarto_tests::{TestApp, repo_root};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_hostile_file_gets_its_clear_answer() {
    let app = TestApp::with_sample(|c| c.validation.anonymous_per_ip = 10_000).await;
    let dir = repo_root().join("tests/corpus/hostile");
    let manifest = std::fs::read_to_string(dir.join("expected.csv")).expect("expected.csv");
    let mut failures = Vec::new();
    let mut count = 0;
    for line in manifest.lines().skip(1) {
        let mut parts = line.splitn(3, '\t');
        let (Some(file), Some(status), Some(phrase)) = (parts.next(), parts.next(), parts.next())
        else {
            panic!("expected.csv: « {line} » is not file<TAB>status<TAB>phrase");
        };
        let status: u16 = status.parse().expect("a status");
        let bytes = std::fs::read(dir.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        let res = app
            .send(
                Method::POST,
                &format!("/api/v1/validate/inventaire-equipement?filename={file}"),
                &[("content-type", "application/octet-stream")],
                bytes,
            )
            .await;
        count += 1;
        let text = res.text();
        let shown: String = text.chars().take(400).collect();
        if res.status == StatusCode::INTERNAL_SERVER_ERROR {
            failures.push(format!("{file}: 500 {shown}"));
        } else if res.status.as_u16() != status {
            failures.push(format!(
                "{file}: {} instead of {status}: {shown}",
                res.status
            ));
        } else if !text.contains(phrase) {
            failures.push(format!("{file}: no « {phrase} » in {shown}"));
        }
    }
    assert!(count >= 50, "the corpus holds {count} files");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
