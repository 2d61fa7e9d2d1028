//! Faults injected under a real server: the data directory fills up, the
//! process dies in the middle of a policy publish or an erasure. In every
//! case no acknowledged write is lost, nothing half-applied is visible after
//! a restart, and clients get a clear answer instead of a hang.

use crate::common::{Server, client, publish_policy as publish, read, require_tool, unique};
use serde_json::{Value, json};
use std::path::Path;
use std::process::Command;

/// A tmpfs of `megabytes` at `dir` (root only); unmounted on drop.
struct SmallDisk(std::path::PathBuf);

impl SmallDisk {
    fn mount(dir: &Path, megabytes: u32) -> Option<SmallDisk> {
        std::fs::create_dir_all(dir).ok()?;
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={megabytes}m"), "tmpfs"])
            .arg(dir)
            .output()
            .is_ok_and(|o| o.status.success());
        ok.then(|| SmallDisk(dir.to_path_buf()))
    }

    fn grow(&self, megabytes: u32) {
        let out = Command::new("mount")
            .args(["-o", &format!("remount,size={megabytes}m")])
            .arg(&self.0)
            .output()
            .expect("remount");
        assert!(out.status.success(), "{out:?}");
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).output();
    }
}

fn batch(user: &str, n: usize, size: usize) -> (Vec<String>, Value) {
    let ids: Vec<String> = (0..size).map(|i| format!("{user}-{n}-{i}")).collect();
    let padding = "x".repeat(2_000);
    let messages: Vec<Value> = ids
        .iter()
        .map(|id| json!({"type": "track", "userId": user, "event": "Filled", "messageId": id, "properties": {"pad": padding}}))
        .collect();
    (ids, json!({"batch": messages}))
}

#[test]
fn a_full_disk_answers_507_and_loses_no_acknowledged_event() {
    let dir = tempfile::tempdir().expect("dir");
    let mount_point = dir.path().join("small");
    let Some(disk) = SmallDisk::mount(&mount_point, 6) else {
        require_tool(
            false,
            "root and tmpfs (mount -t tmpfs) for the disk-full test",
        );
        return;
    };
    let data = mount_point.join("data");
    let mut server = Server::spawn(&data, &[], None);
    let user = unique("full");
    let (mut acknowledged, mut refused) = (0usize, 0usize);
    let mut full_body = Value::Null;
    for n in 0..400 {
        let (_, body) = batch(&user, n, 20);
        let (status, answer) = server.post("/v1/batch", &body);
        match status {
            200 => acknowledged += 20,
            507 => {
                refused += 1;
                full_body = answer;
                if refused >= 3 {
                    break;
                }
            }
            other => panic!("unexpected {other} while filling the disk: {answer}"),
        }
    }
    assert!(
        refused >= 3,
        "the disk never filled ({acknowledged} events stored)"
    );
    assert!(acknowledged > 0);
    assert_eq!(full_body["code"], "storage_full", "{full_body}");
    assert!(full_body["message"].is_string());

    // Reads still work, and show exactly the acknowledged events.
    let (status, profile) = server.admin_get(&format!("/v1/profiles/user_id:{user}"));
    assert_eq!(status, 200, "{profile}");
    let stored = profile["event_count"].as_u64().unwrap_or(0) as usize;
    assert_eq!(stored, acknowledged, "a refused batch left events behind");

    // Room again: the same server takes writes without a restart.
    disk.grow(64);
    let (_, body) = batch(&user, 10_000, 20);
    let (status, answer) = server.post("/v1/batch", &body);
    assert_eq!(status, 200, "after space came back: {answer}");
    acknowledged += 20;

    server.kill9();
    server.crash_and_restart();
    let (status, profile) = server.admin_get(&format!("/v1/profiles/user_id:{user}"));
    assert_eq!(status, 200, "{profile}");
    assert_eq!(profile["event_count"].as_u64(), Some(acknowledged as u64));
    drop(server);
    drop(disk);
}

const POLICY: &str = "selection: top\nactions:\n  - id: receipt\n    channels: [email]\n    purpose: dpv:ServiceProvision\n    kind: transactional\n    value: 1\n    propensity: { expression: \"0.5\" }\n";

