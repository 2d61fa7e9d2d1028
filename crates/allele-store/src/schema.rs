//! Schema and connection settings for the embedded SQLite store.

use rusqlite::Connection;

/// Fills the readout tables (facts.rs) from stored events, with the SQL
/// functions `facts::register_functions` adds; the migration below runs it.
macro_rules! facts_backfill {
    () => {
        r#"
INSERT INTO event_names (workspace_id, name)
    SELECT DISTINCT workspace_id, name FROM events WHERE name IS NOT NULL;
INSERT INTO event_facts (name_id, profile, ts, seq, numbers)
    SELECT n.id, p.num, e.ts, e.seq, allele_numbers(e.body)
    FROM events e JOIN event_names n ON n.workspace_id = e.workspace_id AND n.name = e.name
    JOIN profiles p ON p.id = e.profile_id;
INSERT INTO exposures (workspace_id, experiment_id, profile, ts, seq, variation)
    SELECT workspace_id, experiment_id, num, ts, seq, variation FROM (
        SELECT e.workspace_id, x.experiment_id, p.num, e.ts, e.seq, x.variation,
               ROW_NUMBER() OVER (PARTITION BY e.workspace_id, x.experiment_id, p.num ORDER BY e.ts, e.seq) AS nth
        FROM (SELECT seq, allele_experiment(name, body) AS experiment_id, allele_variation(name, body) AS variation
              FROM events WHERE name = 'Experiment Viewed') x
        JOIN events e ON e.seq = x.seq JOIN profiles p ON p.id = e.profile_id
        WHERE x.experiment_id IS NOT NULL AND x.variation IS NOT NULL)
    WHERE nth = 1;
"#
    };
}
#[cfg(test)]
pub(crate) const FACTS_BACKFILL: &str = facts_backfill!();

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
-- Influence scores from the scheduled PageRank run, read as computed traits,
-- and the alerts the scheduler raised (one per kind and window).
CREATE TABLE influence_scores (
    workspace_id TEXT NOT NULL,
    user_id      TEXT NOT NULL,
    score        REAL NOT NULL,
    reach        INTEGER NOT NULL,
    computed_at  INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, user_id)
) WITHOUT ROWID;
CREATE TABLE alerts (
    id           INTEGER PRIMARY KEY,
    workspace_id TEXT NOT NULL,
    kind         TEXT NOT NULL,
    payload      TEXT NOT NULL,
    at           INTEGER NOT NULL
);
CREATE INDEX alerts_kind ON alerts(workspace_id, kind, at);
"#,
    concat!(
        r#"
-- What readouts need from each named event, integer-keyed and narrow
-- (facts.rs): readouts scan these instead of event JSON. `profiles.num` is
-- a profile's integer number, given on its first named event.
ALTER TABLE profiles ADD COLUMN num INTEGER;
UPDATE profiles SET num = rowid;
CREATE UNIQUE INDEX profiles_num ON profiles(num);
CREATE TABLE event_names (
    id           INTEGER PRIMARY KEY,
    workspace_id TEXT NOT NULL,
    name         TEXT NOT NULL,
    UNIQUE (workspace_id, name)
);
-- One row per named event; `numbers` holds its non-zero numeric properties.
CREATE TABLE event_facts (
    name_id INTEGER NOT NULL,
    profile INTEGER NOT NULL,
    ts      INTEGER NOT NULL,
    seq     INTEGER NOT NULL,
    numbers BLOB,
    PRIMARY KEY (name_id, profile, ts, seq)
) WITHOUT ROWID;
-- Each profile's first exposure (event time, then seq) per experiment.
CREATE TABLE exposures (
    workspace_id  TEXT NOT NULL,
    experiment_id TEXT NOT NULL,
    profile       INTEGER NOT NULL,
    ts            INTEGER NOT NULL,
    seq           INTEGER NOT NULL,
    variation     TEXT NOT NULL,
    PRIMARY KEY (workspace_id, experiment_id, profile)
) WITHOUT ROWID;
CREATE INDEX exposures_profile ON exposures(profile);
"#,
        facts_backfill!()
    ),
    r#"
