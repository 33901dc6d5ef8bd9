use std::{
    io::IsTerminal,
    net::SocketAddr,
    path::{Path, PathBuf},
    process::ExitCode,
};

use clap::{Parser, Subcommand};

mod admin_cli;
mod client_cli;

/// glibc's allocator spent a third of an import in malloc/free and its arena lock (perf);
/// mimalloc's per-thread heaps remove most of it.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
use ecarto::{
    app::AppState,
    config::Config,
    reference::territories::TerritoryReference,
    services::{
        imports::{self, ImportKind},
        territories,
    },
};

/// eCarto contributions: the open data on digital education in schools.
#[derive(Parser)]
#[command(name = "ecarto", version)]
struct Cli {
    /// `postgres://…` or `sqlite://…`; by default a SQLite file under --data-dir.
    #[arg(long, env = "DATABASE_URL", global = true)]
    database_url: Option<String>,
    /// Folder of the embedded default (SQLite file, e-mail outbox).
    #[arg(long, env = "ECARTO_DATA_DIR", default_value = "data", global = true)]
    data_dir: PathBuf,
    /// The public address of the platform, used in links of published documents.
    #[arg(long, env = "ECARTO_PUBLIC_URL", global = true)]
    public_url: Option<String>,
    /// Largest file accepted for validation, in bytes (413 beyond).
    #[arg(long, env = "ECARTO_VALIDATION_MAX_BYTES", default_value_t = 50 * 1024 * 1024, global = true)]
    validation_max_bytes: usize,
    /// Most data rows accepted in a file for validation (413 beyond).
    #[arg(
        long,
        env = "ECARTO_VALIDATION_MAX_ROWS",
        default_value_t = 1_000_000,
        global = true
    )]
    validation_max_rows: u64,
    /// Share of the published values a file may change or blank before it is flagged.
    #[arg(
        long,
        env = "ECARTO_MASS_CHANGE_SHARE",
        default_value_t = 0.2,
        global = true
    )]
    mass_change_share: f64,
    /// Files one address may have checked without signing in, per quarter of an hour.
    #[arg(
        long,
        env = "ECARTO_VALIDATIONS_PER_IP",
        default_value_t = 30,
        global = true
    )]
    validations_per_ip: u64,
    /// Memory for the public API's answers kept between publications, in MB per process
    /// (0: none kept).
    #[arg(
        long,
        env = "ECARTO_ANSWER_CACHE_MB",
        default_value_t = 1024,
        global = true
    )]
    answer_cache_mb: usize,
    /// SMTP server for e-mail, `smtp://host:port` (add `?tls=required` for STARTTLS) or
    /// `smtps://…`; without it, e-mails are written as .eml files to DATA_DIR/outbox.
    #[arg(long, env = "ECARTO_SMTP_URL", global = true)]
    smtp_url: Option<String>,
    /// The sender of the platform's e-mails.
    #[arg(
        long,
        env = "ECARTO_MAIL_FROM",
        default_value = "eCarto contributions <ne-pas-repondre@ecarto.localhost>",
        global = true
    )]
    mail_from: String,
    /// An OpenID Connect provider (ProConnect in production), repeatable:
    /// `id=proconnect;label=ProConnect;issuer=https://…;client_id=…;client_secret_env=VAR`
    /// (`client_secret=…` also works; `scopes=…` defaults to ProConnect's). In the environment,
    /// several providers are separated by `|`.
    #[arg(
        long = "oidc",
        env = "ECARTO_OIDC",
        value_delimiter = '|',
        global = true
    )]
    oidc: Vec<String>,
    /// Behind a reverse proxy: read the caller's address (rate limits, audit log) from the
    /// last entry of `X-Forwarded-For`. Never set it when clients reach the platform directly.
    #[arg(long, env = "ECARTO_TRUST_FORWARDED_FOR", global = true)]
    trust_forwarded_for: bool,
    /// Freshness score: values dated more than this many days ago count as stale.
    #[arg(
        long,
        env = "ECARTO_STALE_AFTER_DAYS",
        default_value_t = 1095,
        global = true
    )]
    stale_after_days: i64,
    /// Seconds of quiet after a merge before the touched territories' scores are recomputed.
    #[arg(
        long,
        env = "ECARTO_SCORES_DEBOUNCE_SECS",
        default_value_t = 60,
        global = true
    )]
    scores_debounce_secs: i64,
    /// Lets harvested sources live on loopback and private addresses. For tests and local
    /// demonstrations only: in production it would let anyone registering a source reach
    /// the platform's internal network.
    #[arg(long, env = "ECARTO_HARVEST_ALLOW_PRIVATE", global = true)]
    harvest_allow_private: bool,
    /// The platform `submit` and `review` talk to.
    #[arg(
        long,
        env = "ECARTO_URL",
        default_value = "http://127.0.0.1:8080",
        global = true
    )]
    url: String,
    /// A personal API token for `submit` and `review` (`ecarto tokens create`).
    #[arg(long, env = "ECARTO_TOKEN", global = true, hide_env_values = true)]
    token: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Runs the web platform (migrations applied, reference data loaded on first start).
    Serve {
        #[arg(long, default_value = "127.0.0.1:8080")]
        addr: SocketAddr,
        /// Do not load the bundled sample of real schools into an empty database.
        #[arg(long)]
        no_sample: bool,
        /// Serve pages and the API only, the scheduled jobs being run elsewhere (`ecarto jobs
        /// scheduler`, or another replica): each tick runs once whatever runs it.
        #[arg(long, env = "ECARTO_NO_JOBS")]
        no_jobs: bool,
    },
    /// Applies the database migrations and exits.
    Migrate,
    /// Imports reference data or source files into the database.
    #[command(subcommand)]
    Import(ImportCommand),
    /// Demonstration and scale data.
    #[command(subcommand)]
    Demo(DemoCommand),
    /// Checks a contribution file (CSV, XLSX or JSON) against a schema and prints the report.
    /// Exit code: 0 valid (warnings allowed), 1 errors, 2 unusable file.
    Validate {
        /// The schema: `name` (latest version) or `name@vN`.
        #[arg(long)]
        schema: String,
        file: PathBuf,
        /// text, json or html.
        #[arg(long, default_value = "text")]
        format: ReportFormat,
        /// Writes the file annotated with each row's status and messages (.csv or .xlsx).
        #[arg(long)]
        annotated: Option<PathBuf>,
        /// Skips the checks against the register even when a database is there.
        #[arg(long)]
        offline: bool,
    },
    /// People: accounts, roles, organisation, moderators' territories.
    #[command(subcommand)]
    Users(admin_cli::UsersCommand),
    /// Personal API tokens for scripts.
    #[command(subcommand)]
    Tokens(admin_cli::TokensCommand),
    /// Organisations and their competence (overrides, delegations, exclusions).
    #[command(subcommand)]
    Orgs(admin_cli::OrgsCommand),
    /// Requests to join an organisation the platform did not recognise.
    #[command(subcommand, name = "access-requests")]
    AccessRequests(admin_cli::AccessCommand),
    /// Sends a file to a running platform with your token (ECARTO_URL, ECARTO_TOKEN); prints
    /// what became of each row. Exit code 0 when rows go to review.
    Submit {
        #[arg(long)]
        schema: String,
        file: PathBuf,
        /// The submission this file corrects.
        #[arg(long)]
        supersedes: Option<i64>,
        /// Makes a retried command one submission.
        #[arg(long)]
        idempotency_key: Option<String>,
    },
    /// The review queue and decisions, on a running platform with a moderator's token.
    #[command(subcommand)]
    Review(client_cli::ReviewCommand),
    /// Runs a scheduled job now: `outbox` sends the e-mails due, `digest` queues the
    /// moderators' daily digests.
    #[command(subcommand)]
    Jobs(JobsCommand),
    /// May this person contribute this schema for this school? Prints the reason; exit code 0
    /// yes, 1 no.
    Can {
        #[arg(long)]
        email: String,
        #[arg(long)]
        uai: String,
        #[arg(long)]
        schema: String,
    },
    /// Writes the published dataset (latest or a past version) as CSV, JSON or GeoJSON.
    Export {
        /// csv, json or geojson.
        #[arg(long)]
        format: ecarto::domain::export::ExportFormat,
        /// The dataset version (default: the latest).
        #[arg(long)]
        version: Option<i32>,
        /// The file to write.
        #[arg(long)]
        out: PathBuf,
        /// Also the schools the annuaire does not list (absent from its latest import, or
        /// never listed); by default the export is the official list.
        #[arg(long)]
        include_absent: bool,
    },
}

