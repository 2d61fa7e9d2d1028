//! Helpers for the edge tests: a real `allele edge` process, a TCP proxy
//! that can partition it from the centre (or swallow the centre's answers,
//! so uploads are retried after the centre stored them), and a fake centre
//! that serves whatever bundle a test hands it.

#![allow(dead_code)]

pub use crate::common::decide_key;
use crate::common::{Server, bin, client, read};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const UP: u8 = 0;
/// New connections are refused and open ones cut.
pub const DOWN: u8 = 1;
/// Requests reach the centre; its answers never come back.
pub const SWALLOW: u8 = 2;

pub struct Proxy {
    pub url: String,
    pub mode: Arc<AtomicU8>,
    target: Arc<Mutex<String>>,
    open: Arc<Mutex<Vec<TcpStream>>>,
}

impl Proxy {
    /// `target` is `host:port`.
    pub fn start(target: &str) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind proxy");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let mode = Arc::new(AtomicU8::new(UP));
        let target = Arc::new(Mutex::new(target.to_string()));
        let open = Arc::new(Mutex::new(Vec::new()));
        let (mode2, target2, open2) = (Arc::clone(&mode), Arc::clone(&target), Arc::clone(&open));
        std::thread::spawn(move || {
            for incoming in listener.incoming() {
                let Ok(client) = incoming else { continue };
                if mode2.load(Ordering::SeqCst) == DOWN {
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                }
                let address = target2.lock().expect("target").clone();
                let Ok(server) = TcpStream::connect(&address) else {
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                };
                if let (Ok(a), Ok(b)) = (client.try_clone(), server.try_clone()) {
                    open2.lock().expect("open").extend([a, b]);
                }
                pipe(
                    client.try_clone().expect("clone"),
                    server.try_clone().expect("clone"),
                    None,
                );
                pipe(server, client, Some(Arc::clone(&mode2)));
            }
        });
        Proxy {
            url,
            mode,
            target,
            open,
        }
    }

    pub fn set(&self, mode: u8) {
        self.mode.store(mode, Ordering::SeqCst);
        if mode != UP {
            for stream in self.open.lock().expect("open").drain(..) {
                let _ = stream.shutdown(Shutdown::Both);
            }
        }
    }

    pub fn retarget(&self, url: &str) {
        *self.target.lock().expect("target") = url.trim_start_matches("http://").to_string();
    }
}

/// Copy `from` → `to`; when `mode` says SWALLOW, drop the bytes and cut.
fn pipe(mut from: TcpStream, mut to: TcpStream, mode: Option<Arc<AtomicU8>>) {
    std::thread::spawn(move || {
        let mut buffer = [0u8; 16 * 1024];
        loop {
            let n = match from.read(&mut buffer) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            if mode
                .as_ref()
                .is_some_and(|m| m.load(Ordering::SeqCst) == SWALLOW)
            {
                break;
            }
            if to.write_all(&buffer[..n]).is_err() {
                break;
            }
        }
        let _ = to.shutdown(Shutdown::Both);
        let _ = from.shutdown(Shutdown::Both);
    });
}

pub struct EdgeProc {
    pub child: Child,
    pub url: String,
    pub key: String,
    pub data: PathBuf,
    pub args: Vec<String>,
}

impl EdgeProc {
    pub fn start(central: &str, key: &str, data: &Path, extra: &[&str]) -> EdgeProc {
        let args: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
        let mut child = Command::new(bin())
            .args([
                "edge",
                "--central",
                central,
                "--key",
                key,
                "--listen",
                "127.0.0.1:0",
            ])
            .args(["--snapshot-every", "200ms", "--data"])
            .arg(data)
            .args(&args)
            .env("ALLELE_LOG", "error")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn allele edge");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let line = lines
            .next()
            .expect("edge printed its address")
            .expect("line");
        let value: Value = serde_json::from_str(&line).expect("json line");
        let url = value["listening"].as_str().expect("listening").to_string();
        std::thread::spawn(move || for _ in lines {});
        EdgeProc {
            child,
            url,
            key: key.to_string(),
            data: data.to_path_buf(),
            args,
        }
    }

    pub fn restart(&mut self, central: &str) {
        self.kill9();
        let extra: Vec<&str> = self.args.iter().map(String::as_str).collect();
        let mut next = EdgeProc::start(central, &self.key, &self.data, &extra);
        std::mem::swap(self, &mut next);
    }

    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn status(&self) -> Value {
        let (status, body) = read(
            client()
                .get(format!("{}/v1/edge/status", self.url))
                .bearer_auth(&self.key)
                .send()
                .expect("status"),
        );
        assert_eq!(status, 200, "{body}");
        body
    }

