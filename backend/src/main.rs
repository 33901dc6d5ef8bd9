use std::{net::SocketAddr, path::PathBuf, process::ExitCode};

use clap::{Parser, Subcommand};
use ecarto::{
    app::AppState, config::Config, reference::territories::TerritoryReference,
    services::territories,
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
    /// Imports reference data or source files into the database.
    #[command(subcommand)]
    Import(ImportCommand),
}

#[derive(Subcommand)]
enum ImportCommand {
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
            if let Some(summary) = territories::ensure_loaded(&state.db).await? {
                tracing::info!(
                    communes = summary.communes,
                    "territory reference loaded from the bundle"
                );
            }
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
        Command::Import(ImportCommand::Territories { dir, bundle }) => {
            let started = std::time::Instant::now();
            let reference = TerritoryReference::from_dir(&dir)?;
            let read = started.elapsed();
            let state = AppState::start(config).await?;
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
        }
    }
    Ok(ExitCode::SUCCESS)
}
