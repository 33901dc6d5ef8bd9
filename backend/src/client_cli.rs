//! Commands that talk to a running platform over its HTTP API with a personal token, as a
//! script would: `ecarto submit` and `ecarto review`.

use std::{path::Path, process::ExitCode};

use clap::Subcommand;
use serde_json::{Value, json};

#[derive(Subcommand)]
pub enum ReviewCommand {
    /// The review queue (pending submissions of your territories).
    List {
        #[arg(long)]
        territory: Option<String>,
        #[arg(long)]
        schema: Option<String>,
    },
    /// A submission with its rows, report and diff (JSON).
    Show { id: i64 },
    /// Decides on a submission: --accept [--rows 2,5], --reject --reason R or
    /// --request-changes --reason R.
    Decide {
        id: i64,
        #[arg(long, conflicts_with_all = ["reject", "request_changes"])]
        accept: bool,
        #[arg(long)]
        reject: bool,
        #[arg(long)]
        request_changes: bool,
        /// Lines to accept, as the report numbers them (default: every proposed row).
        #[arg(long, value_delimiter = ',')]
        rows: Vec<i64>,
        /// Only some fields of a row: `LINE:field,field` (repeatable).
        #[arg(long = "fields")]
        fields: Vec<String>,
        /// When values changed since the submission: take_proposed or keep_published.
        #[arg(long)]
        conflicts: Option<String>,
        #[arg(long, default_value = "")]
        reason: String,
    },
}

pub struct Remote {
    pub url: String,
    pub token: Option<String>,
}

impl Remote {
    fn client(&self) -> Result<(reqwest::Client, String), String> {
        let token = self.token.clone().ok_or(
            "un jeton d'API est nécessaire : --token ou ECARTO_TOKEN (ecarto tokens create)",
        )?;
        let client = reqwest::Client::builder()
            .build()
            .map_err(|e| e.to_string())?;
        Ok((client, format!("Bearer {token}")))
    }

    fn api(&self, path: &str) -> String {
        format!("{}{path}", self.url.trim_end_matches('/'))
    }
}

/// The answer's JSON, or the problem's detail and violations as one message.
async fn answer(res: Result<reqwest::Response, reqwest::Error>) -> Result<(u16, Value), String> {
    let res = res.map_err(|e| format!("plateforme injoignable : {e}"))?;
    let status = res.status().as_u16();
    let body: Value = res.json().await.unwrap_or(Value::Null);
    if status >= 400 {
        let mut msg = format!(
            "{} ({status})",
            body["detail"]
                .as_str()
                .or(body["title"].as_str())
                .unwrap_or("erreur")
        );
        for v in body["errors"].as_array().into_iter().flatten() {
            msg.push_str(&format!(
                "\n  {} : {}",
                v["pointer"].as_str().unwrap_or(""),
                v["detail"].as_str().unwrap_or("")
            ));
        }
        return Err(msg);
    }
    Ok((status, body))
}

fn done(r: Result<(), String>) -> ExitCode {
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("erreur : {e}");
            ExitCode::FAILURE
        }
    }
}

/// Sends a file; prints what became of each row. Exit code 0 when something goes to review.
pub async fn submit(
    remote: &Remote,
    schema: &str,
    file: &Path,
    supersedes: Option<i64>,
    idempotency_key: Option<String>,
) -> ExitCode {
    done(
        async {
            let (client, auth) = remote.client()?;
            let bytes = std::fs::read(file)
                .map_err(|e| format!("{} : lecture impossible ({e})", file.display()))?;
            let name = file
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "fichier".into());
            let mut query = vec![("schema", schema.to_owned()), ("filename", name)];
            if let Some(s) = supersedes {
                query.push(("supersedes", s.to_string()));
            }
            let mut req = client
                .post(remote.api("/api/v1/submissions"))
                .header("authorization", auth)
                .header("content-type", "application/octet-stream")
                .query(&query)
                .body(bytes);
            if let Some(k) = idempotency_key {
                req = req.header("idempotency-key", k);
            }
            let (status, body) = answer(req.send().await).await?;
            println!(
                "Envoi n° {} {} : {} ({} ligne(s) proposée(s), {} à corriger, {} hors compétence)",
                body["id"],
                if status == 201 {
                    "créé"
                } else {
                    "déjà reçu"
                },
                body["status"].as_str().unwrap_or(""),
                body["rows_proposed"],
                body["rows_invalid"],
                body["rows_refused"]
            );
            for r in body["rows"].as_array().into_iter().flatten() {
                if r["status"] != "proposed" {
                    println!(
                        "  ligne {} : {} — {}",
                        r["line"],
                        r["status"].as_str().unwrap_or(""),
                        r["reason"].as_str().unwrap_or("")
                    );
                }
            }
            if body["status"] == "pending" {
                Ok(())
            } else {
                Err("aucune ligne ne peut être relue".into())
            }
        }
        .await,
    )
}

