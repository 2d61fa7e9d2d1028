//! Shared machinery of the scipy differential tests: a deterministic
//! generator, tolerance-aware comparison and the call into `reference.py`.

use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::{Value, json};

/// splitmix64: a deterministic generator, so a failure reproduces.
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
    pub fn normal(&mut self) -> f64 {
        let u = self.uniform().max(1e-300);
        let v = self.uniform();
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }
    pub fn log_uniform(&mut self, low: f64, high: f64) -> u64 {
        (low.ln() + self.uniform() * (high.ln() - low.ln()))
            .exp()
            .round() as u64
    }
    pub fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }
}

#[derive(Clone, Copy)]
pub enum Tolerance {
    /// statistics and interval ends: 1e-6 relative
    Statistic,
    /// p-values: 1e-6 absolute, and 1e-6 relative below 1e-6
    PValue,
    /// probabilities that are not p-values: 1e-6 absolute
    Probability,
}

pub struct Checker {
    pub failures: Vec<String>,
    pub checked: usize,
}

impl Checker {
    pub fn number(
        &mut self,
        what: &str,
        ours: Option<f64>,
        reference: &Value,
        tolerance: Tolerance,
    ) {
        self.checked += 1;
        let reference = reference.as_f64();
        match (ours, reference) {
            (None, None) => {}
            (Some(ours), Some(reference)) => {
                let difference = (ours - reference).abs();
                let scale = ours.abs().max(reference.abs());
                let ok = match tolerance {
                    Tolerance::Statistic => difference <= 1e-6 * scale + 1e-12,
                    Tolerance::Probability => difference <= 1e-6,
                    Tolerance::PValue => {
                        difference <= 1e-6
                            && (reference >= 1e-6 || difference <= 1e-6 * reference + 1e-300)
                    }
                };
                if !ok {
                    self.failures
                        .push(format!("{what}: ours {ours:e}, reference {reference:e}"));
                }
            }
            (ours, reference) => self
                .failures
                .push(format!("{what}: ours {ours:?}, reference {reference:?}")),
        }
    }

    pub fn interval(&mut self, what: &str, ours: Option<[f64; 2]>, reference: &Value) {
        match (ours, reference.as_array()) {
            (None, None) => self.checked += 1,
            (Some([low, high]), Some(pair)) if pair.len() == 2 => {
                self.number(
                    &format!("{what}[0]"),
                    Some(low),
                    &pair[0],
                    Tolerance::Statistic,
                );
                self.number(
                    &format!("{what}[1]"),
                    Some(high),
                    &pair[1],
                    Tolerance::Statistic,
                );
            }
            (ours, _) => self
                .failures
                .push(format!("{what}: ours {ours:?}, reference {reference}")),
        }
    }

    /// Walk the reference JSON and compare every leaf with ours.
    pub fn json(&mut self, path: &str, ours: &Value, reference: &Value) {
        match reference {
            Value::Object(fields) => {
                for (key, reference_field) in fields {
                    let Some(our_field) = ours.get(key) else {
                        self.failures
                            .push(format!("{path}.{key}: missing from ours"));
                        continue;
                    };
                    self.json(&format!("{path}.{key}"), our_field, reference_field);
                }
            }
            Value::Array(items) => {
                let our_items = ours.as_array().cloned().unwrap_or_default();
                if our_items.len() != items.len() {
                    self.failures.push(format!(
                        "{path}: length {} vs {}",
                        our_items.len(),
                        items.len()
                    ));
                    return;
                }
                for (index, (ours, reference)) in our_items.iter().zip(items).enumerate() {
                    self.json(&format!("{path}[{index}]"), ours, reference);
                }
            }
            Value::Number(_) | Value::Null if !ours.is_string() => {
                let key = path.rsplit('.').next().unwrap_or_default();
                let tolerance = match key {
                    "p" | "welch_p" | "srm_p" => Tolerance::PValue,
                    "p_better" => Tolerance::Probability,
                    _ => Tolerance::Statistic,
                };
                if reference.is_null() && ours.is_array() {
                    self.failures
                        .push(format!("{path}: ours {ours}, reference null"));
                    return;
                }
                self.number(path, ours.as_f64(), reference, tolerance);
            }
            _ => {
                self.checked += 1;
                if ours != reference {
                    self.failures
                        .push(format!("{path}: ours {ours}, reference {reference}"));
                }
            }
        }
    }
}

/// Run the reference script, or explain why it cannot run.
pub fn reference(cases: &[Value]) -> Option<Vec<Value>> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/reference.py");
    let in_ci = std::env::var("CI").is_ok_and(|value| value == "true");
    let missing = |why: String| {
        let message = format!(
            "scipy differential tests need python3 with scipy and statsmodels \
             (pip install scipy statsmodels): {why}"
        );
        assert!(!in_ci, "{message}");
        // straight to the process's stderr: the test harness captures
        // eprintln!, and a skip nobody sees is not loud
        let _ = writeln!(
            std::io::stderr(),
            "\n!!!!!!!! SKIPPED: {message} !!!!!!!!\n"
        );
    };
    let probe = Command::new("python3")
        .args(["-c", "import scipy, statsmodels"])
        .output();
    match probe {
        Err(error) => {
            missing(format!("python3 not runnable: {error}"));
            return None;
        }
        Ok(output) if !output.status.success() => {
            missing(String::from_utf8_lossy(&output.stderr).trim().to_owned());
            return None;
        }
        Ok(_) => {}
    }
    let mut child = Command::new("python3")
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn reference.py");
    let input = serde_json::to_vec(&json!({ "cases": cases })).expect("serialize cases");
    let mut stdin = child.stdin.take().expect("stdin");
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let output = child.wait_with_output().expect("reference.py output");
    writer.join().expect("writer thread").expect("write cases");
    assert!(
        output.status.success(),
        "reference.py failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let results: Vec<Value> = serde_json::from_slice(&output.stdout).expect("reference json");
    assert_eq!(results.len(), cases.len());
    Some(results)
}

pub fn finish(checker: Checker) {
    eprintln!("{} values compared", checker.checked);
    assert!(
        checker.failures.is_empty(),
        "{} mismatches:\n{}",
        checker.failures.len(),
        checker
            .failures
            .iter()
            .take(40)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}
