//! Resource limits under abuse: slow and idle connections are closed at the
//! header deadline, oversized headers are refused without being buffered,
//! deeply nested JSON and compression bombs get clear JSON errors, and
//! thousands of idle connections do not keep a fresh client waiting.
//! Each check runs against a control (a longer limit, a smaller input) so
//! that it fails if the limit is not what refuses the abuse.

use crate::common::{Server, client, read};
use serde_json::json;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

fn addr(server: &Server) -> SocketAddr {
    server
        .url
        .trim_start_matches("http://")
        .parse()
        .expect("socket address")
}

fn connect(server: &Server) -> TcpStream {
    TcpStream::connect_timeout(&addr(server), Duration::from_secs(10)).expect("connect")
}

/// Whether the server has closed `stream`: end of file or a reset, after
/// draining anything it wrote first (a 408 or 431, say).
fn closed_by_server(mut stream: &TcpStream) -> bool {
    stream.set_nonblocking(true).expect("nonblocking");
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(err) if err.kind() == ErrorKind::WouldBlock => return false,
            Err(_) => return true,
        }
    }
}

/// Slow clients: some send a request line and then one header byte every
/// 300 ms (never finishing), some send nothing at all, and one finishes a
/// request and then idles on the kept-alive connection.
struct SlowClients {
    dribbling: Vec<TcpStream>,
    silent: Vec<TcpStream>,
    kept_alive: TcpStream,
}

impl SlowClients {
    fn open(server: &Server, n: usize) -> SlowClients {
        let mut dribbling = Vec::new();
        let mut silent = Vec::new();
        for _ in 0..n {
            let mut stream = connect(server);
            stream
                .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
                .expect("request line");
            dribbling.push(stream);
            silent.push(connect(server));
        }
        let mut kept_alive = connect(server);
        kept_alive
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            .expect("request");
        kept_alive
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        let mut buf = [0u8; 1024];
        let n = kept_alive.read(&mut buf).expect("response");
        assert!(buf[..n].starts_with(b"HTTP/1.1 200"), "{:?}", &buf[..n]);
        SlowClients {
            dribbling,
            silent,
            kept_alive,
        }
    }

    /// Keep dribbling for `time`, a byte per connection every 300 ms.
    fn dribble(&mut self, time: Duration) {
        let until = Instant::now() + time;
        while Instant::now() < until {
            for stream in &mut self.dribbling {
                // A write to a connection the server has closed fails; that
                // is the point, and `closed_by_server` looks at it next.
                let _ = stream.write_all(b"a");
            }
            std::thread::sleep(Duration::from_millis(300));
        }
    }

    /// How many of each kind the server has closed.
    fn closed(&mut self) -> (usize, usize, bool) {
        let dribbling = self
            .dribbling
            .iter()
            .filter(|s| closed_by_server(s))
            .count();
        let silent = self.silent.iter().filter(|s| closed_by_server(s)).count();
        (dribbling, silent, closed_by_server(&self.kept_alive))
    }
}

fn healthz_answers(server: &Server) {
    let (status, body) = read(
        client()
            .get(format!("{}/healthz", server.url))
            .timeout(Duration::from_secs(5))
            .send()
            .expect("a fresh client is answered while slow clients are connected"),
    );
    assert_eq!(status, 200, "{body}");
}

#[test]
fn slow_and_idle_connections_are_closed_at_the_header_deadline() {
    let strict = Server::start_with(&["--header-read-timeout", "2"]);
    let lenient = Server::start_with(&["--header-read-timeout", "600"]);
    let mut cut = SlowClients::open(&strict, 50);
    let mut kept = SlowClients::open(&lenient, 50);
    healthz_answers(&strict);
    // Before the deadline nothing has been closed, dribbling or not.
    assert_eq!(cut.closed(), (0, 0, false));
    cut.dribble(Duration::from_millis(600));
    healthz_answers(&strict);
    // Dribbling bytes does not extend the deadline: it counts from the
    // first wait for headers, not from the last byte.
    cut.dribble(Duration::from_secs(3));
    kept.dribble(Duration::from_millis(300));
    assert_eq!(cut.closed(), (50, 50, true));
    // The control: with a long deadline the same clients are still open,
    // so it is the deadline that closed them above.
    assert_eq!(kept.closed(), (0, 0, false));
    healthz_answers(&strict);
    healthz_answers(&lenient);
}

/// A request whose headers total about `bytes`, in `count` fields.
fn request_with_headers(bytes: usize, count: usize) -> Vec<u8> {
    let mut out = b"GET /healthz HTTP/1.1\r\nHost: x\r\n".to_vec();
    let each = (bytes / count.max(1)).max(8);
    for i in 0..count {
        out.extend_from_slice(format!("X-Pad-{i}: {}\r\n", "p".repeat(each)).as_bytes());
    }
    out.extend_from_slice(b"Connection: close\r\n\r\n");
    out
}

