//! `allele policy check FILE` and `allele policy publish FILE`.

use std::path::PathBuf;

#[derive(clap::Subcommand, Debug)]
pub enum PolicyCommand {
    /// Parse, type-check and consent-check a policy file; print warnings.
    Check { file: PathBuf },
    /// Publish a policy to a running server (`PUT /v1/policies`).
    Publish {
        file: PathBuf,
        #[arg(long, default_value = "http://127.0.0.1:7070")]
        server: String,
        /// An admin key.
        #[arg(long, env = "ALLELE_ADMIN_KEY")]
        key: String,
    },
}

fn read(file: &PathBuf) -> Result<String, String> {
    std::fs::read_to_string(file).map_err(|e| format!("cannot read `{}`: {e}", file.display()))
}

fn render(file: &std::path::Path, diagnostic: &allele_engine::Diagnostic) -> String {
    let place = match (diagnostic.line, diagnostic.column) {
        (Some(line), Some(column)) => format!(":{line}:{column}"),
        _ => String::new(),
    };
    let within = match (&diagnostic.action, &diagnostic.field) {
        (Some(action), Some(field)) => format!(" (action `{action}`, {field})"),
        (Some(action), None) => format!(" (action `{action}`)"),
        _ => String::new(),
    };
    format!("{}{place}: {}{within}", file.display(), diagnostic.message)
}

pub async fn run(command: PolicyCommand) -> Result<(), String> {
    match command {
        PolicyCommand::Check { file } => {
            let source = read(&file)?;
            match allele_engine::check(&source, &[]) {
                Ok(report) => {
                    for warning in &report.warnings {
                        eprintln!("warning: {}", render(&file, warning));
                    }
                    println!(
                        "{}",
                        serde_json::json!({"ok": true, "warnings": report.warnings})
                    );
                    Ok(())
                }
                Err(errors) => {
                    for error in errors.iter().skip(1) {
                        eprintln!("error: {}", render(&file, error));
                    }
                    Err(errors
                        .first()
                        .map(|e| render(&file, e))
                        .unwrap_or_else(|| "the policy is invalid".into()))
                }
            }
        }
        PolicyCommand::Publish { file, server, key } => {
            let source = read(&file)?;
            let response = reqwest::Client::new()
                .put(format!("{}/v1/policies", server.trim_end_matches('/')))
                .bearer_auth(key)
                .header("content-type", "application/yaml")
                .body(source)
                .send()
                .await
                .map_err(|e| format!("cannot reach `{server}`: {e}"))?;
            let status = response.status();
            let body: serde_json::Value = response
                .json()
                .await
                .map_err(|e| format!("unreadable answer: {e}"))?;
            if !status.is_success() {
                if let Some(errors) = body["errors"].as_array() {
                    for error in errors {
                        eprintln!("error: {}", error["message"].as_str().unwrap_or_default());
                    }
                }
                return Err(format!(
                    "publish refused ({status}): {}",
                    body["message"].as_str().unwrap_or_default()
                ));
            }
            println!("{body}");
            Ok(())
        }
    }
}
