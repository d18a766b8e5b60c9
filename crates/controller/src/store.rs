//! The controller's durable state: the Applications it manages with their
//! last status, and the history of sync operations, in a SQLite database
//! (`state.db`) under the state directory.
//!
//! State survives a restart, and an operation that was running when the
//! controller stopped is found on the next start
//! ([`Store::recover_interrupted`]) and marked `Interrupted`.
//!
//! The database runs in WAL mode with a busy timeout, so a second
//! connection (another [`Store`] on the same file, `sqlite3` opened by an
//! operator) does not make simple writes fail with "database is locked".
//! Write transactions start `IMMEDIATE` so they wait for the write lock up
//! front instead of failing on a stale snapshot. Methods are synchronous and
//! short; call them from async code directly (or from `spawn_blocking` for
//! bulk work).
//!
//! Times are stored as integer milliseconds since the Unix epoch. The schema
//! is versioned with `PRAGMA user_version` and migrated forward on open; a
//! database written by a newer controller is refused rather than modified.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::{params, Connection, OptionalExtension, Row, TransactionBehavior};

use crate::views::{OperationView, ResourceView};

/// File name of the database inside the state directory.
pub const DB_FILE: &str = "state.db";

/// How long a statement waits for another connection's lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Message of an operation found `Running` at start-up.
pub const INTERRUPTED_MESSAGE: &str = "the controller stopped during this operation";

/// Schema migrations; migration `i` takes `user_version` from `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[
    // 0 -> 1
    "CREATE TABLE apps (
        name               TEXT PRIMARY KEY NOT NULL,
        app_json           TEXT NOT NULL,
        app_set            TEXT,
        status_json        TEXT NOT NULL,
        auto_sync_disabled INTEGER NOT NULL DEFAULT 0,
        updated_at         INTEGER NOT NULL
    );
    CREATE TABLE operations (
        id             INTEGER PRIMARY KEY AUTOINCREMENT,
        app            TEXT NOT NULL,
        revision       TEXT NOT NULL,
        app_json       TEXT NOT NULL,
        trigger        TEXT NOT NULL,
        started_at     INTEGER NOT NULL,
        finished_at    INTEGER,
        phase          TEXT NOT NULL,
        message        TEXT NOT NULL DEFAULT '',
        resources_json TEXT NOT NULL DEFAULT '[]'
    );
    CREATE INDEX operations_by_app ON operations (app, id);
    CREATE INDEX operations_by_phase ON operations (phase);",
];

/// The schema version this code writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Columns of `operations`, in the order [`entry_from_row`] reads them.
const OP_COLUMNS: &str =
    "id, app, revision, app_json, trigger, started_at, finished_at, phase, message, resources_json";

/// What went wrong with the state database. Every variant names the
/// database file (`:memory:` for an in-memory store).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The state directory could not be created.
    #[error("cannot create state directory {}: {source}", path.display())]
    CreateDir {
        /// The directory.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A SQLite call failed.
    #[error("state database {db}: {context}: {source}")]
    Sqlite {
        /// The database file.
        db: String,
        /// What was being done.
        context: String,
        /// The SQLite error.
        #[source]
        source: rusqlite::Error,
    },
    /// The database was written by a newer controller.
    #[error(
        "state database {db}: schema version {found} is newer than this controller supports \
         ({supported}); upgrade the controller or move the file away"
    )]
    TooNew {
        /// The database file.
        db: String,
        /// Version found in the file.
        found: i64,
        /// Newest version this code knows.
        supported: i64,
    },
    /// No Application of that name is stored.
    #[error("state database {db}: no application named {name:?}")]
    NoSuchApp {
        /// The database file.
        db: String,
        /// The Application name.
        name: String,
    },
    /// No operation with that id is stored.
    #[error("state database {db}: no operation with id {id}")]
    NoSuchOperation {
        /// The database file.
        db: String,
        /// The operation id.
        id: i64,
    },
    /// A row holds a value this code cannot read.
    #[error("state database {db}: {message}")]
    Corrupt {
        /// The database file.
        db: String,
        /// What is wrong, naming the table and row.
        message: String,
    },
}