    /// Wait until `check` holds on the status, or fail after `secs`.
    pub fn wait_for(&self, secs: u64, what: &str, check: impl Fn(&Value) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let status = self.status();
            if check(&status) {
                return;
            }
            assert!(Instant::now() < deadline, "edge never {what}: {status}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn wait_ready(&self) {
        self.wait_for(20, "got a bundle and a snapshot", |s| {
            s["bundle_version"].is_u64() && s["snapshot_age_ms"].is_i64()
        });
    }

    /// Wait for a snapshot that started after `since` (so it holds every
    /// consent and limit the centre had then).
    pub fn wait_snapshot_after(&self, since: Instant) {
        self.wait_for(20, "took a snapshot", |s| {
            s["snapshot_age_ms"]
                .as_u64()
                .is_some_and(|age| u128::from(age) < since.elapsed().as_millis())
        });
    }

    pub fn wait_drained(&self) {
        self.wait_for(60, "drained its outbox", |s| {
            s["outbox"]["event"].as_i64().unwrap_or(0) == 0
                && s["outbox"]["decision"].as_i64().unwrap_or(0) == 0
        });
    }

    pub fn decide(&self, body: &Value) -> (u16, Value) {
        read(
            client()
                .post(format!("{}/v1/decide", self.url))
                .bearer_auth(&self.key)
                .json(body)
                .send()
                .expect("decide"),
        )
    }

    pub fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        read(
            client()
                .post(format!("{}{path}", self.url))
                .bearer_auth(&self.key)
                .json(body)
                .send()
                .expect("post"),
        )
    }
}

impl Drop for EdgeProc {
    fn drop(&mut self) {
        self.kill9();
    }
}

pub fn publish(server: &Server, policy: &str) {
    let (status, body) = read(
        client()
            .put(format!("{}/v1/policies", server.url))
            .bearer_auth(&server.admin_key)
            .header("content-type", "application/yaml")
            .body(policy.to_string())
            .send()
            .expect("publish"),
    );
    assert_eq!(status, 200, "{body}");
}

pub fn give_consent(server: &Server, user: &str, traits: Value) {
    assert_eq!(
        server
            .post("/v1/identify", &json!({"userId": user, "traits": traits}))
            .0,
        200
    );
    let consent = json!({"purpose": "dpv:DirectMarketing", "channel": "email", "status": "given"});
    let (status, body) = read(
        client()
            .put(format!("{}/v1/profiles/user_id:{user}/consent", server.url))
            .bearer_auth(&server.admin_key)
            .json(&consent)
            .send()
            .expect("consent"),
    );
    assert_eq!(status, 200, "{body}");
}

/// One number from the centre's database (read-only, beside the server).
pub fn count(server: &Server, sql: &str, param: &str) -> i64 {
    let conn = rusqlite::Connection::open_with_flags(
        server.data.join("allele.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .expect("open centre db");
    conn.query_row(sql, [param], |row| row.get(0))
        .expect("count")
}

/// A stand-in centre serving a fixed bundle answer (and an empty, complete
/// snapshot), so a test can hand the edge a tampered bundle.
pub struct FakeCentre {
    pub url: String,
    pub bundle: Arc<Mutex<String>>,
    /// Bundle answers sent so far.
    pub served: Arc<std::sync::atomic::AtomicUsize>,
}

impl FakeCentre {
    pub fn start(bundle: String, public_key: String) -> FakeCentre {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let bundle = Arc::new(Mutex::new(bundle));
        let served = Arc::clone(&bundle);
        let answers = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = Arc::clone(&answers);
        std::thread::spawn(move || {
            for incoming in listener.incoming() {
                let Ok(mut stream) = incoming else { continue };
                let mut reader = BufReader::new(stream.try_clone().expect("clone"));
                let mut first = String::new();
                let _ = reader.read_line(&mut first);
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                }
                let path = first.split_whitespace().nth(1).unwrap_or("").to_string();
                let (status, body) = if path.starts_with("/v1/bundles/latest") {
                    std::thread::sleep(Duration::from_millis(200));
                    let body = served.lock().expect("bundle").clone();
                    counter.fetch_add(1, Ordering::SeqCst);
                    (200, body)
                } else if path.starts_with("/v1/bundles/key") {
                    (200, json!({"public_key": public_key}).to_string())
                } else if path.starts_with("/v1/edge/snapshot") {
                    (
                        200,
                        json!({"cursor": "", "complete": true, "subjects": []}).to_string(),
                    )
                } else {
                    (503, json!({"message": "down"}).to_string())
                };
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        FakeCentre {
            url,
            bundle,
            served: answers,
        }
    }

    /// Swap the bundle served and wait until the edge fetched it twice.
    pub fn serve(&self, bundle: String) {
        *self.bundle.lock().expect("bundle") = bundle;
        let seen = self.served.load(Ordering::SeqCst);
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.served.load(Ordering::SeqCst) < seen + 2 {
            assert!(Instant::now() < deadline, "the edge stopped polling");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}