/// The status line the server answers `request` with, or `None` when it
/// closes without one.
fn status_of(server: &Server, request: &[u8]) -> Option<u16> {
    let mut stream = connect(server);
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    // The server may answer and close before all of it is written.
    let _ = stream.write_all(request);
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    let text = String::from_utf8_lossy(&response);
    text.strip_prefix("HTTP/1.1 ")?.get(..3)?.parse().ok()
}

#[test]
fn oversized_headers_are_refused_without_being_buffered() {
    let server = Server::start();
    // Under the default 16 KiB and 64 fields: answered.
    assert_eq!(
        status_of(&server, &request_with_headers(12_000, 10)),
        Some(200)
    );
    assert_eq!(
        status_of(&server, &request_with_headers(2_000, 50)),
        Some(200)
    );
    // Over either cap: 431.
    assert_eq!(
        status_of(&server, &request_with_headers(24_000, 10)),
        Some(431)
    );
    assert_eq!(
        status_of(&server, &request_with_headers(2_000, 80)),
        Some(431)
    );
    // A client streaming header bytes without end is cut off long before it
    // has sent 64 MB: the server stops reading at the cap.
    let mut stream = connect(&server);
    stream
        .set_write_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nX-Endless: ")
        .expect("start");
    let chunk = vec![b'e'; 64 * 1024];
    let mut sent = 0usize;
    while sent < 64 << 20 {
        if stream.write_all(&chunk).is_err() {
            break;
        }
        sent += chunk.len();
    }
    assert!(
        sent < 16 << 20,
        "the server took {sent} bytes of one header"
    );
    healthz_answers(&server);
    // The control: a larger configured cap admits the same headers.
    let roomy = Server::start_with(&["--max-header-bytes", "65536", "--max-headers", "200"]);
    assert_eq!(
        status_of(&roomy, &request_with_headers(24_000, 10)),
        Some(200)
    );
    assert_eq!(
        status_of(&roomy, &request_with_headers(2_000, 80)),
        Some(200)
    );
}

/// Raise this process's soft open-file limit to the hard one; the limit now.
fn raise_open_files() -> u64 {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    let _ = setrlimit(
        Resource::Nofile,
        Rlimit {
            current: limit.maximum,
            maximum: limit.maximum,
        },
    );
    getrlimit(Resource::Nofile).current.unwrap_or(u64::MAX)
}

