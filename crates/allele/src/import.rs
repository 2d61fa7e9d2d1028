//! `allele import`: offline touchpoints (POS, call centre, loyalty) from CSV
//! or JSONL into the store, through the same durable path as HTTP ingest.
//!
//! Idempotent: every row gets a stable messageId (its own, or a hash of the
//! header, the row and its line number), so a re-run stores nothing twice.
//! Resumable: after each committed chunk the last line is checkpointed in the
//! data dir; a restarted import skips what was committed.

use crate::mapping::Mapping;
use allele_types::segment::{self, RequestMeta};
use indicatif::{ProgressBar, ProgressStyle};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

#[derive(clap::Args, Debug)]
pub struct ImportArgs {
    /// The CSV or JSONL file.
    pub file: PathBuf,
    #[arg(long, default_value = "./allele-data")]
    pub data: PathBuf,
    /// A mapping file (YAML/JSON) or inline `field=column,…` pairs.
    #[arg(long)]
    pub map: Option<String>,
    #[arg(long, default_value = "default")]
    pub workspace: String,
    /// Where rejected rows go (default: beside the checkpoint in the data dir).
    #[arg(long)]
    pub rejects: Option<PathBuf>,
    /// `csv` or `jsonl`; by default taken from the file extension.
    #[arg(long)]
    pub format: Option<String>,
    /// Rows per commit.
    #[arg(long, default_value_t = 1_000)]
    pub chunk: usize,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Checkpoint {
    file: String,
    line: u64,
    accepted: u64,
    duplicates: u64,
    rejected: u64,
}

#[derive(Debug, Serialize)]
pub struct Summary {
    pub file: String,
    pub rows: u64,
    pub accepted: u64,
    pub duplicates: u64,
    pub rejected: u64,
    pub resumed_from_line: u64,
    pub rejects_file: String,
    pub seconds: f64,
    pub rows_per_sec: f64,
}

enum Rows {
    Csv {
        reader: csv::Reader<File>,
        headers: Vec<String>,
        mapping: Mapping,
    },
    Jsonl {
        lines: std::io::Lines<BufReader<File>>,
        line: u64,
        mapping: Option<Mapping>,
    },
}

/// One input row: its line number, and the object or why it was refused.
struct Row {
    line: u64,
    raw: String,
    object: Result<Map<String, Value>, String>,
}

impl Rows {
    fn next(&mut self) -> Option<Row> {
        match self {
            Rows::Csv {
                reader,
                headers,
                mapping,
            } => {
                let mut record = csv::StringRecord::new();
                match reader.read_record(&mut record) {
                    Ok(false) => None,
                    Ok(true) => {
                        let line = record.position().map_or(0, |p| p.line());
                        let raw = record.iter().collect::<Vec<_>>().join("\u{1f}");
                        let object = Ok(mapping.row_to_object(headers, &record));
                        Some(Row { line, raw, object })
                    }
                    Err(err) => {
                        let line = err.position().map_or(0, |p| p.line());
                        Some(Row {
                            line,
                            raw: String::new(),
                            object: Err(format!("unreadable csv row: {err}")),
                        })
                    }
                }
            }
            Rows::Jsonl {
                lines,
                line,
                mapping,
            } => loop {
                *line += 1;
                let text = match lines.next()? {
                    Ok(text) => text,
                    Err(err) => {
                        return Some(Row {
                            line: *line,
                            raw: String::new(),
                            object: Err(format!("unreadable line: {err}")),
                        });
                    }
                };
                if text.trim().is_empty() {
                    continue;
                }
                let object = match serde_json::from_str::<Value>(&text) {
                    Ok(Value::Object(mut object)) => {
                        if let Some(kind) = mapping.as_ref().and_then(|m| m.kind.clone()) {
                            object.entry("type").or_insert(Value::String(kind));
                        }
                        Ok(object)
                    }
                    Ok(_) => Err("line is not a json object".to_string()),
                    Err(err) => Err(format!("malformed json: {err}")),
                };
                return Some(Row {
                    line: *line,
                    raw: text,
                    object,
                });
            },
        }
    }