#[test]
fn killed_during_publish_or_erasure_shows_all_or_nothing() {
    let dir = tempfile::tempdir().expect("dir");
    let data = dir.path().join("data");
    let mut server = Server::spawn(&data, &[], None);
    let (status, first) = publish(&server, POLICY);
    assert_eq!(status, 200, "{first}");
    let first_version = first["version"].as_u64().expect("version");

    for round in 0..6u64 {
        // Publish in the background and kill the server at a varying moment.
        let url = server.url.clone();
        let key = server.admin_key.clone();
        let source = POLICY.replace("value: 1\n", &format!("value: {}\n", round + 2));
        let publisher = std::thread::spawn(move || {
            client()
                .put(format!("{url}/v1/policies"))
                .bearer_auth(key)
                .header("content-type", "application/yaml")
                .body(source)
                .send()
                .ok()
                .map(|r| r.status().as_u16())
        });
        std::thread::sleep(std::time::Duration::from_millis(round * 3));
        server.kill9();
        let answered = publisher.join().expect("publisher");
        eprintln!("publish round {round}: answered {answered:?}");
        server.crash_and_restart();
        let (status, latest) = server.admin_get("/v1/bundles/latest");
        assert_eq!(status, 200, "{latest}");
        let version = latest["version"].as_u64().expect("version");
        if answered == Some(200) {
            assert!(version > first_version, "an acknowledged publish was lost");
        }
        // Whatever is active verifies and decides.
        let user = unique("after-kill");
        assert_eq!(server.post("/v1/identify", &json!({"userId": user})).0, 200);
        let (status, decision) = read(
            client()
                .post(format!("{}/v1/decide", server.url))
                .bearer_auth(&server.admin_key)
                .json(&json!({"user_id": user, "touchpoint": "web", "channel": "email", "context": {}}))
                .send()
                .expect("decide"),
        );
        assert_eq!(status, 200, "round {round}: {decision}");
        assert_eq!(decision["bundle_version"].as_u64(), Some(version));
    }

    // Erasure: the person is wholly there or wholly gone, never half.
    for round in 0..4u64 {
        let user = unique("erase-kill");
        let email = format!("{user}@x.test");
        let mut events =
            vec![json!({"type": "identify", "userId": user, "traits": {"email": email}})];
        for i in 0..200 {
            events.push(
                json!({"type": "track", "userId": user, "event": "Seen", "properties": {"i": i}}),
            );
        }
        assert_eq!(server.post("/v1/batch", &json!({"batch": events})).0, 200);
        let (_, issued) = server.admin_post(&format!("/v1/profiles/user_id:{user}/tokens"), None);
        let token = issued["token"].as_str().expect("token").to_string();
        let url = server.url.clone();
        let eraser = std::thread::spawn(move || {
            client()
                .delete(format!("{url}/v1/me"))
                .bearer_auth(token)
                .send()
                .ok()
                .map(|r| r.status().as_u16())
        });
        std::thread::sleep(std::time::Duration::from_millis(round * 4));
        server.kill9();
        let answered = eraser.join().expect("eraser");
        server.crash_and_restart();
        eprintln!("erasure round {round}: answered {answered:?}");
        let (status, profile) = server.admin_get(&format!("/v1/profiles/user_id:{user}"));
        eprintln!("erasure round {round}: profile answers {status}");
        match status {
            404 => {}
            200 => {
                assert_ne!(answered, Some(200), "an acknowledged erasure was undone");
                assert_eq!(profile["event_count"], 201, "half-erased: {profile}");
                assert_eq!(profile["traits"]["email"], email.as_str());
            }
            other => panic!("unexpected {other}: {profile}"),
        }
        let raw = std::fs::read(data.join("allele.db")).unwrap_or_default();
        if status == 404 {
            let needle = email.as_bytes();
            assert!(
                !raw.windows(needle.len()).any(|w| w == needle),
                "the erased email is still in the database file"
            );
        }
    }
}

/// Build the fsync shim with the machine's C compiler.
fn fsync_shim(dir: &Path) -> Option<std::path::PathBuf> {
    let out = dir.join("fsync_shim.so");
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/faults/fsync_shim.c");
    Command::new("cc")
        .args(["-shared", "-fPIC", "-O2", "-o"])
        .arg(&out)
        .arg(&source)
        .arg("-ldl")
        .output()
        .is_ok_and(|o| o.status.success())
        .then_some(out)
}

