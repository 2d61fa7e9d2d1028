//! The `allele` command line.

use crate::import;
use allele_server::{AppState, Config};
use allele_store::{Role, SqliteStore, keys, now_ms};
use clap::{Parser, Subcommand};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

const DEFAULT_WORKSPACE: &str = "default";

#[derive(Parser)]
#[command(
    name = "allele",
    version,
    about = "customer engagement engine: ingest, decide, measure, customer control"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create the workspace `default` and print its keys as JSON.
    Init {
        #[arg(long, default_value = "./allele-data")]
        data: PathBuf,
        /// `sqlite` (embedded, the default).
        #[arg(long, default_value = "sqlite")]
        store: String,
    },
    /// Serve the HTTP API; an empty data dir is initialised first.
    Serve {
        #[arg(long, default_value = "./allele-data")]
        data: PathBuf,
        #[arg(long, default_value = "127.0.0.1:7070")]
        listen: String,
        #[arg(long, default_value = "sqlite")]
        store: String,
        /// Decompressed bytes accepted in one batch (RudderStack SDKs may send 4 MB).
        #[arg(long, default_value_t = allele_types::segment::DEFAULT_MAX_BATCH_BYTES)]
        max_batch_bytes: usize,
        /// Seconds between scheduled influence recomputes and sentiment checks.
        #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..=86_400))]
        listen_every: u64,
        /// Seconds between checks of a challenger's guardrail (automatic rollback).
        #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=86_400))]
        guard_every: u64,
        #[command(flatten)]
        limits: crate::limits::LimitArgs,
    },
    /// Manage API keys.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Import offline touchpoints from CSV or JSONL (idempotent, resumable).
    Import(import::ImportArgs),
    /// Off-policy evaluation (IPS, SNIPS, DR) of a policy on a decision log.
    Evaluate(crate::evaluate::EvaluateArgs),
    /// Run a synthetic market through the whole loop: static rules vs adapted vs oracle.
    Simulate(crate::simulate::SimulateArgs),
    /// Score each stdin line with VADER; one JSON object per line.
    Sentiment,
    /// Check or publish a policy file.
    Policy {
        #[command(subcommand)]
        command: crate::policy::PolicyCommand,
    },
    /// Readouts from a data dir (experiments).
    Report {
        #[command(subcommand)]
        command: crate::report::ReportCommand,
    },
    /// A temporary server with synthetic customers and a summary of the story.
    Demo(crate::demo::DemoArgs),
    /// Decide at a touchpoint with the centre's signed bundle, online or not.
    Edge(crate::edge::EdgeArgs),
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Create a key and print it as JSON.
    Create {
        #[arg(long, default_value = "./allele-data")]
        data: PathBuf,
        /// write | decide | admin
        #[arg(long)]
        role: String,
        #[arg(long, default_value = DEFAULT_WORKSPACE)]
        workspace: String,
    },
}

pub fn main() -> ExitCode {
    init_logging();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("ALLELE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if std::env::var("ALLELE_LOG_FORMAT").is_ok_and(|f| f == "json") {
        builder.json().init();
    } else {
        builder.compact().init();
    }
}

fn check_store(store: &str) -> Result<(), String> {
    if store == "sqlite" {
        return Ok(());
    }
    Err(format!(
        "unsupported store `{store}`; this build supports `sqlite`"
    ))
}

pub(crate) fn open_store(data: &Path) -> Result<SqliteStore, String> {
    SqliteStore::open(data)
        .map_err(|err| format!("cannot open the store in `{}`: {err}", data.display()))
}

/// Create the default workspace unless the store already has one: a store
/// is never given a second workspace, nor new keys, behind its owner's back.
async fn init_if_empty(store: &SqliteStore) -> Result<Option<allele_store::NewWorkspace>, String> {
    store
        .write(1, |conn| {
            if keys::any_workspace(conn)? {
                return Ok(None);
            }
            keys::create_workspace(conn, DEFAULT_WORKSPACE, now_ms()).map(Some)
        })
        .await
        .map_err(|err| err.to_string())
}

async fn run(cli: Cli) -> Result<(), String> {
    match cli.command {
        Command::Init { data, store } => {
            check_store(&store)?;
            let store = open_store(&data)?;
            let created = init_if_empty(&store).await?;
            let Some(created) = created else {
                return Err(format!(
                    "`{}` already holds a workspace; keys are not rotated",
                    data.display()
                ));
            };
            println!(
                "{}",
                serde_json::to_string(&created).map_err(|e| e.to_string())?
            );
            Ok(())
        }
        Command::Serve {
            data,
            listen,
            store,
            max_batch_bytes,
            listen_every,
            guard_every,
            limits,
        } => {
            check_store(&store)?;
            let config = Config {
                max_batch_bytes,
                listen_every: std::time::Duration::from_secs(listen_every),
                guard_every: std::time::Duration::from_secs(guard_every),
                limits: limits.limits(),
            };
            serve(&data, &listen, config).await
        }
        Command::Keys {
            command:
                KeysCommand::Create {
                    data,
                    role,
                    workspace,
                },
        } => {
            let role = Role::parse(&role)
                .ok_or_else(|| format!("unknown role `{role}`; use write, decide or admin"))?;
            let store = open_store(&data)?;
            let ws = workspace.clone();
            let key = store
                .write(1, move |conn| keys::create_key(conn, &ws, role, now_ms()))
                .await
                .map_err(|err| err.to_string())?;
            let out =
                serde_json::json!({"workspace": workspace, "role": role.as_str(), "key": key});
            println!("{out}");
            Ok(())
        }
        Command::Import(args) => import::run(args).await,
        Command::Demo(args) => crate::demo::run(args).await,
        Command::Edge(args) => crate::edge::run(args).await,
        Command::Report { command } => crate::report::run(command).await,
        Command::Policy { command } => crate::policy::run(command).await,
        Command::Sentiment => crate::sentiment::run(),
        Command::Evaluate(args) => crate::evaluate::run(args),
        Command::Simulate(args) => crate::simulate::run(args),
    }
}

async fn serve(data: &Path, listen: &str, config: Config) -> Result<(), String> {
    crate::limits::raise_open_files();
    let store = open_store(data)?;
    let created = init_if_empty(&store).await?;
    if let Some(created) = created {
        println!(
            "{}",
            serde_json::to_string(&created).map_err(|e| e.to_string())?
        );
    }
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|err| format!("cannot listen on `{listen}`: {err}"))?;
    let addr = listener.local_addr().map_err(|err| err.to_string())?;
    println!(
        "{}",
        serde_json::json!({"listening": format!("http://{addr}")})
    );
    tracing::info!(%addr, data = %data.display(), "allele serving");
    let state = AppState::new(store, config);
    allele_server::serve(state.clone(), listener)
        .await
        .map_err(|err| format!("server failed: {err}"))?;
    // Checkpoint so the data dir is one file again after a clean stop.
    let _ = state
        .store
        .write(1, |conn| {
            Ok(conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")?)
        })
        .await;
    Ok(())
}