/// An Application the controller manages, as last generated or read, with
/// its last status.
#[derive(Clone, Debug, PartialEq)]
pub struct AppRecord {
    /// Application name (the key).
    pub name: String,
    /// The Application document as JSON.
    pub app_json: String,
    /// The ApplicationSet that generated it, if any.
    pub app_set: Option<String>,
    /// The last status, as JSON; opaque to the store.
    pub status_json: String,
    /// Automated sync turned off (by a rollback).
    pub auto_sync_disabled: bool,
    /// When the record was last written.
    pub updated_at: SystemTime,
}

/// An operation about to start.
#[derive(Clone, Debug, PartialEq)]
pub struct NewOperation {
    /// Application name.
    pub app: String,
    /// The commit being synced.
    pub revision: String,
    /// The Application as synced, as JSON (a rollback re-uses it).
    pub app_json: String,
    /// Who or what started it (`automated`, `webhook`, `rollback to 7`...).
    pub trigger: String,
    /// When it started.
    pub started_at: SystemTime,
}

/// Phase of an operation (Argo CD's names).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Phase {
    /// Still running (or the controller stopped before it ended).
    Running,
    /// Ended without error.
    Succeeded,
    /// Ended with an error.
    Failed,
    /// The controller stopped while it ran; found at the next start.
    Interrupted,
}

impl Phase {
    /// The phase as written in the database and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Running => "Running",
            Phase::Succeeded => "Succeeded",
            Phase::Failed => "Failed",
            Phase::Interrupted => "Interrupted",
        }
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A string that is not a [`Phase`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown operation phase {0:?} (expected Running, Succeeded, Failed or Interrupted)")]
pub struct ParsePhaseError(pub String);

impl FromStr for Phase {
    type Err = ParsePhaseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "Running" => Ok(Phase::Running),
            "Succeeded" => Ok(Phase::Succeeded),
            "Failed" => Ok(Phase::Failed),
            "Interrupted" => Ok(Phase::Interrupted),
            other => Err(ParsePhaseError(other.to_string())),
        }
    }
}

/// One operation: running or finished (then a history entry).
#[derive(Clone, Debug, PartialEq)]
pub struct HistoryEntry {
    /// Id, increasing, never reused.
    pub id: i64,
    /// Application name.
    pub app: String,
    /// The commit synced.
    pub revision: String,
    /// The Application as synced, as JSON.
    pub app_json: String,
    /// Who or what started it.
    pub trigger: String,
    /// Start.
    pub started_at: SystemTime,
    /// End; `None` while running.
    pub finished_at: Option<SystemTime>,
    /// Phase.
    pub phase: Phase,
    /// Result message.
    pub message: String,
    /// Per resource results: a JSON array of [`ResourceView`].
    pub resources_json: String,
}

impl HistoryEntry {
    /// The entry as the API shows it. Resources are parsed from
    /// `resources_json` only when `with_resources` (history lists omit
    /// them); a value that does not parse gives no resources.
    pub fn view(&self, with_resources: bool) -> OperationView {
        let resources = if with_resources {
            serde_json::from_str::<Vec<ResourceView>>(&self.resources_json).unwrap_or_default()
        } else {
            Vec::new()
        };
        OperationView {
            id: self.id,
            app: self.app.clone(),
            revision: self.revision.clone(),
            phase: self.phase.to_string(),
            trigger: self.trigger.clone(),
            started_at: rfc3339(self.started_at),
            finished_at: self.finished_at.map(rfc3339).unwrap_or_default(),
            message: self.message.clone(),
            resources,
        }
    }
}