/// `allele_http_connections` from `/metrics`.
fn open_connections(server: &Server) -> f64 {
    let text = client()
        .get(format!("{}/metrics", server.url))
        .timeout(Duration::from_secs(10))
        .send()
        .expect("metrics")
        .text()
        .expect("text");
    text.lines()
        .find_map(|line| line.strip_prefix("allele_http_connections "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0.0)
}

fn rss_kib(server: &Server) -> u64 {
    let status =
        std::fs::read_to_string(format!("/proc/{}/status", server.child.id())).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Wait until the server reports at least `n` open connections.
fn wait_for_connections(server: &Server, at_least: f64) -> f64 {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let open = open_connections(server);
        if open >= at_least || Instant::now() > deadline {
            return open;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn ten_thousand_idle_connections_leave_room_for_a_fresh_client() {
    // Both processes need a descriptor per connection plus their own; the
    // server raises its own soft limit at start. Where the hard limit is
    // below 10,000 and change, the test opens what it allows.
    let limit = raise_open_files();
    let target = 10_000.min(usize::try_from(limit.saturating_sub(512)).unwrap_or(10_000));
    if target < 10_000 {
        eprintln!("open-file hard limit {limit}: opening {target} connections, not 10,000");
    }
    let server = Server::start_with(&["--header-read-timeout", "300"]);
    let rss_before = rss_kib(&server);
    let started = Instant::now();
    let mut idle = Vec::with_capacity(target);
    while idle.len() < target {
        for _ in 0..500.min(target - idle.len()) {
            idle.push(connect(&server));
        }
        // Let the accept loop keep up with the listen backlog.
        std::thread::sleep(Duration::from_millis(20));
    }
    let open = wait_for_connections(&server, target as f64);
    let opened_in = started.elapsed();
    assert!(open >= target as f64, "the server holds {open} of {target}");
    let asked = Instant::now();
    let (status, body) = read(
        client()
            .post(format!("{}/v1/track", server.url))
            .basic_auth(&server.write_key, Some(""))
            .json(&json!({"userId": "fresh", "event": "Arrived"}))
            .timeout(Duration::from_secs(5))
            .send()
            .expect("a fresh client is answered within 5 s"),
    );
    let answered_in = asked.elapsed();
    assert_eq!(status, 200, "{body}");
    healthz_answers(&server);
    let rss_with = rss_kib(&server);
    eprintln!(
        "{target} idle connections opened in {opened_in:?}; fresh request answered in \
         {answered_in:?}; server RSS {rss_before} KiB before, {rss_with} KiB with them"
    );
    drop(idle);
    let deadline = Instant::now() + Duration::from_secs(30);
    while open_connections(&server) > 10.0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    let left = open_connections(&server);
    assert!(
        left <= 10.0,
        "{left} connections still open after the clients left"
    );
    let mut server = server;
    assert!(
        server.child.try_wait().expect("wait").is_none(),
        "the server exited"
    );
    assert_eq!(server.all_events("user_id:fresh").len(), 1);
}

#[test]
fn at_the_connection_cap_new_clients_wait_until_one_closes() {
    let server = Server::start_with(&["--max-connections", "40"]);
    // The readiness probe's pooled connection may still be open.
    let mut idle: Vec<TcpStream> = (0..40).map(|_| connect(&server)).collect();
    std::thread::sleep(Duration::from_millis(300));
    let refused = client()
        .get(format!("{}/healthz", server.url))
        .timeout(Duration::from_secs(1))
        .send();
    assert!(refused.is_err(), "answered past the cap: {refused:?}");
    idle.truncate(20);
    healthz_answers(&server);
    // Under the default cap (the open-file limit) 40 is nothing.
    let roomy = Server::start();
    let _idle: Vec<TcpStream> = (0..40).map(|_| connect(&roomy)).collect();
    healthz_answers(&roomy);
}

/// Sends `path`'s headers promising a 200-byte body, then dribbles one
/// body byte every 300 ms for `time`; returns the stream.
fn slow_body(server: &Server, path: &str, authorization: &str, time: Duration) -> TcpStream {
    let mut stream = connect(server);
    stream
        .write_all(
            format!(
                "POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: {authorization}\r\n\
                 Content-Type: application/json\r\nContent-Length: 200\r\n\r\n{{"
            )
            .as_bytes(),
        )
        .expect("headers");
    let until = Instant::now() + time;
    while Instant::now() < until {
        std::thread::sleep(Duration::from_millis(300));
        // Fails once the server has answered and closed; that is the point.
        let _ = stream.write_all(b" ");
    }
    stream
}

/// The response the server wrote to `stream`, if any, without waiting.
fn answered(stream: &mut TcpStream) -> String {
    stream
        .set_read_timeout(Some(Duration::from_millis(500)))
        .expect("timeout");
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    String::from_utf8_lossy(&response).into_owned()
}

#[test]
fn bodies_that_trickle_past_the_body_deadline_get_408_and_lose_the_connection() {
    use base64::Engine;
    let strict = Server::start_with(&["--body-read-timeout", "2"]);
    let lenient = Server::start_with(&["--body-read-timeout", "600"]);
    let basic = |server: &Server| {
        let token =
            base64::engine::general_purpose::STANDARD.encode(format!("{}:", server.write_key));
        format!("Basic {token}")
    };
    // Ingest reads its body gzip-aware; decisions through axum's `Bytes`.
    for (path, auth) in [
        ("/v1/track", basic(&strict)),
        ("/v1/decide", format!("Bearer {}", strict.admin_key)),
    ] {
        let started = Instant::now();
        let mut stream = slow_body(&strict, path, &auth, Duration::from_secs(3));
        let response = answered(&mut stream);
        assert!(response.starts_with("HTTP/1.1 408"), "{path}: {response}");
        assert!(
            response.contains(r#""code":"body_timeout""#),
            "{path}: {response}"
        );
        assert!(
            response.to_ascii_lowercase().contains("connection: close"),
            "{path}: {response}"
        );
        assert!(started.elapsed() < Duration::from_secs(10));
        healthz_answers(&strict);
    }
    // The control: with a long deadline the same dribble is still waiting.
    let mut stream = slow_body(
        &lenient,
        "/v1/track",
        &basic(&lenient),
        Duration::from_secs(3),
    );
    assert_eq!(
        answered(&mut stream),
        "",
        "no answer before the body is complete"
    );
    // A body sent promptly is unaffected by the short deadline.
    let (status, body) = read(
        client()
            .post(format!("{}/v1/track", strict.url))
            .basic_auth(&strict.write_key, Some(""))
            .json(&json!({"userId": "u1", "event": "Prompt"}))
            .send()
            .expect("track"),
    );
    assert_eq!(status, 200, "{body}");
}
