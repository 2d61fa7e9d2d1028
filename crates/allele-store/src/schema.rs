//! Schema and connection settings for the embedded SQLite store.

use rusqlite::Connection;

/// Bumped whenever `MIGRATIONS` grows; stored in `PRAGMA user_version`.
const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE workspaces (
    id          TEXT PRIMARY KEY,
    created_at  INTEGER NOT NULL,
    signing_key BLOB NOT NULL
);
CREATE TABLE api_keys (
    hash         TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces(id),
    role         TEXT NOT NULL,
    prefix       TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    revoked_at   INTEGER
);
-- One row per profile as first created. `root_id` is the surviving profile
-- after merges; `merged_into` is the edge a merge adds and an unmerge removes.
-- State columns hold only what this profile's own events contributed, so a
-- merged view is a fold over the members and an unmerge needs no replay.
CREATE TABLE profiles (
    id           TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL,
    root_id      TEXT NOT NULL,
    merged_into  TEXT,
    created_at   INTEGER NOT NULL,
    traits       TEXT NOT NULL DEFAULT '{}',
    trait_times  TEXT NOT NULL DEFAULT '{}',
    first_seen   INTEGER,
    last_seen    INTEGER,
    event_count  INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX profiles_root ON profiles(root_id);
CREATE INDEX profiles_merged_into ON profiles(merged_into);
-- Each identity is owned by the profile that first claimed it.
CREATE TABLE identities (
    workspace_id TEXT NOT NULL,
    kind         TEXT NOT NULL,
    value        TEXT NOT NULL,
    profile_id   TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, kind, value)
) WITHOUT ROWID;
CREATE INDEX identities_profile ON identities(profile_id);
-- The seen-messageId record is this unique index, committed with the events.
CREATE TABLE events (
    seq          INTEGER PRIMARY KEY,
    workspace_id TEXT NOT NULL,
    message_id   TEXT NOT NULL,
    profile_id   TEXT NOT NULL,
    type         TEXT NOT NULL,
    name         TEXT,
    ts           INTEGER NOT NULL,
    received_at  INTEGER NOT NULL,
    body         TEXT NOT NULL
);
CREATE UNIQUE INDEX events_message ON events(workspace_id, message_id);
CREATE INDEX events_profile_time ON events(profile_id, ts, seq);
CREATE TABLE merges (
    id           INTEGER PRIMARY KEY,
    workspace_id TEXT NOT NULL,
    from_profile TEXT NOT NULL,
    into_profile TEXT NOT NULL,
    cause        TEXT NOT NULL,
    at           INTEGER NOT NULL,
    undone_at    INTEGER
);
CREATE INDEX merges_into ON merges(into_profile);
CREATE INDEX merges_from ON merges(from_profile);
-- Merges that a guard refused, and identities a per-type limit kept out.
CREATE TABLE merge_refusals (
    id           INTEGER PRIMARY KEY,
    workspace_id TEXT NOT NULL,
    profile_a    TEXT NOT NULL,
    profile_b    TEXT,
    reason       TEXT NOT NULL,
    cause        TEXT NOT NULL,
    at           INTEGER NOT NULL
);
-- Pairs an unmerge separated; implicit merges between them are refused.
CREATE TABLE merge_blocks (
    profile_a TEXT NOT NULL,
    profile_b TEXT NOT NULL,
    PRIMARY KEY (profile_a, profile_b)
) WITHOUT ROWID;
-- Append-only consent ledger; ledger order (seq) decides which record is newest.
CREATE TABLE consents (
    seq          INTEGER PRIMARY KEY,
    workspace_id TEXT NOT NULL,
    profile_id   TEXT NOT NULL,
    purpose      TEXT NOT NULL,
    channel      TEXT NOT NULL,
    status       TEXT NOT NULL,
    source       TEXT NOT NULL,
    receipt_id   TEXT NOT NULL,
    at           INTEGER NOT NULL
);
CREATE INDEX consents_profile ON consents(profile_id, seq);
"#,
    r#"
-- Reports scan events by name (exposures, conversions) in time order.
CREATE INDEX events_name_time ON events(workspace_id, name, ts);
"#,
    r#"
