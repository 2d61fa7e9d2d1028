//! Starting a real `allele serve` process and talking to it over HTTP.

#![allow(dead_code)]

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_allele")
}

pub struct Server {
    pub child: Child,
    pub url: String,
    pub write_key: String,
    pub admin_key: String,
    pub data: PathBuf,
    _dir: Option<tempfile::TempDir>,
}

impl Server {
    pub fn start() -> Server {
        Self::start_with(&[])
    }

    pub fn start_with(extra: &[&str]) -> Server {
        let dir = tempfile::tempdir().expect("tempdir");
        let data = dir.path().join("data");
        let mut server = Self::spawn(&data, extra, None);
        server._dir = Some(dir);
        server
    }

    /// Start a server on an existing data dir (after a crash, say).
    pub fn spawn(data: &Path, extra: &[&str], keys: Option<(String, String)>) -> Server {
        Server::spawn_env(data, extra, keys, &[])
    }

    /// `spawn` with extra environment variables (fault-injection shims).
    pub fn spawn_env(
        data: &Path,
        extra: &[&str],
        keys: Option<(String, String)>,
        env: &[(&str, &str)],
    ) -> Server {
        let mut child = Command::new(bin())
            .args(["serve", "--listen", "127.0.0.1:0", "--data"])
            .arg(data)
            .args(extra)
            .envs(env.iter().copied())
            .env("ALLELE_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn allele serve");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let (mut write_key, mut admin_key) = keys.unwrap_or_default();
        let url = loop {
            let line = lines
                .next()
                .expect("server printed its address")
                .expect("read stdout");
            let value: Value = serde_json::from_str(&line).expect("json line on stdout");
            if let Some(url) = value["listening"].as_str() {
                break url.to_string();
            }
            write_key = value["write_key"].as_str().unwrap_or_default().to_string();
            admin_key = value["admin_key"].as_str().unwrap_or_default().to_string();
        };
        // Keep draining stdout so the child never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        let server = Server {
            child,
            url,
            write_key,
            admin_key,
            data: data.to_path_buf(),
            _dir: None,
        };
        server.wait_ready();
        server
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(response) = client().get(format!("{}/readyz", self.url)).send()
                && response.status() == 200
            {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("server at {} never became ready", self.url);
    }

    /// `kill -9`, then start again on the same data dir.
    pub fn crash_and_restart(&mut self) {
        self.kill9();
        let keys = Some((self.write_key.clone(), self.admin_key.clone()));
        let dir = self._dir.take();
        let mut next = Server::spawn(&self.data.clone(), &[], keys);
        next._dir = dir;
        std::mem::swap(self, &mut next);
    }

    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        let response = client()
            .post(format!("{}{path}", self.url))
            .basic_auth(&self.write_key, Some(""))
            .json(body)
            .send()
            .expect("post");
        read(response)
    }

    /// POST with a bearer key (a decide key, say).
    pub fn post_with_key(&self, key: &str, path: &str, body: &Value) -> (u16, Value) {
        let response = client()
            .post(format!("{}{path}", self.url))
            .bearer_auth(key)
            .json(body)
            .send()
            .expect("post");
        read(response)
    }

    pub fn admin_get(&self, path: &str) -> (u16, Value) {
        let response = client()
            .get(format!("{}{path}", self.url))
            .bearer_auth(&self.admin_key)
            .send()
            .expect("get");
        read(response)
    }

    pub fn admin_post(&self, path: &str, body: Option<&Value>) -> (u16, Value) {
        let mut request = client()
            .post(format!("{}{path}", self.url))
            .bearer_auth(&self.admin_key);
        if let Some(body) = body {
            request = request.json(body);
        }
        read(request.send().expect("post"))
    }

    pub fn admin_put(&self, path: &str, body: &Value) -> (u16, Value) {
        let response = client()
            .put(format!("{}{path}", self.url))
            .bearer_auth(&self.admin_key)
            .json(body)
            .send()
            .expect("put");
        read(response)
    }

    pub fn admin_put_yaml(&self, path: &str, body: &str) -> (u16, Value) {
        let response = client()
            .put(format!("{}{path}", self.url))
            .bearer_auth(&self.admin_key)
            .header("content-type", "application/yaml")
            .body(body.to_string())
            .send()
            .expect("put");
        read(response)
    }

    /// Every event of a profile, following `next_before` to the end.
    pub fn all_events(&self, reference: &str) -> Vec<Value> {
        let mut out = Vec::new();
        let mut before: Option<String> = None;
        loop {
            let mut path = format!("/v1/profiles/{reference}/events?limit=1000");
            if let Some(cursor) = &before {
                path.push_str(&format!("&before={cursor}"));
            }
            let (status, page) = self.admin_get(&path);
            assert_eq!(status, 200, "{page}");
            out.extend(page["events"].as_array().cloned().unwrap_or_default());
            match page["next_before"].as_str() {
                Some(cursor) => before = Some(cursor.to_string()),
                None => return out,
            }
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("http client")
}

pub fn read(response: reqwest::blocking::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let text = response.text().unwrap_or_default();
    let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, value)
}

/// A prefix unique to this test run, so tests can share nothing by accident.
pub fn unique(prefix: &str) -> String {
    format!("{prefix}-{:08x}", rand::random::<u32>())
}

/// Fail in CI, skip loudly elsewhere, when an external tool is missing.
pub fn require_tool(ok: bool, what: &str) -> bool {
    if ok {
        return true;
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{what} is required in CI but missing");
    }
    eprintln!("SKIPPED: {what} is missing (it is required when CI=true)");
    false
}

/// A `decide` key, made with `allele keys create` on the server's data dir.
pub fn decide_key(server: &Server) -> String {
    let out = Command::new(bin())
        .args(["keys", "create", "--role", "decide", "--data"])
        .arg(&server.data)
        .output()
        .expect("keys");
    assert!(out.status.success());
    serde_json::from_slice::<Value>(&out.stdout).expect("json")["key"]
        .as_str()
        .expect("key")
        .to_string()
}

/// `PUT /v1/policies` with a YAML source, as the admin.
pub fn publish_policy(server: &Server, policy: &str) -> (u16, Value) {
    read(
        client()
            .put(format!("{}/v1/policies", server.url))
            .bearer_auth(&server.admin_key)
            .header("content-type", "application/yaml")
            .body(policy.to_string())
            .send()
            .expect("publish"),
    )
}