/// A server whose fsync obeys the shim's control file (returned beside it);
/// `None` (reported) when no C compiler can build the shim.
fn shimmed_server(dir: &Path) -> Option<(Server, std::path::PathBuf)> {
    let Some(shim) = fsync_shim(dir) else {
        require_tool(false, "a C compiler (cc) for the fsync fault shim");
        return None;
    };
    let control = dir.join("fault");
    let server = Server::spawn_env(
        &dir.join("data"),
        &[],
        None,
        &[
            ("LD_PRELOAD", shim.to_str().expect("path")),
            ("ALLELE_FAULT_FILE", control.to_str().expect("path")),
        ],
    );
    Some((server, control))
}

#[test]
fn fsync_failure_is_a_clear_error_and_loses_no_acknowledged_event() {
    let dir = tempfile::tempdir().expect("dir");
    let Some((mut server, control)) = shimmed_server(dir.path()) else {
        return;
    };
    let user = unique("fsync");
    let mut acknowledged = 0usize;
    for n in 0..3 {
        let (_, body) = batch(&user, n, 10);
        assert_eq!(server.post("/v1/batch", &body).0, 200);
        acknowledged += 10;
    }
    std::fs::write(&control, "fail").expect("arm");
    let started = std::time::Instant::now();
    let (_, body) = batch(&user, 100, 10);
    let (status, answer) = server.post("/v1/batch", &body);
    eprintln!(
        "with fsync failing: {status} {answer} after {:?}",
        started.elapsed()
    );
    assert!(
        status >= 500,
        "a write whose fsync failed was acknowledged: {answer}"
    );
    for field in ["message", "code", "type", "link"] {
        assert!(answer[field].is_string(), "{answer}");
    }
    std::fs::remove_file(&control).expect("disarm");
    // Writes resume, or the server says it is not ready; either way clearly.
    let (_, body) = batch(&user, 200, 10);
    let (status, answer) = server.post("/v1/batch", &body);
    eprintln!("after fsync recovered: {status} {answer}");
    if status == 200 {
        acknowledged += 10;
    }
    server.crash_and_restart();
    let (status, profile) = server.admin_get(&format!("/v1/profiles/user_id:{user}"));
    assert_eq!(status, 200, "{profile}");
    let stored = profile["event_count"].as_u64().unwrap_or(0) as usize;
    // The failed batch may have reached the disk anyway (its fsync's data
    // can still land); if so it is whole, and a retry would be deduplicated.
    assert!(
        stored == acknowledged || stored == acknowledged + 10,
        "stored {stored}, acknowledged {acknowledged}"
    );
}

#[test]
fn a_slow_disk_answers_every_client_without_hanging() {
    let dir = tempfile::tempdir().expect("dir");
    let Some((mut server, control)) = shimmed_server(dir.path()) else {
        return;
    };
    std::fs::write(&control, "slow 1500").expect("arm");
    let user = unique("slow");
    let started = std::time::Instant::now();
    let clients: Vec<_> = (0..48)
        .map(|n| {
            let (url, key) = (server.url.clone(), server.write_key.clone());
            let (_, body) = batch(&user, n, 100);
            std::thread::spawn(move || {
                let response = reqwest::blocking::Client::builder()
                    .timeout(std::time::Duration::from_secs(60))
                    .build()
                    .expect("client")
                    .post(format!("{url}/v1/batch"))
                    .basic_auth(key, Some(""))
                    .json(&body)
                    .send()
                    .expect("every client gets an answer");
                let retry = response.headers().get("retry-after").is_some();
                (response.status().as_u16(), retry)
            })
        })
        .collect();
    let answers: Vec<(u16, bool)> = clients
        .into_iter()
        .map(|c| c.join().expect("client"))
        .collect();
    let elapsed = started.elapsed();
    let ok = answers.iter().filter(|(s, _)| *s == 200).count();
    let busy = answers.iter().filter(|(s, r)| *s == 503 && *r).count();
    eprintln!("slow disk: {ok} acknowledged, {busy} told to retry, in {elapsed:?}");
    assert_eq!(ok + busy, answers.len(), "unexpected answers: {answers:?}");
    assert!(ok > 0, "nothing got through a slow disk");
    std::fs::remove_file(&control).expect("disarm");
    server.crash_and_restart();
    let (_, profile) = server.admin_get(&format!("/v1/profiles/user_id:{user}"));
    assert_eq!(profile["event_count"].as_u64(), Some(ok as u64 * 100));
}