-- Customer credentials: bearer tokens for /v1/me and single-use login codes.
CREATE TABLE customer_tokens (
    hash         TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL,
    profile_id   TEXT NOT NULL,
    kind         TEXT NOT NULL,
    expires_at   INTEGER NOT NULL,
    used_at      INTEGER
) WITHOUT ROWID;
ALTER TABLE consents ADD COLUMN evidence TEXT;
"#,
    r#"
-- Every published policy: its source, the signed bundle, and which is active.
CREATE TABLE bundles (
    workspace_id TEXT NOT NULL,
    version      INTEGER NOT NULL,
    source       TEXT NOT NULL,
    bundle       TEXT NOT NULL,
    signature    TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, version)
) WITHOUT ROWID;
CREATE TABLE active_bundles (
    workspace_id TEXT PRIMARY KEY,
    version      INTEGER NOT NULL
);
-- The decision log: what was asked, what was offered with which probability.
CREATE TABLE decisions (
    id             TEXT PRIMARY KEY,
    workspace_id   TEXT NOT NULL,
    profile_id     TEXT,
    bundle_version INTEGER NOT NULL,
    holdout        INTEGER NOT NULL,
    request        TEXT NOT NULL,
    result         TEXT NOT NULL,
    at             INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX decisions_profile ON decisions(profile_id, at);
-- One row per action a decision returned: contact caps count these.
CREATE TABLE decision_actions (
    decision_id TEXT NOT NULL,
    profile_id  TEXT,
    action_id   TEXT NOT NULL,
    probability REAL NOT NULL,
    at          INTEGER NOT NULL
);
CREATE INDEX decision_actions_profile ON decision_actions(profile_id, action_id, at);
CREATE INDEX decision_actions_decision ON decision_actions(decision_id);
-- Outcomes joined to decisions by `properties.decision_id`.
CREATE TABLE outcomes (
    message_id   TEXT NOT NULL,
    workspace_id TEXT NOT NULL,
    decision_id  TEXT NOT NULL,
    action_id    TEXT,
    event        TEXT,
    revenue      REAL,
    at           INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, message_id)
) WITHOUT ROWID;
CREATE INDEX outcomes_decision ON outcomes(decision_id);
-- Trait keys ever set in a workspace (rules warn about unknown ones).
CREATE TABLE traits_seen (
    workspace_id TEXT NOT NULL,
    key          TEXT NOT NULL,
    PRIMARY KEY (workspace_id, key)
) WITHOUT ROWID;
"#,
    r#"
-- The per-workspace access log: each row is a leaf of an RFC 6962 Merkle
-- tree. Rows are only ever appended.
CREATE TABLE access_log (
    workspace_id TEXT NOT NULL,
    idx          INTEGER NOT NULL,
    at           INTEGER NOT NULL,
    actor        TEXT NOT NULL,
    action       TEXT NOT NULL,
    purpose      TEXT NOT NULL,
    subject      TEXT NOT NULL,
    leaf_hash    BLOB NOT NULL,
    PRIMARY KEY (workspace_id, idx)
) WITHOUT ROWID;
CREATE INDEX access_log_subject ON access_log(workspace_id, subject, idx);
"#,
    r#"
-- What a customer set about being contacted (caps, quiet hours, channels).
CREATE TABLE customer_limits (
    profile_id   TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL,
    limits       TEXT NOT NULL,
    updated_at   INTEGER NOT NULL
) WITHOUT ROWID;
ALTER TABLE decision_actions ADD COLUMN channel TEXT;
ALTER TABLE decision_actions ADD COLUMN marketing INTEGER NOT NULL DEFAULT 1;
"#,
    r#"
-- Segment definitions (CEL over the profile); membership is computed.
CREATE TABLE segments (
    workspace_id TEXT NOT NULL,
    id           TEXT NOT NULL,
    definition   TEXT NOT NULL,
    description  TEXT NOT NULL DEFAULT '',
    updated_at   INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, id)
) WITHOUT ROWID;
"#,
    r#"
-- A challenger bundle served to a share of people beside the active one.
CREATE TABLE challengers (
    workspace_id TEXT PRIMARY KEY,
    version      INTEGER NOT NULL,
    share        REAL NOT NULL,
    started_at   INTEGER NOT NULL
);
"#,
    r#"