    fn byte_position(&self) -> Option<u64> {
        match self {
            Rows::Csv { reader, .. } => Some(reader.position().byte()),
            Rows::Jsonl { .. } => None,
        }
    }
}

fn open_rows(args: &ImportArgs) -> Result<Rows, String> {
    let format = match &args.format {
        Some(format) => format.clone(),
        None => args
            .file
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or("")
            .to_ascii_lowercase(),
    };
    let file = File::open(&args.file)
        .map_err(|e| format!("cannot open `{}`: {e}", args.file.display()))?;
    let mapping = args.map.as_deref().map(Mapping::load).transpose()?;
    match format.as_str() {
        "csv" => {
            let mut reader = csv::ReaderBuilder::new().flexible(false).from_reader(file);
            let headers: Vec<String> = reader
                .headers()
                .map_err(|e| {
                    format!(
                        "cannot read the csv header of `{}`: {e}",
                        args.file.display()
                    )
                })?
                .iter()
                .map(str::to_string)
                .collect();
            let mapping = mapping.unwrap_or_default().complete(&headers)?;
            Ok(Rows::Csv {
                reader,
                headers,
                mapping,
            })
        }
        "jsonl" | "ndjson" | "json" => Ok(Rows::Jsonl {
            lines: BufReader::new(file).lines(),
            line: 0,
            mapping,
        }),
        other => Err(format!("unknown import format `{other}`; use csv or jsonl")),
    }
}

/// The stable id of a row without its own messageId.
fn row_message_id(line: u64, raw: &str) -> String {
    let hash = xxhash_rust::xxh3::xxh3_128(format!("{line}\u{1e}{raw}").as_bytes());
    format!("imp-{hash:032x}")
}

pub async fn run(args: ImportArgs) -> Result<(), String> {
    let summary = import(&args, true).await?;
    println!(
        "{}",
        serde_json::to_string(&summary).map_err(|e| e.to_string())?
    );
    Ok(())
}

pub async fn import(args: &ImportArgs, progress: bool) -> Result<Summary, String> {
    let started = Instant::now();
    let store = Arc::new(crate::cli::open_store(&args.data)?);
    let ws = args.workspace.clone();
    let exists = store
        .read(move |conn| allele_store::keys::workspace_exists(conn, &ws))
        .await
        .map_err(|e| e.to_string())?;
    if !exists {
        return Err(format!(
            "no workspace `{}` in `{}`; run `allele init` first",
            args.workspace,
            args.data.display()
        ));
    }
    let canonical = args
        .file
        .canonicalize()
        .map_err(|e| format!("cannot open `{}`: {e}", args.file.display()))?;
    let tag = format!(
        "{:016x}",
        xxhash_rust::xxh3::xxh3_64(canonical.to_string_lossy().as_bytes())
    );
    let imports_dir = args.data.join("imports");
    std::fs::create_dir_all(&imports_dir)
        .map_err(|e| format!("cannot create `{}`: {e}", imports_dir.display()))?;
    let checkpoint_path = imports_dir.join(format!("{tag}.checkpoint.json"));
    let mut checkpoint: Checkpoint = match std::fs::read_to_string(&checkpoint_path) {
        Ok(text) => serde_json::from_str(&text).unwrap_or_default(),
        Err(_) => Checkpoint::default(),
    };
    checkpoint.file = canonical.display().to_string();
    let resumed_from_line = checkpoint.line;
    let rejects_path = args
        .rejects
        .clone()
        .unwrap_or_else(|| imports_dir.join(format!("{tag}.rejects.jsonl")));
    let mut rejects = std::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .append(resumed_from_line > 0)
        .truncate(resumed_from_line == 0)
        .open(&rejects_path)
        .map_err(|e| format!("cannot write rejects to `{}`: {e}", rejects_path.display()))?;

    let mut rows = open_rows(args)?;
    let total_bytes = std::fs::metadata(&args.file).map(|m| m.len()).unwrap_or(0);
    let bar = progress_bar(progress, total_bytes);
    let meta = RequestMeta {
        received_at: jiff::Timestamp::now(),
        gpc: false,
        max_batch_bytes: usize::MAX,
    };
    let chunk_size = args.chunk.max(1);
    let mut chunk = Vec::with_capacity(chunk_size);
    let mut rows_seen = 0u64;
    let mut last_line = resumed_from_line;
    let mut in_flight: Option<(
        u64,
        tokio::task::JoinHandle<Result<allele_store::IngestSummary, allele_store::StoreError>>,
    )> = None;
    let mut done = false;
    while !done {
        match rows.next() {
            Some(row) => {
                if row.line <= resumed_from_line {
                    continue;
                }
                rows_seen += 1;
                last_line = row.line;
                let message = row.object.and_then(|mut object| {
                    if !object.contains_key("messageId") {
                        object.insert(
                            "messageId".into(),
                            Value::String(row_message_id(row.line, &row.raw)),
                        );
                    }
                    let size = serde_json::to_string(&object).map(|s| s.len()).unwrap_or(0);
                    if size > segment::MAX_EVENT_BYTES {
                        return Err(format!("row is {size} bytes, over the event limit"));
                    }
                    segment::parse_message(object, None, meta).map_err(|e| e.message)
                });
                match message {
                    Ok(message) => chunk.push(message),
                    Err(reason) => {
                        checkpoint.rejected += 1;
                        let entry =
                            serde_json::json!({"line": row.line, "reason": reason, "row": row.raw});
                        writeln!(rejects, "{entry}")
                            .map_err(|e| format!("cannot write rejects: {e}"))?;
                    }
                }
                if chunk.len() < chunk_size {
                    continue;
                }
            }
            None => done = true,
        }
        // Commit this chunk while the next one is parsed; checkpoint in order.
        let batch = std::mem::replace(&mut chunk, Vec::with_capacity(chunk_size));
        let store_for_task = Arc::clone(&store);
        let ws = args.workspace.clone();
        let handle = tokio::spawn(async move { store_for_task.ingest(&ws, batch).await });
        if let Some((line, previous)) = in_flight.replace((last_line, handle)) {
            finish_chunk(previous, line, &mut checkpoint, &checkpoint_path).await?;
        }
        if let Some(position) = rows.byte_position() {
            bar.set_position(position);
        }
        bar.set_message(format!(
            "{} rows",
            checkpoint.accepted + checkpoint.duplicates + checkpoint.rejected
        ));
    }
    if let Some((line, previous)) = in_flight.take() {
        finish_chunk(previous, line, &mut checkpoint, &checkpoint_path).await?;
    }
    bar.finish_and_clear();
    rejects
        .flush()
        .map_err(|e| format!("cannot write rejects: {e}"))?;
    // Finished: a re-run starts over and is idempotent through the messageIds.
    let _ = std::fs::remove_file(&checkpoint_path);
    let seconds = started.elapsed().as_secs_f64();
    Ok(Summary {
        file: args.file.display().to_string(),
        rows: rows_seen,
        accepted: checkpoint.accepted,
        duplicates: checkpoint.duplicates,
        rejected: checkpoint.rejected,
        resumed_from_line,
        rejects_file: rejects_path.display().to_string(),
        seconds,
        rows_per_sec: if seconds > 0.0 {
            rows_seen as f64 / seconds
        } else {
            0.0
        },
    })
}

async fn finish_chunk(
    handle: tokio::task::JoinHandle<Result<allele_store::IngestSummary, allele_store::StoreError>>,
    line: u64,
    checkpoint: &mut Checkpoint,
    path: &Path,
) -> Result<(), String> {
    let summary = handle
        .await
        .map_err(|e| format!("import task failed: {e}"))?
        .map_err(|e| format!("cannot commit rows up to line {line}: {e}"))?;
    checkpoint.accepted += summary.accepted as u64;
    checkpoint.duplicates += summary.duplicates as u64;
    checkpoint.line = line;
    let text = serde_json::to_string(checkpoint).map_err(|e| e.to_string())?;
    std::fs::write(path, text)
        .map_err(|e| format!("cannot write checkpoint `{}`: {e}", path.display()))
}

fn progress_bar(enabled: bool, total_bytes: u64) -> ProgressBar {
    if !enabled {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total_bytes);
    if let Ok(style) = ProgressStyle::with_template(
        "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} {bytes_per_sec} eta {eta} {msg}",
    ) {
        bar.set_style(style);
    }
    bar
}