pub async fn review(remote: &Remote, cmd: ReviewCommand) -> ExitCode {
    done(
        async {
            let (client, auth) = remote.client()?;
            match cmd {
                ReviewCommand::List { territory, schema } => {
                    let mut query = Vec::new();
                    if let Some(t) = territory {
                        query.push(("territory", t));
                    }
                    if let Some(s) = schema {
                        query.push(("schema", s));
                    }
                    let (_, body) = answer(
                        client
                            .get(remote.api("/api/v1/reviews"))
                            .header("authorization", auth)
                            .query(&query)
                            .send()
                            .await,
                    )
                    .await?;
                    for s in body.as_array().into_iter().flatten() {
                        println!(
                            "{}\t{}\t{}\t{} ligne(s)\t{} h",
                            s["id"],
                            s["schema"].as_str().unwrap_or(""),
                            s["file_name"].as_str().unwrap_or(""),
                            s["rows_proposed"],
                            s["age_hours"]
                        );
                    }
                }
                ReviewCommand::Show { id } => {
                    let (_, body) = answer(
                        client
                            .get(remote.api(&format!("/api/v1/submissions/{id}")))
                            .header("authorization", auth)
                            .send()
                            .await,
                    )
                    .await?;
                    println!(
                        "{}",
                        serde_json::to_string_pretty(&body).map_err(|e| e.to_string())?
                    );
                }
                ReviewCommand::Decide {
                    id,
                    accept,
                    reject,
                    request_changes,
                    rows,
                    fields,
                    conflicts,
                    reason,
                } => {
                    let decision = match (accept, reject, request_changes) {
                        (true, false, false) => "accept",
                        (false, true, false) => "reject",
                        (false, false, true) => "request_changes",
                        _ => {
                            return Err(
                                "une décision : --accept, --reject ou --request-changes".into()
                            );
                        }
                    };
                    let mut payload = json!({"decision": decision, "reason": reason});
                    if !rows.is_empty() {
                        payload["rows"] = json!(rows);
                    }
                    let mut by_row = serde_json::Map::new();
                    for spec in &fields {
                        let (line, names) = spec.split_once(':').ok_or_else(|| {
                            format!("--fields « {spec} » : attendu LIGNE:champ,champ")
                        })?;
                        let names: Vec<&str> = names.split(',').map(str::trim).collect();
                        by_row.insert(line.trim().to_owned(), json!(names));
                    }
                    if !by_row.is_empty() {
                        payload["fields"] = Value::Object(by_row);
                    }
                    if let Some(c) = conflicts {
                        payload["conflicts"] = json!(c);
                    }
                    let (_, body) = answer(
                        client
                            .post(remote.api(&format!("/api/v1/submissions/{id}/decision")))
                            .header("authorization", auth)
                            .json(&payload)
                            .send()
                            .await,
                    )
                    .await?;
                    println!(
                        "Envoi n° {id} : {}{}",
                        body["submission"]["status"].as_str().unwrap_or(""),
                        body["merged_version"]
                            .as_i64()
                            .map(|v| format!(", publié dans la version {v}"))
                            .unwrap_or_default()
                    );
                }
            }
            Ok(())
        }
        .await,
    )
}
