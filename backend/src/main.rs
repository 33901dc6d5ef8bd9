use std::{net::SocketAddr, path::PathBuf, process::ExitCode};

use clap::{Parser, Subcommand};
use ecarto::{app::AppState, config::Config};

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
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Runs the web platform (migrations applied, reference data loaded on first start).
    Serve {
        #[arg(long, default_value = "127.0.0.1:8080")]
        addr: SocketAddr,
    },
    /// Applies the database migrations and exits.
    Migrate,
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
    if let Some(url) = cli.database_url {
        config.database_url = url;
    }
    match cli.command {
        Command::Serve { addr } => {
            if cli.public_url.is_none() {
                config.public_base_url = format!("http://{addr}");
            }
            let state = AppState::start(config).await?;
            let listener = tokio::net::TcpListener::bind(addr).await?;
            tracing::info!("eCarto contributions listening on http://{addr}");
            axum::serve(listener, state.router())
                .with_graceful_shutdown(async {
                    let _ = tokio::signal::ctrl_c().await;
                })
                .await?;
        }
        Command::Migrate => {
            AppState::start(config).await?;
            println!("migrations applied");
        }
        Command::Export {
            format,
            version,
            out,
        } => {
            let state = AppState::start(config).await?;
            export(&state, format, version, &out).await?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes an export to a file and reports what it cost, for the benchmarks.
async fn export(
    state: &AppState,
    format: ecarto::domain::export::ExportFormat,
    version: Option<i32>,
    out: &std::path::Path,
) -> Result<(), Box<dyn std::error::Error>> {
    use ecarto::{bench_support, services::exports};

    let started = std::time::Instant::now();
    let snapshot = exports::snapshot(&state.db, version).await?;
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
