use axum::http::StatusCode;
use ecarto_tests::TestApp;

#[tokio::test]
async fn health_and_readiness() {
    let app = TestApp::new().await;
    let res = app.get("/healthz").await;
    res.assert_status(StatusCode::OK);
    let res = app.get("/readyz").await;
    res.assert_status(StatusCode::OK);
    let expected = if ecarto_tests::is_postgres() {
        "Postgres"
    } else {
        "Sqlite"
    };
    assert_eq!(
        res.json()["database"].as_str().map(str::to_lowercase),
        Some(expected.to_lowercase())
    );
}
