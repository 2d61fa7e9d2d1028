//! Property tests of identity resolution on the real store: merges do not
//! depend on arrival order within a batch, and an unmerge restores exactly
//! the profiles that existed before the merge.

use allele_store::{SqliteStore, read};
use allele_types::segment::{Message, RequestMeta, parse_message};
use proptest::prelude::*;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

#[derive(Debug, Clone)]
struct Op {
    kind: u8,
    user: Option<u8>,
    anon: Option<u8>,
    email: Option<u8>,
    plan: u8,
    second: u8,
}

fn op() -> impl Strategy<Value = Op> {
    (
        0u8..4,
        proptest::option::of(0u8..3),
        proptest::option::of(0u8..5),
        proptest::option::of(0u8..3),
        0u8..4,
        0u8..6,
    )
        .prop_map(|(kind, user, anon, email, plan, second)| Op {
            kind,
            user,
            anon,
            email,
            plan,
            second,
        })
}

fn message(index: usize, op: &Op) -> Option<Message> {
    let mut body = Map::new();
    let user = op.user.map(|u| format!("u{u}"));
    let anon = op.anon.map(|a| format!("a{a}"));
    // Several events share a second, so ties are decided by messageId.
    body.insert(
        "timestamp".into(),
        json!(format!("2026-01-01T00:00:0{}Z", op.second)),
    );
    body.insert("messageId".into(), json!(format!("m{index:03}")));
    match op.kind {
        0 | 1 => {
            body.insert("type".into(), json!("identify"));
            let mut traits = Map::new();
            traits.insert("plan".into(), json!(format!("p{}", op.plan)));
            if let Some(e) = op.email {
                traits.insert("email".into(), json!(format!("e{e}@x.test")));
            }
            body.insert("traits".into(), Value::Object(traits));
        }
        2 => {
            body.insert("type".into(), json!("alias"));
            body.insert("previousId".into(), json!(anon.clone()?));
            body.insert("userId".into(), json!(user.clone()?));
            return parse_message(body, None, meta()).ok();
        }
        _ => {
            body.insert("type".into(), json!("track"));
            body.insert("event".into(), json!("E"));
        }
    }
    if let Some(user) = user {
        body.insert("userId".into(), json!(user));
    }
    if let Some(anon) = anon {
        body.insert("anonymousId".into(), json!(anon));
    }
    parse_message(body, None, meta()).ok()
}

fn meta() -> RequestMeta {
    RequestMeta {
        received_at: "2026-06-01T00:00:00Z".parse().expect("ts"),
        gpc: false,
        max_batch_bytes: usize::MAX,
    }
}

/// Each profile as (sorted identities) → (traits, event_count): ids differ
/// between stores, the partition and state must not.
type Canonical = BTreeMap<Vec<String>, (Map<String, Value>, i64)>;

async fn canonical(store: &SqliteStore) -> Canonical {
    store
        .read(|conn| {
            let mut stmt = conn.prepare("SELECT DISTINCT root_id FROM profiles")?;
            let roots = stmt
                .query_map([], |row| row.get::<_, String>(0))?
                .collect::<Result<Vec<_>, _>>()?;
            let mut out = Canonical::new();
            for root in roots {
                let view = read::profile(conn, &root)?;
                let mut ids: Vec<String> = view
                    .identities
                    .iter()
                    .map(|i| format!("{}:{}", i.kind, i.value))
                    .collect();
                ids.sort();
                out.insert(ids, (view.traits, view.event_count));
            }
            Ok(out)
        })
        .await
        .expect("read state")
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, .. ProptestConfig::default() })]

    #[test]
    fn merges_do_not_depend_on_arrival_order(ops in proptest::collection::vec(op(), 1..30), seed in any::<u64>()) {
        let messages: Vec<Message> = ops.iter().enumerate().filter_map(|(i, op)| message(i, op)).collect();
        let mut shuffled = messages.clone();
        let mut state = seed;
        for i in (1..shuffled.len()).rev() {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            shuffled.swap(i, (state >> 33) as usize % (i + 1));
        }
        let rt = runtime();
        let (a, b) = rt.block_on(async {
            let dir_a = tempfile::tempdir().expect("dir");
            let dir_b = tempfile::tempdir().expect("dir");
            let store_a = SqliteStore::open(dir_a.path()).expect("open");
            let store_b = SqliteStore::open(dir_b.path()).expect("open");
            store_a.ingest("w", messages).await.expect("ingest");
            store_b.ingest("w", shuffled).await.expect("ingest");
            (canonical(&store_a).await, canonical(&store_b).await)
        });
        prop_assert_eq!(a, b);
    }
}