/// A time as RFC 3339 in UTC with second precision
/// (`2024-05-01T12:00:00Z`). Times outside 1970..=9999 are clamped.
pub fn rfc3339(t: SystemTime) -> String {
    // humantime panics before the epoch and fails after year 9999.
    const MAX_SECS: u64 = 253_402_300_799;
    let t = match t.duration_since(UNIX_EPOCH) {
        Err(_) => UNIX_EPOCH,
        Ok(d) if d.as_secs() > MAX_SECS => UNIX_EPOCH + Duration::from_secs(MAX_SECS),
        Ok(_) => t,
    };
    humantime::format_rfc3339_seconds(t).to_string()
}

/// Milliseconds since the epoch (negative before it, saturating).
fn to_millis(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
        Err(e) => i64::try_from(e.duration().as_millis())
            .map(|m| -m)
            .unwrap_or(i64::MIN),
    }
}

fn from_millis(ms: i64) -> SystemTime {
    let d = Duration::from_millis(ms.unsigned_abs());
    if ms >= 0 {
        UNIX_EPOCH.checked_add(d).unwrap_or(UNIX_EPOCH)
    } else {
        UNIX_EPOCH.checked_sub(d).unwrap_or(UNIX_EPOCH)
    }
}

/// A row of `operations` with the phase still as text.
struct RawEntry {
    entry: HistoryEntry,
    phase: String,
}

fn entry_from_row(row: &Row<'_>) -> rusqlite::Result<RawEntry> {
    let phase: String = row.get(7)?;
    Ok(RawEntry {
        entry: HistoryEntry {
            id: row.get(0)?,
            app: row.get(1)?,
            revision: row.get(2)?,
            app_json: row.get(3)?,
            trigger: row.get(4)?,
            started_at: from_millis(row.get(5)?),
            finished_at: row.get::<_, Option<i64>>(6)?.map(from_millis),
            phase: Phase::Running,
            message: row.get(8)?,
            resources_json: row.get(9)?,
        },
        phase,
    })
}

fn app_from_row(row: &Row<'_>) -> rusqlite::Result<AppRecord> {
    Ok(AppRecord {
        name: row.get(0)?,
        app_json: row.get(1)?,
        app_set: row.get(2)?,
        status_json: row.get(3)?,
        auto_sync_disabled: row.get(4)?,
        updated_at: from_millis(row.get(5)?),
    })
}

/// The controller's state database. `Send + Sync`; share it in an `Arc`.
pub struct Store {
    conn: Mutex<Connection>,
    path: Option<PathBuf>,
    /// How errors name the database.
    db: String,
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store").field("db", &self.db).finish()
    }
}

impl Store {
    /// Open (creating it and `dir` if needed) `dir/state.db`, in WAL mode
    /// with a busy timeout, and migrate its schema to the current version.
    pub fn open(dir: &Path) -> Result<Store, StoreError> {
        std::fs::create_dir_all(dir).map_err(|source| StoreError::CreateDir {
            path: dir.to_path_buf(),
            source,
        })?;
        let path = dir.join(DB_FILE);
        let db = path.display().to_string();
        let conn = Connection::open(&path).map_err(|source| StoreError::Sqlite {
            db: db.clone(),
            context: "cannot open".into(),
            source,
        })?;
        Self::init(conn, Some(path), db)
    }

    /// A store in memory (tests, dry runs): nothing survives it.
    pub fn open_in_memory() -> Result<Store, StoreError> {
        let db = ":memory:".to_string();
        let conn = Connection::open_in_memory().map_err(|source| StoreError::Sqlite {
            db: db.clone(),
            context: "cannot open".into(),
            source,
        })?;
        Self::init(conn, None, db)
    }

