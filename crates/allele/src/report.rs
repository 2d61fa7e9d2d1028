//! `allele report experiment ID`: the same readout as
//! `GET /v1/reports/experiments/{id}`, read straight from a data dir.

use allele_server::reports::{ExperimentParams, experiment_readout};
use allele_stats::ExperimentReadout;
use std::path::PathBuf;

#[derive(clap::Subcommand, Debug)]
pub enum ReportCommand {
    /// Experiment readout: lift with intervals, z and Welch tests, P(better), SRM.
    Experiment {
        experiment_id: String,
        #[arg(long, default_value = "./allele-data")]
        data: PathBuf,
        #[arg(long, default_value = "default")]
        workspace: String,
        /// The conversion event name.
        #[arg(long)]
        metric: String,
        /// The property holding each conversion's value (revenue, say).
        #[arg(long)]
        value: Option<String>,
        /// The control variation (default: the first by name).
        #[arg(long)]
        control: Option<String>,
        /// A pre-period event used as the CUPED covariate.
        #[arg(long)]
        cuped: Option<String>,
        /// Planned split for the SRM check, in variation name order (`0.1,0.9`).
        #[arg(long)]
        split: Option<String>,
        /// Print the JSON readout instead of a table.
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(command: ReportCommand) -> Result<(), String> {
    let ReportCommand::Experiment {
        experiment_id,
        data,
        workspace,
        metric,
        value,
        control,
        cuped,
        split,
        json,
    } = command;
    let store = crate::cli::open_store(&data)?;
    let params = ExperimentParams {
        metric: Some(metric),
        value,
        control,
        cuped,
        split,
    };
    let readout = experiment_readout(&store, &workspace, &experiment_id, params)
        .await
        .map_err(|err| err.0.message)?;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&readout).map_err(|e| e.to_string())?
        );
    } else {
        print!("{}", table(&readout));
    }
    Ok(())
}

fn number(value: Option<f64>, digits: usize) -> String {
    value.map_or_else(|| "—".to_string(), |v| format!("{v:.digits$}"))
}

fn table(readout: &ExperimentReadout) -> String {
    let json = serde_json::to_value(readout).unwrap_or_default();
    let mut out = format!(
        "experiment {}  metric {}  control {}  srm p {}\n\n{:<16} {:>9} {:>11} {:>8} {:>11}\n",
        json["experiment_id"].as_str().unwrap_or(""),
        json["metric"].as_str().unwrap_or(""),
        json["control"].as_str().unwrap_or(""),
        number(json["srm_p"].as_f64(), 4),
        "variation",
        "n",
        "conversions",
        "rate",
        "value/user"
    );
    for v in json["variations"].as_array().into_iter().flatten() {
        out.push_str(&format!(
            "{:<16} {:>9} {:>11} {:>8} {:>11}\n",
            v["variation_id"].as_str().unwrap_or(""),
            v["n"],
            v["conversions"],
            number(v["rate"].as_f64().map(|r| r * 100.0), 2) + "%",
            number(v["value_mean"].as_f64(), 2),
        ));
    }
    out.push_str(&format!(
        "\n{:<16} {:>10} {:>22} {:>10} {:>10}\n",
        "vs control", "lift", "95% ci", "p", "P(better)"
    ));
    for c in json["comparisons"].as_array().into_iter().flatten() {
        let ci = &c["lift_abs_ci"];
        out.push_str(&format!(
            "{:<16} {:>10} {:>22} {:>10} {:>10}\n",
            c["variation_id"].as_str().unwrap_or(""),
            number(c["lift_abs"].as_f64().map(|x| x * 100.0), 2) + "pp",
            format!(
                "[{}, {}]pp",
                number(ci[0].as_f64().map(|x| x * 100.0), 2),
                number(ci[1].as_f64().map(|x| x * 100.0), 2)
            ),
            number(c["p"].as_f64(), 4),
            number(c["p_better"].as_f64(), 3),
        ));
    }
    out
}