/// One case; `Ok(true)` when a merge happened and was undone.
fn unmerge_case(ops: Vec<Op>, user: u8, anon: u8) -> Result<bool, TestCaseError> {
    {
        let messages: Vec<Message> = ops
            .iter()
            .enumerate()
            .filter_map(|(i, op)| message(i, op))
            .collect();
        let rt = runtime();
        let outcome = rt.block_on(async {
            let dir = tempfile::tempdir().expect("dir");
            let store = SqliteStore::open(dir.path()).expect("open");
            store.ingest("w", messages).await.expect("ingest");
            let before = canonical(&store).await;
            let user_ref = format!("user_id:u{user}");
            let anon_ref = format!("anonymous_id:a{anon}");
            // Only interesting when both exist on different profiles.
            let roots = store
                .read({
                    let (u, a) = (user_ref.clone(), anon_ref.clone());
                    move |conn| {
                        let parse =
                            |t: &str| allele_types::profile_ref::ProfileRef::parse(t).expect("ref");
                        Ok((
                            read::resolve(conn, "w", &parse(&u))?,
                            read::resolve(conn, "w", &parse(&a))?,
                        ))
                    }
                })
                .await
                .expect("resolve");
            let (Some(user_root), Some(anon_root)) = roots else {
                return None;
            };
            if user_root == anon_root {
                return None;
            }
            let mut link = Map::new();
            link.insert("type".into(), json!("identify"));
            link.insert("userId".into(), json!(format!("u{user}")));
            link.insert("anonymousId".into(), json!(format!("a{anon}")));
            link.insert("messageId".into(), json!("link"));
            link.insert("timestamp".into(), json!("2026-01-01T00:00:09Z"));
            store
                .ingest("w", vec![parse_message(link, None, meta()).expect("link")])
                .await
                .expect("ingest link");
            let merged = store
                .read(|conn| {
                    Ok(conn.query_row(
                        "SELECT MAX(id) FROM merges WHERE undone_at IS NULL",
                        [],
                        |r| r.get::<_, Option<i64>>(0),
                    )?)
                })
                .await
                .expect("merges");
            let after_link = canonical(&store).await;
            let merge_happened = after_link.len() + 1 == before.len();
            if !merge_happened {
                return None; // a guard refused the merge: nothing to undo
            }
            let merge_id = merged.expect("a merge row");
            store
                .write_resolving("w", 1, move |resolver| {
                    resolver.unmerge(merge_id).map(|_| ())
                })
                .await
                .expect("unmerge");
            let after = canonical(&store).await;
            Some((before, after, user_ref))
        });
        let Some((before, after, user_ref)) = outcome else {
            return Ok(false);
        };
        prop_assert_eq!(before.len(), after.len());
        for (ids, (traits, count)) in &before {
            let (after_traits, after_count) = after.get(ids).cloned().unwrap_or_default();
            prop_assert_eq!(traits, &after_traits, "traits of {:?}", ids);
            // The linking identify itself belongs to the userId's profile.
            let expected = if ids.contains(&user_ref) {
                count + 1
            } else {
                *count
            };
            prop_assert_eq!(after_count, expected, "event_count of {:?}", ids);
        }
        Ok(true)
    }
}

#[test]
fn unmerge_restores_the_profiles_before_the_merge() {
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases: 256,
        ..ProptestConfig::default()
    });
    let exercised = std::sync::atomic::AtomicUsize::new(0);
    let strategy = (proptest::collection::vec(op(), 4..25), 0u8..3, 0u8..5);
    let result = runner.run(&strategy, |(ops, user, anon)| {
        if unmerge_case(ops, user, anon)? {
            exercised.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        Ok(())
    });
    if let Err(failure) = result {
        panic!("{failure}");
    }
    let exercised = exercised.into_inner();
    eprintln!("unmerge property: {exercised} of 256 cases merged and unmerged");
    assert!(
        exercised >= 15,
        "only {exercised} cases merged and unmerged; the generator is too weak"
    );
}
