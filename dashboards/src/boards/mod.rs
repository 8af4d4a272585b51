//! User dashboards: the document format ([`model`]), their durable versioned store
//! ([`store`]), dashboards provisioned from files ([`provision`]), the built-in ones
//! ([`builtin`]) and the Grafana importer ([`grafana`]). [`Boards`] puts the three sources
//! together: built-in and provisioned dashboards are read-only, user ones are versioned.

pub mod builtin;
pub mod grafana;
pub mod model;
pub mod provision;
pub mod store;

use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use pharos_alertmanager::storage::SharedStateDb;
use pharos_collector::clock::SharedClock;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use model::{Dashboard, ModelError};
use provision::{FileError, Snapshot};
use store::{Expect, Store, StoreError, Stored};

/// `[dashboards]` in the config file.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct DashboardsConfig {
    /// A directory of `*.json` dashboards (Pharos or Grafana format); "" = none.
    pub provisioning_dir: String,
    /// How often the directory is re-read.
    pub provisioning_interval_secs: u64,
}

impl Default for DashboardsConfig {
    fn default() -> Self {
        DashboardsConfig {
            provisioning_dir: String::new(),
            provisioning_interval_secs: 30,
        }
    }
}

impl DashboardsConfig {
    /// Names the key that is wrong.
    pub fn validate(&self) -> Result<(), String> {
        if !(1..=86_400).contains(&self.provisioning_interval_secs) {
            return Err(
                "dashboards.provisioning_interval_secs: must be between 1 and 86400".into(),
            );
        }
        if let Some(dir) = self.dir() {
            if !dir.is_dir() {
                return Err(format!(
                    "dashboards.provisioning_dir: {} does not exist or is not a directory",
                    dir.display()
                ));
            }
        }
        Ok(())
    }

    fn dir(&self) -> Option<PathBuf> {
        let d = self.provisioning_dir.trim();
        (!d.is_empty()).then(|| PathBuf::from(d))
    }
}

/// Where a dashboard comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Builtin,
    Provisioned(PathBuf),
    User,
}

impl Source {
    pub fn name(&self) -> &'static str {
        match self {
            Source::Builtin => "builtin",
            Source::Provisioned(_) => "provisioned",
            Source::User => "user",
        }
    }

    pub fn path(&self) -> Option<String> {
        match self {
            Source::Provisioned(p) => Some(p.display().to_string()),
            _ => None,
        }
    }
}

/// A dashboard (or one of its versions) and where it comes from.
#[derive(Debug, Clone)]
pub struct Entry {
    pub stored: Stored,
    pub source: Source,
}