-- The ideas and reviews board: posts by customers, one vote each, comments.
CREATE TABLE ideas (
    id           TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL,
    author       TEXT NOT NULL,
    kind         TEXT NOT NULL,
    title        TEXT NOT NULL,
    body         TEXT NOT NULL,
    public       INTEGER NOT NULL,
    status       TEXT NOT NULL DEFAULT 'open',
    hidden       INTEGER NOT NULL DEFAULT 0,
    flagged      INTEGER NOT NULL DEFAULT 0,
    created_at   INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX ideas_workspace ON ideas(workspace_id, created_at);
CREATE TABLE idea_votes (
    idea_id TEXT NOT NULL,
    voter   TEXT NOT NULL,
    up      INTEGER NOT NULL,
    PRIMARY KEY (idea_id, voter)
) WITHOUT ROWID;
CREATE TABLE idea_comments (
    id         INTEGER PRIMARY KEY,
    idea_id    TEXT NOT NULL,
    author     TEXT NOT NULL,
    body       TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX idea_comments_idea ON idea_comments(idea_id, id);
"#,
    r#"
-- Outgoing webhooks (Standard Webhooks signatures) and their deliveries;
-- a delivery that keeps failing ends as `failed` (the dead-letter list).
CREATE TABLE webhooks (
    workspace_id TEXT NOT NULL,
    id           TEXT NOT NULL,
    url          TEXT NOT NULL,
    secret       TEXT NOT NULL,
    events       TEXT NOT NULL,
    PRIMARY KEY (workspace_id, id)
) WITHOUT ROWID;
CREATE TABLE webhook_deliveries (
    id           TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL,
    webhook_id   TEXT NOT NULL,
    event_type   TEXT NOT NULL,
    payload      TEXT NOT NULL,
    status       TEXT NOT NULL DEFAULT 'pending',
    attempts     INTEGER NOT NULL DEFAULT 0,
    next_at      INTEGER NOT NULL,
    last_error   TEXT,
    delivered_at INTEGER
) WITHOUT ROWID;
CREATE INDEX webhook_deliveries_due ON webhook_deliveries(status, next_at);
"#,
    r#"
-- Customer data grants (each one a Cedar permit; a withdrawal stamps
-- `withdrawn_at`), the settlement ledger of reads under priced grants, and
-- stated intents (one JSON list per profile). Keyed by profile for erasure.
CREATE TABLE grants (
    id           TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL,
    profile_id   TEXT NOT NULL,
    grantee      TEXT NOT NULL,
    purpose      TEXT NOT NULL,
    fields       TEXT NOT NULL,
    expires_at   INTEGER NOT NULL,
    price        INTEGER,
    currency     TEXT,
    created_at   INTEGER NOT NULL,
    withdrawn_at INTEGER
) WITHOUT ROWID;
CREATE INDEX grants_profile ON grants(profile_id);
CREATE TABLE settlements (
    id           TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL,
    profile_id   TEXT NOT NULL,
    grant_id     TEXT NOT NULL,
    grantee      TEXT NOT NULL,
    purpose      TEXT NOT NULL,
    fields       TEXT NOT NULL,
    amount       INTEGER NOT NULL,
    currency     TEXT NOT NULL,
    access_index INTEGER NOT NULL,
    at           INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX settlements_profile ON settlements(profile_id, at);
CREATE TABLE intents (
    profile_id   TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL,
    intents      TEXT NOT NULL,
    updated_at   INTEGER NOT NULL
) WITHOUT ROWID;
"#,
];

/// Settings every connection gets. `synchronous=FULL` makes each commit
/// durable before we acknowledge; `secure_delete` keeps erased bytes off disk.
pub fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(
        "PRAGMA journal_mode=WAL;
         PRAGMA synchronous=FULL;
         PRAGMA secure_delete=ON;
         PRAGMA foreign_keys=ON;
         PRAGMA busy_timeout=10000;
         PRAGMA cache_size=-65536;
         PRAGMA temp_store=MEMORY;
         PRAGMA journal_size_limit=67108864;",
    )
}

pub fn migrate(conn: &mut Connection) -> rusqlite::Result<()> {
    let current: usize =
        conn.query_row("PRAGMA user_version", [], |row| row.get::<_, i64>(0))? as usize;
    for (index, migration) in MIGRATIONS.iter().enumerate().skip(current) {
        let tx = conn.transaction()?;
        tx.execute_batch(migration)?;
        tx.pragma_update(None, "user_version", (index + 1) as i64)?;
        tx.commit()?;
    }
    Ok(())
}