#[derive(Subcommand)]
enum JobsCommand {
    /// Runs a job now (recorded in its history like a scheduled run).
    Run {
        /// outbox or digest.
        job: String,
    },
    /// Runs the scheduled jobs, without the web platform, until stopped: the jobs process of
    /// a deployment whose web replicas run with --no-jobs.
    Scheduler,
    /// The latest runs: start, end, status, attempts, counts, error.
    History {
        #[arg(long)]
        job: Option<String>,
        #[arg(long, default_value_t = 20)]
        limit: u64,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum ReportFormat {
    Text,
    Json,
    Html,
}

#[derive(Subcommand)]
enum DemoCommand {
    /// A deterministic national-scale register in the annuaire's format, spread over the real
    /// communes: written to --out, or imported into the database without it.
    Synthetic {
        #[arg(long, default_value_t = 65_000)]
        schools: usize,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum ImportCommand {
    /// The ministry's annuaire de l'éducation (both schemas) or its "adresse et géolocalisation
    /// des établissements" file.
    ///
    /// The annuaire is the official list: schools of the départements, types and secteurs a
    /// file covers that it no longer lists are marked absent (kept, out of completeness,
    /// lists and exports by default).
    Annuaire {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Marks absent the schools a file does not list even when it looks partial (cut
        /// short, rows rejected, or without more than a tenth of the schools it covers).
        #[arg(long)]
        confirm_absences: bool,
    },
    /// The ETIC survey (first or second degree, any millésime).
    Etic {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Prints the full report of a past import.
    Report {
        id: i64,
        /// The report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Reads Etalab's découpage administratif and the ministry's département → académie table
    /// from DIR (regions.json, departements.json, communes.json, epci.json,
    /// departement-academie-region.csv) and replaces the territory reference with it.
    Territories {
        dir: PathBuf,
        /// Also writes the compact bundle embedded in the binary
        /// (backend/reference/territories.tsv.gz).
        #[arg(long)]
        bundle: Option<PathBuf>,
    },
    /// Draws the map page's outlines of the départements from a GeoJSON of them (IGN Admin
    /// Express simplified, with overseas: departements-avec-outre-mer.geojson) and writes them
    /// as the bundle embedded in the binary (backend/reference/departements-carte.tsv).
    MapOutlines {
        geojson: PathBuf,
        #[arg(long)]
        bundle: PathBuf,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,sqlx=warn,sea_orm=warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match run(cli).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("erreur : {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<ExitCode, Box<dyn std::error::Error>> {
    let addr_default = "http://127.0.0.1:8080".to_owned();
    let public_url = cli.public_url.clone();
    let mut config = Config::embedded(cli.data_dir.clone(), public_url.unwrap_or(addr_default));
    config.validation = ecarto::config::ValidationLimits {
        max_bytes: cli.validation_max_bytes,
        max_rows: cli.validation_max_rows,
        mass_change_share: cli.mass_change_share,
        anonymous_per_ip: cli.validations_per_ip,
    };
    config.answer_cache_bytes = cli.answer_cache_mb.saturating_mul(1024 * 1024);
    config.mail.smtp_url = cli.smtp_url.clone();
    config.mail.from = cli.mail_from.clone();
    config.auth.trust_forwarded_for = cli.trust_forwarded_for;
    config.harvest.allow_private = cli.harvest_allow_private;
    config.harvest.max_bytes = cli.validation_max_bytes;
    config.scores = ecarto::config::ScoresConfig {
        stale_after: chrono::Duration::days(cli.stale_after_days),
        debounce: chrono::Duration::seconds(cli.scores_debounce_secs),
    };
    for (job, _, _) in ecarto::jobs::JOBS {
        if let Ok(cron) = std::env::var(format!("ECARTO_CRON_{}", job.to_uppercase())) {
            config.cron.insert(job.to_owned(), cron);
        }
    }
    for spec in cli.oidc.iter().filter(|s| !s.trim().is_empty()) {
        config.auth.oidc.push(
            ecarto::config::OidcProvider::parse(spec, |v| std::env::var(v).ok())
                .map_err(|e| format!("--oidc : {e}"))?,
        );
    }
    let cli_db_given = cli.database_url.is_some();
    if let Some(url) = cli.database_url {
        config.database_url = url;
    }
    match cli.command {
        Command::Serve {
            addr,
            no_sample,
            no_jobs,
        } => {
            if cli.public_url.is_none() {
                config.public_base_url = format!("http://{addr}");
            }
            let state = AppState::start(config).await?;
            // Territories first: the ETIC sample looks académies up by département.
            if let Some(summary) = territories::ensure_loaded(&state.db).await? {
                tracing::info!(
                    communes = summary.communes,
                    "territory reference loaded from the bundle"
                );
            }
            if !no_sample
                && let Some(summary) = ecarto::services::seed::sample_if_empty(&state.db).await?
            {
                println!("Base vide : échantillon réel chargé.");
                for line in summary.lines {
                    println!("  {line}");
                }
            }
            if let Some(schools) = imports::schools_awaiting_the_annuaire(&state.db).await? {
                println!(
                    "Attention : {schools} établissements publiés avant la liste officielle \
                     (migration 14) n'ont pas encore de présence dans l'annuaire et ne sont \
                     comptés nulle part ; réimportez le dernier annuaire de chaque département \
                     (`ecarto import annuaire …`) pour la leur donner."
                );
            }
            if let Some(link) =
                ecarto::services::auth::bootstrap_link(&state.db, &state.config.public_base_url)
                    .await?
            {
                println!(
                    "Aucun administrateur : ce lien, à usage unique, fait de qui l'ouvre le \
                     premier administrateur :\n  {link}"
                );
            }
            // Each tick of each job runs once across replicas (see jobs.rs).
            let _scheduler = if no_jobs {
                tracing::info!("scheduled jobs off here (--no-jobs)");
                None
            } else {
                Some(ecarto::jobs::start(state.clone()).await?)
            };
            let listener = tokio::net::TcpListener::bind(addr).await?;
            tracing::info!("eCarto contributions listening on http://{addr}");
            axum::serve(
                listener,
                state
                    .router()
                    .into_make_service_with_connect_info::<SocketAddr>(),
            )
            .with_graceful_shutdown(shutdown_signal())
            .await?;
        }
        Command::Migrate => {
            AppState::start(config).await?;
            println!("migrations applied");
        }
        Command::Import(cmd) => {
            let state = AppState::start(config).await?;
            return match cmd {
                ImportCommand::Annuaire {
                    files,
                    confirm_absences,
                } => {
                    let options = imports::ImportOptions { confirm_absences };
                    import_files(&state, ImportKind::Annuaire, &files, options).await
                }
                ImportCommand::Etic { files } => {
                    import_files(&state, ImportKind::Etic, &files, Default::default()).await
                }
                ImportCommand::Report { id, json } => print_import_report(&state, id, json).await,
                ImportCommand::Territories { dir, bundle } => {
                    import_territories(&state, &dir, bundle).await
                }
                ImportCommand::MapOutlines { geojson, bundle } => {
                    let text = std::fs::read_to_string(&geojson)?;
                    let outlines = ecarto::reference::map::outlines(&text)?;
                    let bundle_text = ecarto::reference::map::to_bundle(&outlines);
                    std::fs::write(&bundle, &bundle_text)?;
                    println!(
                        "{} départements dessinés dans {} ({} octets)",
                        outlines.len(),
                        bundle.display(),
                        bundle_text.len()
                    );
                    Ok(ExitCode::SUCCESS)
                }
            };
        }
        Command::Demo(DemoCommand::Synthetic { schools, seed, out }) => {
            return synthetic(config, schools, seed, out).await;
        }
        Command::Validate {
            schema,
            file,
            format,
            annotated,
            offline,
        } => {
            let use_db = !offline && (config_has_database(&cli_db_given, &config));
            return validate_file(
                &config,
                use_db,
                &schema,
                &file,
                format,
                annotated.as_deref(),
            )
            .await;
        }
        Command::Users(cmd) => {
            let state = AppState::start(config).await?;
            return Ok(admin_cli::users(&state, cmd).await);
        }
        Command::Tokens(cmd) => {
            let state = AppState::start(config).await?;
            return Ok(admin_cli::tokens(&state, cmd).await);
        }
        Command::Orgs(cmd) => {
            let state = AppState::start(config).await?;
            territories::ensure_loaded(&state.db).await?;
            return Ok(admin_cli::orgs(&state, cmd).await);
        }
        Command::AccessRequests(cmd) => {
            let state = AppState::start(config).await?;
            return Ok(admin_cli::access(&state, cmd).await);
        }
        Command::Submit {
            schema,
            file,
            supersedes,
            idempotency_key,
        } => {
            let remote = client_cli::Remote {
                url: cli.url.clone(),
                token: cli.token.clone(),
            };
            return Ok(
                client_cli::submit(&remote, &schema, &file, supersedes, idempotency_key).await,
            );
        }
        Command::Review(cmd) => {
            let remote = client_cli::Remote {
                url: cli.url.clone(),
                token: cli.token.clone(),
            };
            return Ok(client_cli::review(&remote, cmd).await);
        }
        Command::Jobs(cmd) => {
            let state = AppState::start(config).await?;
            match cmd {
                JobsCommand::Run { job } => {
                    let run = match ecarto::jobs::run_now(&state, &job, "cli").await {
                        Ok(r) => r,
                        Err(e) => {
                            eprintln!("erreur : {e}");
                            return Ok(ExitCode::from(2));
                        }
                    };
                    println!(
                        "{} : {} en {} tentative(s) — {}",
                        run.job,
                        run.status,
                        run.attempts,
                        run.error.clone().unwrap_or_else(|| run.counts.to_string())
                    );
                    if run.status != "succeeded" {
                        return Ok(ExitCode::FAILURE);
                    }
                }
                JobsCommand::Scheduler => {
                    territories::ensure_loaded(&state.db).await?;
                    let _scheduler = ecarto::jobs::start(state.clone()).await?;
                    println!("tâches planifiées lancées ; Ctrl-C pour arrêter");
                    shutdown_signal().await;
                }
                JobsCommand::History { job, limit } => {
                    for r in ecarto::jobs::history(&state, job.as_deref(), limit).await? {
                        println!(
                            "{}\t{}\t{}\t{}\t{}\t{}",
                            r.started_at.to_rfc3339(),
                            r.job,
                            r.trigger,
                            r.status,
                            r.attempts,
                            r.error.unwrap_or_else(|| r.counts.to_string())
                        );
                    }
                }
            }
        }
        Command::Can { email, uai, schema } => {
            let state = AppState::start(config).await?;
            return Ok(admin_cli::check(&state, &email, &uai, &schema).await);
        }
        Command::Export {
            format,
            version,
            out,
            include_absent,
        } => {
            let state = AppState::start(config).await?;
            export(&state, format, version, include_absent, &out).await?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The register is used when a database was named, or when the embedded one exists.
fn config_has_database(given: &bool, config: &Config) -> bool {
    *given || config.data_dir.join("ecarto.sqlite").exists()
}

async fn validate_file(
    config: &Config,
    use_db: bool,
    spec: &str,
    file: &Path,
    format: ReportFormat,
    annotated: Option<&Path>,
) -> Result<ExitCode, Box<dyn std::error::Error>> {
    use ecarto::validation::{self, Options, render};
    const UNUSABLE: u8 = 2;
    let schema = match ecarto_contrib_schemas::Registry::embedded().resolve(spec) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("erreur : {e}");
            return Ok(ExitCode::from(UNUSABLE));
        }
    };
    let bytes = match std::fs::read(file) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("erreur : {} : lecture impossible ({e})", file.display());
            return Ok(ExitCode::from(UNUSABLE));
        }
    };
    let name = file.file_name().map(|n| n.to_string_lossy().into_owned());
    let mut options = Options::new(config.validation.max_rows);
    options.keep_rows = use_db;
    let mut v = match validation::validate(schema, &bytes, name.as_deref(), &options) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("{} : {e}", file.display());
            return Ok(ExitCode::from(UNUSABLE));
        }
    };
    if use_db {
        let checked = async {
            let db = ecarto::db::connect(&config.database_url).await?;
            ecarto::services::validation::check_against_register(
                &db,
                schema,
                &mut v,
                config.validation.mass_change_share,
            )
            .await
        }
        .await;
        if let Err(e) = checked {
            eprintln!("avertissement : établissements non vérifiés dans l'annuaire ({e})");
        }
    }
    let report = &v.report;
    match format {
        ReportFormat::Text => print!("{}", render::text(report)),
        ReportFormat::Json => println!("{}", serde_json::to_string_pretty(report)?),
        ReportFormat::Html => print!("{}", render::html(report)),
    }
    if let Some(out) = annotated {
        let xlsx = out
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("xlsx"));
        let written = if xlsx {
            render::annotated_xlsx(schema, report, &bytes, name.as_deref())
        } else {
            render::annotated_csv(schema, report, &bytes, name.as_deref())
        }?;
        std::fs::write(out, written)?;
        eprintln!("fichier annoté écrit : {}", out.display());
    }
    Ok(if report.valid {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Row errors printed per file; the rest is in the stored report.
const ERRORS_SHOWN: usize = 20;

/// Files above this size get a progress bar (on a terminal only).
const PROGRESS_MIN_BYTES: usize = 1 << 20;

/// Imports each file in turn; fails only when no file gave anything usable.
async fn import_files(
    state: &AppState,
    kind: ImportKind,
    files: &[PathBuf],
    options: imports::ImportOptions,
) -> Result<ExitCode, Box<dyn std::error::Error>> {
    let mut any_usable = false;
    for path in files {
        let name = path.file_name().map_or_else(
            || path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) => {
                eprintln!("{} : lecture impossible ({e})", path.display());
                continue;
            }
        };
        let bar = progress_bar(path, bytes.len());
        let mut progress = |done: u64, total: u64| {
            bar.set_length(total);
            bar.set_position(done);
            if done == total {
                bar.set_message("publication…");
            }
        };
        let outcome = imports::import_file_with_progress(
            &state.db,
            kind,
            &name,
            &bytes,
            options,
            &mut progress,
        )
        .await;
        bar.finish_and_clear();
        let outcome = outcome?;
        any_usable |= outcome.report.is_usable();
        let hint = format!("`ecarto import report {}`", outcome.import_id);
        print!(
            "[import {}] {}",
            outcome.import_id,
            outcome.report.summary(ERRORS_SHOWN, Some(&hint))
        );
    }
    Ok(if any_usable {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn progress_bar(path: &Path, len: usize) -> indicatif::ProgressBar {
    if len < PROGRESS_MIN_BYTES || !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(len as u64);
    if let Ok(style) =
        indicatif::ProgressStyle::with_template("{prefix} [{bar:40}] {percent:>3} % {msg}")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_prefix(path.display().to_string());
    bar.set_message("lecture…");
    bar
}

async fn print_import_report(
    state: &AppState,
    id: i64,
    json: bool,
) -> Result<ExitCode, Box<dyn std::error::Error>> {
    let Some(stored) = imports::get_import(&state.db, id).await? else {
        eprintln!("aucun import n° {id}");
        return Ok(ExitCode::FAILURE);
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&stored.report)?);
    } else {
        let i = &stored.import;
        println!(
            "import n° {} ({}) du {}, statut {}, sha256 {}",
            i.id,
            i.kind,
            i.started_at.format("%Y-%m-%d %H:%M:%S UTC"),
            i.status,
            i.sha256
        );
        print!("{}", stored.report);
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes an export to a file and reports what it cost, for the benchmarks.
async fn export(
    state: &AppState,
    format: ecarto::domain::export::ExportFormat,
    version: Option<i32>,
    include_absent: bool,
    out: &std::path::Path,
) -> Result<(), Box<dyn std::error::Error>> {
    use ecarto::{bench_support, services::exports};

    let started = std::time::Instant::now();
    let mut snapshot = exports::snapshot(&state.db, version).await?;
    snapshot.include_absent = include_absent;
    let summary = exports::write_file(state.db.clone(), snapshot, format, out).await?;
    let secs = started.elapsed().as_secs_f64();
    eprintln!(
        "{} établissements exportés (version {}, {}) en {:.2} s, {:.0} lignes/s, {} ; mémoire maximale {}",
        summary.schools,
        summary.version,
        format,
        secs,
        summary.schools as f64 / secs.max(1e-9),
        bench_support::mib(summary.bytes),
        bench_support::peak_rss_bytes().map_or("inconnue".into(), bench_support::mib),
    );
    Ok(())
}

/// Reads the official territory files, replaces the reference in the database, and writes the
/// compact bundle when asked.
async fn import_territories(
    state: &AppState,
    dir: &Path,
    bundle: Option<PathBuf>,
) -> Result<ExitCode, Box<dyn std::error::Error>> {
    let started = std::time::Instant::now();
    let reference = TerritoryReference::from_dir(dir)?;
    let read = started.elapsed();
    let started = std::time::Instant::now();
    let summary = territories::load(&state.db, &reference).await?;
    println!(
        "référentiel des territoires de {} lu en {:.1} s, chargé en {:.1} s",
        dir.display(),
        read.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
    println!("{summary}");
    if let Some(path) = bundle {
        reference.write_bundle(&path)?;
        let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        println!("bundle écrit : {} ({size} octets)", path.display());
    }
    Ok(ExitCode::SUCCESS)
}

async fn synthetic(
    config: Config,
    schools: usize,
    seed: u64,
    out: Option<PathBuf>,
) -> Result<ExitCode, Box<dyn std::error::Error>> {
    let reference = TerritoryReference::bundled()?;
    let seeds = ecarto::services::demo::commune_seeds(&reference);
    let mut bytes = Vec::new();
    ecarto::synthetic::write_annuaire(&mut bytes, &seeds, schools, seed)?;
    if let Some(path) = out {
        std::fs::write(&path, &bytes)?;
        println!(
            "{schools} établissements synthétiques (graine {seed}) écrits dans {}",
            path.display()
        );
        return Ok(ExitCode::SUCCESS);
    }
    let state = AppState::start(config).await?;
    territories::ensure_loaded(&state.db).await?;
    let name = format!("synthetique-{schools}-{seed}.csv");
    let outcome = imports::import_file(&state.db, ImportKind::Annuaire, &name, &bytes).await?;
    print!(
        "[import {}] {}",
        outcome.import_id,
        outcome.report.summary(ERRORS_SHOWN, None)
    );
    Ok(ExitCode::SUCCESS)
}

/// Ctrl-C, or SIGTERM from systemd or a container runtime.
async fn shutdown_signal() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate => {}
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    /// clap checks its definitions only when a command runs: check them all at once here.
    #[test]
    fn the_command_line_is_well_formed() {
        super::Cli::command().debug_assert();
    }
}
