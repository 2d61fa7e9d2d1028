//! `allele sentiment`: one text per stdin line → one score object per
//! stdout line. No server, no data dir. Bytes that are not UTF-8 are
//! replaced with U+FFFD rather than dropping the line, so line N of the
//! output always answers line N of the input.

use std::io::{BufRead, Write};

pub fn run() -> Result<(), String> {
    let stdin = std::io::stdin();
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut reader = stdin.lock();
    let mut line = Vec::new();
    loop {
        line.clear();
        let read = reader
            .read_until(b'\n', &mut line)
            .map_err(|e| format!("cannot read stdin: {e}"))?;
        if read == 0 {
            break;
        }
        if line.last() == Some(&b'\n') {
            line.pop();
            if line.last() == Some(&b'\r') {
                line.pop();
            }
        }
        let text = String::from_utf8_lossy(&line);
        let scores = allele_listen::polarity_scores(&text);
        let json = serde_json::to_string(&scores).map_err(|e| e.to_string())?;
        writeln!(out, "{json}").map_err(|e| format!("cannot write stdout: {e}"))?;
    }
    out.flush().map_err(|e| format!("cannot write stdout: {e}"))
}