-- Campaign channels: per-workspace channel settings (SMTP), Liquid email
-- templates, and the email outbox. An outbox row is one message, unique by
-- its idempotency key; `sending` is written before the SMTP hand-off, so a
-- crash mid-send leaves `interrupted`, never a second send.
CREATE TABLE channel_settings (
    workspace_id TEXT NOT NULL,
    channel      TEXT NOT NULL,
    settings     TEXT NOT NULL,
    updated_at   INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, channel)
) WITHOUT ROWID;
CREATE TABLE email_templates (
    workspace_id TEXT NOT NULL,
    id           TEXT NOT NULL,
    template     TEXT NOT NULL,
    updated_at   INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, id)
) WITHOUT ROWID;
CREATE TABLE email_outbox (
    id              TEXT PRIMARY KEY,
    workspace_id    TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    profile_id      TEXT NOT NULL,
    template_id     TEXT NOT NULL,
    kind            TEXT NOT NULL,
    vars            TEXT NOT NULL,
    source          TEXT NOT NULL,
    status          TEXT NOT NULL DEFAULT 'pending',
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_at         INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    sent_at         INTEGER,
    last_error      TEXT,
    UNIQUE (workspace_id, idempotency_key)
) WITHOUT ROWID;
CREATE INDEX email_outbox_due ON email_outbox(status, next_at);
CREATE INDEX email_outbox_profile ON email_outbox(profile_id, status);
-- Journeys: definitions, one row per run (its state is the step machine's),
-- the event cursor the runner has read up to, and segment memberships seen
-- (so entering a segment is a transition, not a state).
CREATE TABLE journeys (
    workspace_id TEXT NOT NULL,
    id           TEXT NOT NULL,
    definition   TEXT NOT NULL,
    updated_at   INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, id)
) WITHOUT ROWID;
CREATE TABLE journey_runs (
    id           TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL,
    journey_id   TEXT NOT NULL,
    profile_id   TEXT NOT NULL,
    status       TEXT NOT NULL,
    step         INTEGER NOT NULL,
    waiting      INTEGER NOT NULL,
    next_at      INTEGER NOT NULL,
    entered_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    context      TEXT NOT NULL DEFAULT '{}'
) WITHOUT ROWID;
CREATE INDEX journey_runs_due ON journey_runs(status, next_at);
CREATE INDEX journey_runs_person ON journey_runs(workspace_id, journey_id, profile_id);
CREATE TABLE journey_cursor (
    workspace_id TEXT PRIMARY KEY,
    seq          INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE journey_segment_members (
    workspace_id TEXT NOT NULL,
    segment      TEXT NOT NULL,
    profile_id   TEXT NOT NULL,
    PRIMARY KEY (workspace_id, segment, profile_id)
) WITHOUT ROWID;
"#,
    r#"
-- Edge agents. At the centre: which edge made a logged decision, and the
-- contact budgets leased to edges so customer caps hold across touchpoints.
-- At an edge (the same schema, its own data dir): the outbox of everything
-- it acknowledged, its last good bundle and cursors, and the consent and
-- limits snapshot keyed by the centre's profile ids.
ALTER TABLE decisions ADD COLUMN edge_id TEXT;
CREATE INDEX customer_limits_changes ON customer_limits(workspace_id, updated_at, profile_id);
CREATE TABLE edge_leases (
    id           TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL,
    edge_id      TEXT NOT NULL,
    profile_id   TEXT NOT NULL,
    channel      TEXT NOT NULL,
    granted      INTEGER NOT NULL,
    used         INTEGER NOT NULL DEFAULT 0,
    expires_at   INTEGER NOT NULL,
    created_at   INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX edge_leases_profile ON edge_leases(workspace_id, profile_id, channel, expires_at);
CREATE TABLE edge_outbox (
    seq        INTEGER PRIMARY KEY,
    kind       TEXT NOT NULL,
    body       TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX edge_outbox_kind ON edge_outbox(kind, seq);
CREATE TABLE edge_state (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE edge_subjects (
    profile_id TEXT PRIMARY KEY,
    consents   TEXT NOT NULL,
    limits     TEXT
) WITHOUT ROWID;
CREATE TABLE edge_identities (
    kind       TEXT NOT NULL,
    value      TEXT NOT NULL,
    profile_id TEXT NOT NULL,
    PRIMARY KEY (kind, value)
) WITHOUT ROWID;
CREATE TABLE edge_held_leases (
    lease_id   TEXT PRIMARY KEY,
    profile_id TEXT NOT NULL,
    channel    TEXT NOT NULL,
    granted    INTEGER NOT NULL,
    used       INTEGER NOT NULL DEFAULT 0,
    expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX edge_held_leases_subject ON edge_held_leases(profile_id, channel, expires_at);
"#,
    r#"
-- A challenger may carry a guardrail (JSON): the rollback guard stops the
-- challenge when its outcome rate is significantly worse.
ALTER TABLE challengers ADD COLUMN guardrail TEXT;
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
    r#"
-- The feature vector a contextual propensity model saw for an offer
-- (`{"key","x"}`), so the model can learn from the offer's outcome.
ALTER TABLE decision_actions ADD COLUMN features TEXT;
-- What each edge last reported: sync state and what it learned locally.
CREATE TABLE edge_status (
    workspace_id TEXT NOT NULL,
    edge_id      TEXT NOT NULL,
    reported_at  INTEGER NOT NULL,
    status       TEXT NOT NULL,
    PRIMARY KEY (workspace_id, edge_id)
) WITHOUT ROWID;
"#,
    LEARNED_STATS,
    EVENT_ROLLUPS,
    r#"
-- Who the segment watcher last saw in each segment, and its cursor.
CREATE TABLE segment_members (
    workspace_id TEXT NOT NULL,
    segment      TEXT NOT NULL,
    profile_id   TEXT NOT NULL,
    since        INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, profile_id, segment)
) WITHOUT ROWID;
CREATE TABLE segment_cursor (
    id  INTEGER PRIMARY KEY CHECK (id = 0),
    seq INTEGER NOT NULL
);
-- An existing log is not replayed: memberships are recorded from the next
-- events on.
INSERT INTO segment_cursor (id, seq) SELECT 0, COALESCE(MAX(seq), 0) FROM events;
"#,
];

/// Per-person event rollups for computed traits (`crate::rollups`), kept
/// at write time; filled from the existing log when created.
const EVENT_ROLLUPS: &str = r#"
CREATE TABLE event_hours (
    profile     INTEGER NOT NULL,
    hour        INTEGER NOT NULL,
    name_id     INTEGER NOT NULL,
    n           INTEGER NOT NULL,
    revenue     REAL NOT NULL,
    revenue_min REAL,
    revenue_max REAL,
    PRIMARY KEY (profile, hour, name_id)
) WITHOUT ROWID;
CREATE TABLE event_totals (
    profile      INTEGER NOT NULL,
    name_id      INTEGER NOT NULL,
    n            INTEGER NOT NULL,
    revenue      REAL NOT NULL,
    last_ts      INTEGER NOT NULL,
    last_seq     INTEGER NOT NULL,
    last_revenue REAL,
    PRIMARY KEY (profile, name_id)
) WITHOUT ROWID;
"#;

/// What learning propensities read, kept current at write time
/// (`crate::arms`); filled from the existing log when created.
const LEARNED_STATS: &str = r#"
CREATE TABLE arm_counts (
    workspace_id TEXT NOT NULL,
    touchpoint   TEXT NOT NULL,
    action_id    TEXT NOT NULL,
    offers       INTEGER NOT NULL,
    wins         INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, touchpoint, action_id)
) WITHOUT ROWID;
CREATE TABLE linear_stats (
    workspace_id TEXT NOT NULL,
    touchpoint   TEXT NOT NULL,
    action_id    TEXT NOT NULL,
    key          TEXT NOT NULL,
    n            INTEGER NOT NULL,
    xtx          TEXT NOT NULL,
    xty          TEXT NOT NULL,
    PRIMARY KEY (workspace_id, touchpoint, action_id, key)
) WITHOUT ROWID;
"#;

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

pub fn migrate(conn: &mut Connection) -> Result<(), crate::StoreError> {
    // Backfills call the same Rust extraction ingest uses.
    crate::facts::register_functions(conn)?;
    let current: usize =
        conn.query_row("PRAGMA user_version", [], |row| row.get::<_, i64>(0))? as usize;
    for (index, migration) in MIGRATIONS.iter().enumerate().skip(current) {
        let tx = conn.transaction()?;
        tx.execute_batch(migration)?;
        if *migration == LEARNED_STATS {
            crate::arms::rebuild(&tx)?;
        }
        if *migration == EVENT_ROLLUPS {
            crate::rollups::rebuild(&tx)?;
        }
        tx.pragma_update(None, "user_version", (index + 1) as i64)?;
        tx.commit()?;
    }
    Ok(())
}