#[derive(Debug, thiserror::Error)]
pub enum BoardsError {
    #[error(transparent)]
    Invalid(#[from] ModelError),
    #[error("{0}")]
    BadRequest(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    ReadOnly(String),
}

pub struct Boards {
    store: Store,
    builtin: Vec<Dashboard>,
    provisioned: RwLock<Arc<Snapshot>>,
    config: DashboardsConfig,
    /// The built-in dashboards' `updated_at`: they change with the binary, so its start.
    started_ns: i64,
}

impl Boards {
    /// Opens the store and reads the provisioning directory once. Blocking (file reads).
    pub fn open(db: SharedStateDb, clock: SharedClock, config: &DashboardsConfig) -> Boards {
        let started_ns = clock.now_ns();
        let boards = Boards {
            started_ns,
            store: Store::new(db, clock),
            builtin: builtin::all(),
            provisioned: RwLock::new(Arc::new(Snapshot::default())),
            config: config.clone(),
        };
        boards.rescan();
        boards
    }

    /// Re-reads the provisioning directory. Blocking.
    pub fn rescan(&self) {
        let Some(dir) = self.config.dir() else { return };
        let previous = self.snapshot();
        let next = provision::scan(&dir, &previous, &|uid| {
            self.builtin.iter().any(|b| b.uid == uid)
        });
        if next != *previous {
            tracing::info!(dir = %dir.display(), dashboards = next.boards.len(), errors = next.errors.len(), "provisioned dashboards loaded");
        }
        *self.provisioned.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(next);
    }

    /// Re-scans every `provisioning_interval_secs` until `stop`.
    pub async fn run(self: Arc<Self>, mut stop: watch::Receiver<bool>) {
        if self.config.dir().is_none() {
            return;
        }
        let every = Duration::from_secs(self.config.provisioning_interval_secs.max(1));
        loop {
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = stop.wait_for(|v| *v) => return,
            }
            let me = self.clone();
            if let Err(e) = tokio::task::spawn_blocking(move || me.rescan()).await {
                tracing::error!(error = %e, "re-reading the provisioned dashboards failed");
            }
        }
    }

    fn snapshot(&self) -> Arc<Snapshot> {
        self.provisioned
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Every dashboard (built-in, provisioned, user) and the provisioning files that failed.
    pub fn list(&self) -> Result<(Vec<Entry>, Vec<FileError>), BoardsError> {
        let snap = self.snapshot();
        let mut out: Vec<Entry> = self
            .builtin
            .iter()
            .map(|b| builtin_entry(b, self.started_ns))
            .collect();
        out.extend(snap.boards.iter().map(provisioned_entry));
        for s in self.store.list()? {
            // A user dashboard shadowed by a later provisioned or built-in one is hidden
            // behind it (its uid answers with the read-only one).
            if !out
                .iter()
                .any(|e| e.stored.dashboard.uid == s.dashboard.uid)
            {
                out.push(Entry {
                    stored: s,
                    source: Source::User,
                });
            }
        }
        out.sort_by(|a, b| {
            a.stored
                .dashboard
                .title
                .to_lowercase()
                .cmp(&b.stored.dashboard.title.to_lowercase())
                .then_with(|| a.stored.dashboard.uid.cmp(&b.stored.dashboard.uid))
        });
        Ok((out, snap.errors.clone()))
    }

    fn read_only(&self, uid: &str) -> Option<Entry> {
        if let Some(b) = self.builtin.iter().find(|b| b.uid == uid) {
            return Some(builtin_entry(b, self.started_ns));
        }
        self.snapshot().get(uid).map(provisioned_entry)
    }

    fn refuse_read_only(&self, uid: &str) -> Result<(), BoardsError> {
        match self.read_only(uid).map(|e| e.source) {
            Some(Source::Builtin) => Err(BoardsError::ReadOnly(format!(
                "dashboard {uid:?} is built in and cannot be changed: export it and create a copy with another uid"
            ))),
            Some(Source::Provisioned(path)) => Err(BoardsError::ReadOnly(format!(
                "dashboard {uid:?} is provisioned from {}: edit the file (changes are picked up within {} s)",
                path.display(),
                self.config.provisioning_interval_secs
            ))),
            _ => Ok(()),
        }
    }

    pub fn get(&self, uid: &str) -> Result<Entry, BoardsError> {
        if let Some(e) = self.read_only(uid) {
            return Ok(e);
        }
        match self.store.get(uid)? {
            Some(s) => Ok(Entry {
                stored: s,
                source: Source::User,
            }),
            None => Err(StoreError::NotFound(uid.to_string()).into()),
        }
    }

    /// Fills in the uid (from the title) and validates.
    fn prepare(mut dashboard: Dashboard) -> Result<Dashboard, BoardsError> {
        if dashboard.uid.is_empty() {
            dashboard.uid = model::slug(&dashboard.title);
        }
        dashboard.validate()?;
        Ok(dashboard)
    }

    pub fn create(&self, dashboard: Dashboard, message: String) -> Result<Stored, BoardsError> {
        let dashboard = Self::prepare(dashboard)?;
        if self.read_only(&dashboard.uid).is_some() {
            return Err(StoreError::Exists(dashboard.uid).into());
        }
        Ok(self.store.save(dashboard, Expect::New, message)?)
    }

    pub fn update(
        &self,
        uid: &str,
        dashboard: Dashboard,
        version: u32,
        message: String,
    ) -> Result<Stored, BoardsError> {
        self.refuse_read_only(uid)?;
        let mut dashboard = dashboard;
        if dashboard.uid.is_empty() {
            dashboard.uid = uid.to_string();
        }
        if dashboard.uid != uid {
            return Err(BoardsError::BadRequest(format!(
                "dashboard.uid: {:?} is not the uid in the path ({uid:?}); a dashboard's uid cannot change",
                dashboard.uid
            )));
        }
        let dashboard = Self::prepare(dashboard)?;
        Ok(self
            .store
            .save(dashboard, Expect::Version(version), message)?)
    }

    /// Saves an imported dashboard: new, or (with `overwrite`) a new version of the existing.
    pub fn save_import(
        &self,
        dashboard: Dashboard,
        overwrite: bool,
    ) -> Result<Stored, BoardsError> {
        let dashboard = Self::prepare(dashboard)?;
        self.refuse_read_only(&dashboard.uid)?;
        let expect = if overwrite { Expect::Any } else { Expect::New };
        Ok(self
            .store
            .save(dashboard, expect, "imported from Grafana".into())?)
    }

    pub fn delete(&self, uid: &str) -> Result<(), BoardsError> {
        self.refuse_read_only(uid)?;
        Ok(self.store.delete(uid)?)
    }

    /// The kept versions, newest first (a read-only dashboard has only its current one).
    pub fn versions(&self, uid: &str) -> Result<Vec<Stored>, BoardsError> {
        if let Some(e) = self.read_only(uid) {
            return Ok(vec![e.stored]);
        }
        let versions = self.store.versions(uid)?;
        if versions.is_empty() {
            return Err(StoreError::NotFound(uid.to_string()).into());
        }
        Ok(versions)
    }

    pub fn version(&self, uid: &str, n: u32) -> Result<Stored, BoardsError> {
        if let Some(e) = self.read_only(uid) {
            if e.stored.version == n {
                return Ok(e.stored);
            }
            return Err(StoreError::NoVersion {
                uid: uid.to_string(),
                version: n,
            }
            .into());
        }
        if self.store.get(uid)?.is_none() {
            return Err(StoreError::NotFound(uid.to_string()).into());
        }
        Ok(self.store.version(uid, n)?)
    }

    pub fn restore(&self, uid: &str, n: u32) -> Result<Stored, BoardsError> {
        self.refuse_read_only(uid)?;
        Ok(self.store.restore(uid, n)?)
    }
}

fn builtin_entry(d: &Dashboard, started_ns: i64) -> Entry {
    Entry {
        stored: Stored {
            dashboard: d.clone(),
            version: 1,
            updated_at_ns: started_ns,
            message: String::new(),
        },
        source: Source::Builtin,
    }
}

fn provisioned_entry(p: &provision::Provisioned) -> Entry {
    Entry {
        stored: Stored {
            dashboard: p.dashboard.clone(),
            version: p.version,
            updated_at_ns: p.updated_at_ns,
            message: String::new(),
        },
        source: Source::Provisioned(p.path.clone()),
    }
}