    /// The database file, `None` in memory.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    fn init(mut conn: Connection, path: Option<PathBuf>, db: String) -> Result<Store, StoreError> {
        let err = |context: &str| {
            let db = db.clone();
            let context = context.to_string();
            move |source| StoreError::Sqlite {
                db,
                context,
                source,
            }
        };
        conn.busy_timeout(BUSY_TIMEOUT)
            .map_err(err("cannot set busy_timeout"))?;
        if path.is_some() {
            let mode: String = conn
                .pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))
                .map_err(err("cannot switch to WAL mode"))?;
            if !mode.eq_ignore_ascii_case("wal") {
                tracing::warn!(db = %db, mode = %mode, "state database is not in WAL mode");
            }
            conn.pragma_update(None, "synchronous", "NORMAL")
                .map_err(err("cannot set synchronous"))?;
        }
        // Migrate under the write lock so two processes opening a new file
        // at once do not both create the schema.
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(err("cannot begin the schema migration"))?;
        let version: i64 = tx
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(err("cannot read the schema version"))?;
        if version > SCHEMA_VERSION {
            return Err(StoreError::TooNew {
                db,
                found: version,
                supported: SCHEMA_VERSION,
            });
        }
        let start = usize::try_from(version.max(0)).unwrap_or(0);
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(start) {
            tx.execute_batch(sql).map_err(|source| StoreError::Sqlite {
                db: db.clone(),
                context: format!("schema migration {i} -> {}", i + 1),
                source,
            })?;
        }
        if version != SCHEMA_VERSION {
            tx.pragma_update(None, "user_version", SCHEMA_VERSION)
                .map_err(err("cannot write the schema version"))?;
        }
        tx.commit()
            .map_err(err("cannot commit the schema migration"))?;
        Ok(Store {
            conn: Mutex::new(conn),
            path,
            db,
        })
    }

    /// The connection. A panic while it was held leaves it usable (an open
    /// transaction was rolled back when dropped), so poisoning is ignored.
    fn conn(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn sql_err(&self, context: impl Into<String>) -> impl FnOnce(rusqlite::Error) -> StoreError {
        let db = self.db.clone();
        let context = context.into();
        move |source| StoreError::Sqlite {
            db,
            context,
            source,
        }
    }

    fn finish_raw(&self, raw: RawEntry) -> Result<HistoryEntry, StoreError> {
        let mut entry = raw.entry;
        entry.phase = raw
            .phase
            .parse()
            .map_err(|e: ParsePhaseError| StoreError::Corrupt {
                db: self.db.clone(),
                message: format!("operations row {}: {e}", entry.id),
            })?;
        Ok(entry)
    }

    /// Insert or replace the Application `rec.name`.
    pub fn put_app(&self, rec: &AppRecord) -> Result<(), StoreError> {
        self.conn()
            .execute(
                "INSERT INTO apps (name, app_json, app_set, status_json, auto_sync_disabled, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (name) DO UPDATE SET
                   app_json = excluded.app_json,
                   app_set = excluded.app_set,
                   status_json = excluded.status_json,
                   auto_sync_disabled = excluded.auto_sync_disabled,
                   updated_at = excluded.updated_at",
                params![
                    rec.name,
                    rec.app_json,
                    rec.app_set,
                    rec.status_json,
                    rec.auto_sync_disabled,
                    to_millis(rec.updated_at)
                ],
            )
            .map_err(self.sql_err(format!("cannot store application {:?}", rec.name)))?;
        Ok(())
    }

    /// Delete the Application `name` and its history. Deleting one that is
    /// not stored is not an error.
    pub fn delete_app(&self, name: &str) -> Result<(), StoreError> {
        let context = format!("cannot delete application {name:?}");
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(self.sql_err(context.clone()))?;
        tx.execute("DELETE FROM operations WHERE app = ?1", [name])
            .map_err(self.sql_err(context.clone()))?;
        tx.execute("DELETE FROM apps WHERE name = ?1", [name])
            .map_err(self.sql_err(context.clone()))?;
        tx.commit().map_err(self.sql_err(context))?;
        Ok(())
    }

    /// All stored Applications, ordered by name.
    pub fn apps(&self) -> Result<Vec<AppRecord>, StoreError> {
        let context = "cannot list applications";
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached(
                "SELECT name, app_json, app_set, status_json, auto_sync_disabled, updated_at
                 FROM apps ORDER BY name",
            )
            .map_err(self.sql_err(context))?;
        let rows = stmt
            .query_map([], app_from_row)
            .map_err(self.sql_err(context))?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .map_err(self.sql_err(context))
    }

    /// Turn automated sync off (a rollback does) or back on for `name`.
    /// Errors with [`StoreError::NoSuchApp`] when it is not stored.
    pub fn set_auto_sync_disabled(&self, name: &str, disabled: bool) -> Result<(), StoreError> {
        let n = self
            .conn()
            .execute(
                "UPDATE apps SET auto_sync_disabled = ?2 WHERE name = ?1",
                params![name, disabled],
            )
            .map_err(self.sql_err(format!("cannot update auto-sync of application {name:?}")))?;
        if n == 0 {
            return Err(StoreError::NoSuchApp {
                db: self.db.clone(),
                name: name.to_string(),
            });
        }
        Ok(())
    }

    /// Record the start of an operation (phase `Running`); returns its id.
    pub fn begin_operation(&self, op: &NewOperation) -> Result<i64, StoreError> {
        let conn = self.conn();
        conn.execute(
            "INSERT INTO operations (app, revision, app_json, trigger, started_at, phase, message, resources_json)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, '', '[]')",
            params![
                op.app,
                op.revision,
                op.app_json,
                op.trigger,
                to_millis(op.started_at),
                Phase::Running.as_str()
            ],
        )
        .map_err(self.sql_err(format!(
            "cannot record the start of an operation on application {:?}",
            op.app
        )))?;
        Ok(conn.last_insert_rowid())
    }

    /// Record the end of operation `id` (finished now).
    pub fn finish_operation(
        &self,
        id: i64,
        phase: Phase,
        message: &str,
        resources_json: &str,
    ) -> Result<(), StoreError> {
        let n = self
            .conn()
            .execute(
                "UPDATE operations SET phase = ?2, message = ?3, resources_json = ?4, finished_at = ?5
                 WHERE id = ?1",
                params![
                    id,
                    phase.as_str(),
                    message,
                    resources_json,
                    to_millis(SystemTime::now())
                ],
            )
            .map_err(self.sql_err(format!("cannot record the end of operation {id}")))?;
        if n == 0 {
            return Err(StoreError::NoSuchOperation {
                db: self.db.clone(),
                id,
            });
        }
        Ok(())
    }

    /// The newest `limit` operations of `app` (running ones included),
    /// newest first.
    pub fn history(&self, app: &str, limit: usize) -> Result<Vec<HistoryEntry>, StoreError> {
        let context = format!("cannot read the history of application {app:?}");
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let raws = {
            let conn = self.conn();
            let mut stmt = conn
                .prepare_cached(&format!(
                    "SELECT {OP_COLUMNS} FROM operations WHERE app = ?1 ORDER BY id DESC LIMIT ?2"
                ))
                .map_err(self.sql_err(context.clone()))?;
            let rows = stmt
                .query_map(params![app, limit], entry_from_row)
                .map_err(self.sql_err(context.clone()))?;
            rows.collect::<rusqlite::Result<Vec<_>>>()
                .map_err(self.sql_err(context))?
        };
        raws.into_iter().map(|r| self.finish_raw(r)).collect()
    }

    /// Operation `id` of `app`, `None` if there is none (or it belongs to
    /// another Application).
    pub fn entry(&self, app: &str, id: i64) -> Result<Option<HistoryEntry>, StoreError> {
        let raw = self
            .conn()
            .query_row(
                &format!("SELECT {OP_COLUMNS} FROM operations WHERE app = ?1 AND id = ?2"),
                params![app, id],
                entry_from_row,
            )
            .optional()
            .map_err(self.sql_err(format!("cannot read operation {id} of application {app:?}")))?;
        raw.map(|r| self.finish_raw(r)).transpose()
    }

    /// Mark every operation left `Running` (the controller stopped during
    /// it) `Interrupted`, finished now, and return them, oldest first. Call
    /// once at start-up, before starting operations: one controller owns a
    /// state directory.
    pub fn recover_interrupted(&self) -> Result<Vec<HistoryEntry>, StoreError> {
        let context = "cannot recover interrupted operations";
        let now = to_millis(SystemTime::now());
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(self.sql_err(context))?;
        let raws = {
            let mut stmt = tx
                .prepare(&format!(
                    "SELECT {OP_COLUMNS} FROM operations WHERE phase = ?1 ORDER BY id"
                ))
                .map_err(self.sql_err(context))?;
            let rows = stmt
                .query_map([Phase::Running.as_str()], entry_from_row)
                .map_err(self.sql_err(context))?;
            rows.collect::<rusqlite::Result<Vec<_>>>()
                .map_err(self.sql_err(context))?
        };
        tx.execute(
            "UPDATE operations SET phase = ?1, message = ?2, finished_at = ?3 WHERE phase = ?4",
            params![
                Phase::Interrupted.as_str(),
                INTERRUPTED_MESSAGE,
                now,
                Phase::Running.as_str()
            ],
        )
        .map_err(self.sql_err(context))?;
        tx.commit().map_err(self.sql_err(context))?;
        drop(conn);
        Ok(raws
            .into_iter()
            .map(|r| HistoryEntry {
                phase: Phase::Interrupted,
                message: INTERRUPTED_MESSAGE.to_string(),
                finished_at: Some(from_millis(now)),
                ..r.entry
            })
            .collect())
    }

    /// Keep the newest `keep` finished operations of `app`; delete older
    /// finished ones. Running operations are never deleted.
    pub fn trim_history(&self, app: &str, keep: usize) -> Result<(), StoreError> {
        let keep = i64::try_from(keep).unwrap_or(i64::MAX);
        self.conn()
            .execute(
                "DELETE FROM operations
                 WHERE app = ?1 AND phase <> ?2 AND id NOT IN (
                   SELECT id FROM operations WHERE app = ?1 AND phase <> ?2
                   ORDER BY id DESC LIMIT ?3)",
                params![app, Phase::Running.as_str(), keep],
            )
            .map_err(self.sql_err(format!("cannot trim the history of application {app:?}")))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    fn app(name: &str) -> AppRecord {
        AppRecord {
            name: name.into(),
            app_json: format!(r#"{{"metadata":{{"name":"{name}"}}}}"#),
            app_set: Some("guestbook".into()),
            status_json: r#"{"sync":"Synced"}"#.into(),
            auto_sync_disabled: false,
            updated_at: UNIX_EPOCH + Duration::from_millis(1_714_564_800_123),
        }
    }

    fn op(app: &str, rev: &str, at: u64) -> NewOperation {
        NewOperation {
            app: app.into(),
            revision: rev.into(),
            app_json: "{}".into(),
            trigger: "automated".into(),
            started_at: t(at),
        }
    }

    #[test]
    fn apps_round_trip() {
        let s = Store::open_in_memory().unwrap();
        assert!(s.path().is_none());
        let mut b = app("b");
        b.app_set = None;
        s.put_app(&b).unwrap();
        s.put_app(&app("a")).unwrap();
        let got = s.apps().unwrap();
        assert_eq!(got, vec![app("a"), b.clone()]);

        // Upsert replaces.
        let mut a2 = app("a");
        a2.status_json = r#"{"sync":"OutOfSync"}"#.into();
        s.put_app(&a2).unwrap();
        assert_eq!(s.apps().unwrap()[0], a2);

        s.set_auto_sync_disabled("a", true).unwrap();
        assert!(s.apps().unwrap()[0].auto_sync_disabled);
        let e = s.set_auto_sync_disabled("nope", true).unwrap_err();
        assert!(matches!(e, StoreError::NoSuchApp { .. }), "{e}");
        assert!(e.to_string().contains(":memory:"), "{e}");

        // Deleting an app deletes its history.
        let id = s.begin_operation(&op("a", "c1", 10)).unwrap();
        s.finish_operation(id, Phase::Succeeded, "ok", "[]")
            .unwrap();
        s.delete_app("a").unwrap();
        assert_eq!(s.apps().unwrap(), vec![b]);
        assert!(s.history("a", 10).unwrap().is_empty());
        s.delete_app("a").unwrap();
    }

    #[test]
    fn history_order_entry_and_trim() {
        let s = Store::open_in_memory().unwrap();
        let mut ids = Vec::new();
        for i in 0..5u64 {
            let id = s
                .begin_operation(&op("a", &format!("c{i}"), 100 + i))
                .unwrap();
            let phase = if i % 2 == 0 {
                Phase::Succeeded
            } else {
                Phase::Failed
            };
            s.finish_operation(id, phase, &format!("m{i}"), "[]")
                .unwrap();
            ids.push(id);
        }
        let other = s.begin_operation(&op("b", "x", 1)).unwrap();
        let running = s.begin_operation(&op("a", "c5", 200)).unwrap();

        let h = s.history("a", 10).unwrap();
        let revs: Vec<&str> = h.iter().map(|e| e.revision.as_str()).collect();
        assert_eq!(revs, ["c5", "c4", "c3", "c2", "c1", "c0"]);
        assert_eq!(h[0].phase, Phase::Running);
        assert_eq!(h[0].finished_at, None);
        assert_eq!(h[1].phase, Phase::Succeeded);
        assert_eq!(h[2].phase, Phase::Failed);
        assert_eq!(h[1].started_at, t(104));
        assert!(h[1].finished_at.is_some());
        assert_eq!(s.history("a", 2).unwrap().len(), 2);

        let e = s.entry("a", ids[3]).unwrap().unwrap();
        assert_eq!(e.message, "m3");
        assert!(s.entry("a", other).unwrap().is_none());
        assert!(s.entry("a", 9999).unwrap().is_none());

        s.trim_history("a", 2).unwrap();
        let revs: Vec<String> = s
            .history("a", 10)
            .unwrap()
            .into_iter()
            .map(|e| e.revision)
            .collect();
        assert_eq!(revs, ["c5", "c4", "c3"]);
        assert_eq!(s.history("b", 10).unwrap().len(), 1);

        // Ids are never reused after a trim.
        s.finish_operation(running, Phase::Succeeded, "", "[]")
            .unwrap();
        let next = s.begin_operation(&op("a", "c6", 300)).unwrap();
        assert!(next > running);
        assert!(matches!(
            s.finish_operation(12345, Phase::Failed, "", "[]"),
            Err(StoreError::NoSuchOperation { id: 12345, .. })
        ));
    }

    #[test]
    fn view_formats_times_and_resources() {
        let s = Store::open_in_memory().unwrap();
        let id = s.begin_operation(&op("a", "abc", 1_714_564_800)).unwrap();
        let resources = r#"[{"group":"apps","kind":"Deployment","namespace":"web","name":"api","status":"Synced","operation":"Configured"}]"#;
        s.finish_operation(id, Phase::Succeeded, "done", resources)
            .unwrap();
        let e = s.entry("a", id).unwrap().unwrap();
        let v = e.view(true);
        assert_eq!(v.id, id);
        assert_eq!(v.phase, "Succeeded");
        assert_eq!(v.started_at, "2024-05-01T12:00:00Z");
        assert!(v.finished_at.ends_with('Z'));
        assert_eq!(v.resources.len(), 1);
        assert_eq!(v.resources[0].operation.as_deref(), Some("Configured"));
        assert!(e.view(false).resources.is_empty());

        let bad = HistoryEntry {
            resources_json: "not json".into(),
            finished_at: None,
            ..e
        };
        let v = bad.view(true);
        assert!(v.resources.is_empty());
        assert_eq!(v.finished_at, "");
    }

    #[test]
    fn rfc3339_clamps() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        assert_eq!(
            rfc3339(UNIX_EPOCH - Duration::from_secs(10)),
            "1970-01-01T00:00:00Z"
        );
        assert_eq!(
            rfc3339(UNIX_EPOCH + Duration::from_secs(400_000_000_000)),
            "9999-12-31T23:59:59Z"
        );
        for ms in [0i64, 1, -1, 1_714_564_800_123, -86_400_000] {
            assert_eq!(to_millis(from_millis(ms)), ms);
        }
    }

    #[test]
    fn store_is_send_sync() {
        fn check<T: Send + Sync>() {}
        check::<Store>();
    }

    #[test]
    fn phase_text() {
        for p in [
            Phase::Running,
            Phase::Succeeded,
            Phase::Failed,
            Phase::Interrupted,
        ] {
            assert_eq!(p.to_string().parse::<Phase>().unwrap(), p);
        }
        assert!("running".parse::<Phase>().is_err());
    }

    #[test]
    fn recover_interrupted_after_crash() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        let (done, running);
        {
            let s = Store::open(&state).unwrap();
            assert_eq!(s.path(), Some(state.join(DB_FILE).as_path()));
            s.put_app(&app("a")).unwrap();
            done = s.begin_operation(&op("a", "c1", 10)).unwrap();
            s.finish_operation(done, Phase::Succeeded, "ok", "[]")
                .unwrap();
            running = s.begin_operation(&op("a", "c2", 20)).unwrap();
            // Dropped while the operation runs: the crash.
        }
        let s = Store::open(&state).unwrap();
        assert_eq!(s.apps().unwrap(), vec![app("a")]);
        let rec = s.recover_interrupted().unwrap();
        assert_eq!(rec.len(), 1);
        assert_eq!(rec[0].id, running);
        assert_eq!(rec[0].phase, Phase::Interrupted);
        assert_eq!(rec[0].message, INTERRUPTED_MESSAGE);
        assert!(rec[0].finished_at.is_some());
        assert_eq!(s.entry("a", running).unwrap().unwrap(), rec[0]);
        assert_eq!(s.entry("a", done).unwrap().unwrap().phase, Phase::Succeeded);
        // Nothing left to recover.
        assert!(s.recover_interrupted().unwrap().is_empty());
    }

    #[test]
    fn newer_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        drop(Store::open(dir.path()).unwrap());
        let conn = Connection::open(dir.path().join(DB_FILE)).unwrap();
        conn.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
            .unwrap();
        drop(conn);
        let e = Store::open(dir.path()).unwrap_err();
        assert!(matches!(e, StoreError::TooNew { .. }), "{e}");
        assert!(e.to_string().contains(DB_FILE), "{e}");
    }

    #[test]
    fn open_error_names_the_directory() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a-file");
        std::fs::write(&file, "x").unwrap();
        let e = Store::open(&file.join("sub")).unwrap_err();
        assert!(e.to_string().contains("a-file"), "{e}");
    }

    #[test]
    fn two_stores_on_one_file_do_not_lock_each_other_out() {
        let dir = tempfile::tempdir().unwrap();
        let a = std::sync::Arc::new(Store::open(dir.path()).unwrap());
        let b = std::sync::Arc::new(Store::open(dir.path()).unwrap());
        let threads: Vec<_> = [a.clone(), b.clone()]
            .into_iter()
            .enumerate()
            .map(|(n, s)| {
                std::thread::spawn(move || {
                    for i in 0..50u64 {
                        let id = s.begin_operation(&op(&format!("app{n}"), "c", i)).unwrap();
                        s.put_app(&app(&format!("app{n}-{i}"))).unwrap();
                        s.finish_operation(id, Phase::Succeeded, "", "[]").unwrap();
                        s.trim_history(&format!("app{n}"), 10).unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(a.apps().unwrap().len(), 100);
        assert_eq!(b.history("app0", 100).unwrap().len(), 10);
        assert_eq!(b.history("app1", 100).unwrap().len(), 10);
    }
}
