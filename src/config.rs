//! The one config file (TOML), embedded defaults, and `PHAROS_…` environment overrides.
//!
//! Every key can be set by an environment variable: `PHAROS_` + the dotted key in upper case
//! with `__` between sections, e.g. `PHAROS_SERVER__HTTP_ADDR=0.0.0.0:7070` or
//! `PHAROS_RETENTION__DAYS=7`. Secrets (tokens) come only from the environment or from files.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context};
use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use pharos_alertmanager::{AlertingConfig, CheckConfig};
use pharos_collector::config::{
    CollectorConfig, IndexSettings, IngestSettings, MetricsSettings, RetentionSettings,
    StorageConfig, WalSettings,
};
use pharos_dashboards::Tokens;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// UI, query API and native ingest.
    pub http_addr: String,
    /// OTLP/gRPC; "" disables the listener.
    pub otlp_grpc_addr: String,
    /// OTLP/HTTP; "" disables the listener (the paths stay on `http_addr`).
    pub otlp_http_addr: String,
    /// Graceful shutdown budget, seconds.
    pub shutdown_timeout_secs: u64,
    /// Most connections open at once, per listener.
    pub max_connections: usize,
    /// A request's headers must arrive within this many seconds (it also ends an idle
    /// keep-alive wait for the next request).
    pub header_read_timeout_secs: u64,
    /// A connection that reads and writes nothing for this many seconds is closed.
    pub idle_timeout_secs: u64,
    /// Every this many seconds Pharos writes its own `/metrics` to its metrics store
    /// (`job="pharos"`); 0 turns it off.
    pub self_metrics_interval_secs: u64,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            http_addr: "127.0.0.1:7070".into(),
            otlp_grpc_addr: "127.0.0.1:4317".into(),
            otlp_http_addr: "127.0.0.1:4318".into(),
            shutdown_timeout_secs: 10,
            max_connections: 512,
            header_read_timeout_secs: 15,
            idle_timeout_secs: 120,
            self_metrics_interval_secs: 15,
        }
    }
}

/// A secret value that never prints.
#[derive(Clone, Deserialize, Serialize, PartialEq)]
#[serde(transparent)]
pub struct Secret(String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<secret>")
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// Only from the environment: `PHAROS_AUTH__INGEST_TOKEN`.
    #[serde(skip_serializing)]
    pub ingest_token: Option<Secret>,
    /// A file whose content (trimmed) is the ingest token.
    pub ingest_token_file: Option<PathBuf>,
    /// Only from the environment: `PHAROS_AUTH__API_TOKEN`.
    #[serde(skip_serializing)]
    pub api_token: Option<Secret>,
    /// A file whose content (trimmed) is the API token.
    pub api_token_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// A tracing filter, e.g. "info" or "info,pharos_collector=debug".
    pub level: String,
    /// "json" (default) or "text".
    pub format: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            level: "info".into(),
            format: "json".into(),
        }
    }
}

/// The query API's limits (`[query]`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct QueryConfig {
    /// A log or PromQL query stops with a clear error after this many seconds.
    pub timeout_secs: u64,
}

impl Default for QueryConfig {
    fn default() -> Self {
        QueryConfig {
            timeout_secs: pharos_query::budget::DEFAULT_TIMEOUT.as_secs(),
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct PharosConfig {
    pub server: ServerConfig,
    pub auth: AuthConfig,
    pub log: LogConfig,
    pub query: QueryConfig,
    pub storage: StorageConfig,
    pub wal: WalSettings,
    pub index: IndexSettings,
    pub ingest: IngestSettings,
    pub retention: RetentionSettings,
    pub metrics: MetricsSettings,
    /// Health checks and heartbeats (`[[checks]]`); printed only when there are some.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<CheckConfig>,
    /// Rules, SLOs, routing, receivers, escalation (`[alerting]`).
    pub alerting: AlertingConfig,
    /// The status page and badges (`[status_page]`).
    pub status_page: pharos_dashboards::status::StatusPageConfig,
    /// Provisioned dashboards (`[dashboards]`).
    pub dashboards: pharos_dashboards::boards::DashboardsConfig,
}

/// Parsed listen addresses.
pub struct Listeners {
    pub http: SocketAddr,
    pub otlp_grpc: Option<SocketAddr>,
    pub otlp_http: Option<SocketAddr>,
}

impl PharosConfig {
    /// Defaults, then the file (when given), then `PHAROS_…` variables; validated.
    pub fn load(path: Option<&Path>) -> anyhow::Result<PharosConfig> {
        let mut figment = Figment::from(Serialized::defaults(PharosConfig::default()));
        if let Some(path) = path {
            if !path.is_file() {
                bail!(
                    "config file {} does not exist or is not a file",
                    path.display()
                );
            }
            figment = figment.merge(Toml::file(path));
            for key in [
                "auth.ingest_token",
                "auth.api_token",
                "alerting.smtp.password",
                "alerting.ack_secret",
            ] {
                if Figment::from(Toml::file(path)).find_value(key).is_ok() {
                    bail!(
                        "{key} (in {}): secrets may not be written in the config file; set PHAROS_{} or {key}_file",
                        path.display(),
                        key.to_ascii_uppercase().replace('.', "__")
                    );
                }
            }
        }
        // PHAROS_CONFIG is the --config flag; PHAROS_SERVER and PHAROS_API_TOKEN belong to the
        // `search` and `tail` clients (a shell that sets them can still run `serve`).
        figment = figment.merge(Env::prefixed("PHAROS_").split("__").ignore(&[
            "config",
            "server",
            "api_token",
        ]));
        let mut config: PharosConfig = figment.extract().map_err(|e| {
            // figment says "for key default.x.y"; the profile name only confuses.
            anyhow::anyhow!("{}", e.to_string().replace("key \"default.", "key \""))
        })?;
        // Links in notifications (UI, acknowledgement) point at this server unless told
        // otherwise: the HTTP address, when `alerting.notify.external_url` is not set.
        let explicit = path.is_some_and(|p| {
            Figment::from(Toml::file(p))
                .find_value("alerting.notify.external_url")
                .is_ok()
        }) || std::env::var_os("PHAROS_ALERTING__NOTIFY__EXTERNAL_URL").is_some();
        if !explicit {
            config.alerting.notify.external_url = format!("http://{}", config.server.http_addr);
        }
        config.validate()?;
        Ok(config)
    }

    pub fn collector(&self) -> CollectorConfig {
        CollectorConfig {
            storage: self.storage.clone(),
            wal: self.wal.clone(),
            index: self.index.clone(),
            ingest: self.ingest.clone(),
            retention: self.retention.clone(),
            metrics: self.metrics.clone(),
        }
    }

    pub fn listeners(&self) -> anyhow::Result<Listeners> {
        fn addr(key: &str, v: &str) -> anyhow::Result<SocketAddr> {
            v.parse()
                .with_context(|| format!("{key}: {v:?} is not an address like 127.0.0.1:7070"))
        }
        fn optional(key: &str, v: &str) -> anyhow::Result<Option<SocketAddr>> {
            if v.trim().is_empty() {
                Ok(None)
            } else {
                addr(key, v).map(Some)
            }
        }
        Ok(Listeners {
            http: addr("server.http_addr", &self.server.http_addr)?,
            otlp_grpc: optional("server.otlp_grpc_addr", &self.server.otlp_grpc_addr)?,
            otlp_http: optional("server.otlp_http_addr", &self.server.otlp_http_addr)?,
        })
    }

    pub fn validate(&self) -> anyhow::Result<()> {
        self.listeners()?;
        self.collector().validate()?;
        for (i, rule) in self.metrics.from_logs.iter().enumerate() {
            pharos_query::derived::rule::compile(rule)
                .map_err(|e| anyhow::anyhow!("metrics.from_logs[{i}]: {e}"))?;
        }
        pharos_alertmanager::config::validate(&self.checks).map_err(anyhow::Error::msg)?;
        self.alerting
            .validate(&|id| self.checks.iter().any(|c| c.id == id))
            .map_err(anyhow::Error::msg)?;
        self.status_page
            .validate(&|id| self.checks.iter().any(|c| c.id == id))
            .map_err(anyhow::Error::msg)?;
        self.dashboards.validate().map_err(anyhow::Error::msg)?;
        if !(1..=600).contains(&self.server.shutdown_timeout_secs) {
            bail!("server.shutdown_timeout_secs: must be between 1 and 600");
        }
        if !(1..=1_000_000).contains(&self.server.max_connections) {
            bail!("server.max_connections: must be between 1 and 1000000");
        }
        if !(1..=3600).contains(&self.server.header_read_timeout_secs) {
            bail!("server.header_read_timeout_secs: must be between 1 and 3600");
        }
        if !(1..=86_400).contains(&self.server.idle_timeout_secs) {
            bail!("server.idle_timeout_secs: must be between 1 and 86400");
        }
        if !(1..=3600).contains(&self.query.timeout_secs) {
            bail!("query.timeout_secs: must be between 1 and 3600");
        }
        if !["json", "text"].contains(&self.log.format.as_str()) {
            bail!(
                "log.format: must be \"json\" or \"text\", not {:?}",
                self.log.format
            );
        }
        tracing_subscriber::EnvFilter::try_new(&self.log.level).map_err(|e| {
            anyhow::anyhow!("log.level: {:?} is not a valid filter: {e}", self.log.level)
        })?;
        self.tokens()?;
        Ok(())
    }

    /// Reads and checks the alerting rule files (`alerting.rules.files`): the summary, or
    /// every problem as `file:line: …`.
    pub fn validate_rule_files(&self) -> anyhow::Result<pharos_alertmanager::rules::Summary> {
        let checks = self.checks.iter().map(|c| c.id.clone()).collect();
        pharos_alertmanager::rules::validate_files(&self.alerting.rules.files, Some(checks))
            .map_err(|errors| {
                anyhow::anyhow!(
                    "{}",
                    errors
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join("\n")
                )
            })
    }

    /// The limits of every listener.
    pub fn conn_limits(&self) -> pharos_dashboards::listener::ConnLimits {
        pharos_dashboards::listener::ConnLimits {
            max_connections: self.server.max_connections,
            header_read_timeout: std::time::Duration::from_secs(
                self.server.header_read_timeout_secs,
            ),
            idle_timeout: std::time::Duration::from_secs(self.server.idle_timeout_secs),
        }
    }

    /// The query API's settings.
    pub fn api_settings(&self) -> pharos_dashboards::ApiSettings {
        pharos_dashboards::ApiSettings {
            query_timeout: std::time::Duration::from_secs(self.query.timeout_secs),
            status_page: self.status_page.clone(),
            dashboards: self.dashboards.clone(),
        }
    }

    /// Reads the tokens (environment first, then files).
    pub fn tokens(&self) -> anyhow::Result<Tokens> {
        fn one(
            key: &str,
            env: &Option<Secret>,
            file: &Option<PathBuf>,
        ) -> anyhow::Result<Option<Arc<str>>> {
            if let Some(Secret(v)) = env {
                if v.trim().is_empty() {
                    bail!("{key}: is set but empty");
                }
                return Ok(Some(Arc::from(v.trim())));
            }
            let Some(path) = file else { return Ok(None) };
            let content = std::fs::read_to_string(path)
                .with_context(|| format!("{key}_file: cannot read {}", path.display()))?;
            if content.trim().is_empty() {
                bail!("{key}_file: {} is empty", path.display());
            }
            Ok(Some(Arc::from(content.trim())))
        }
        Ok(Tokens {
            ingest: one(
                "auth.ingest_token",
                &self.auth.ingest_token,
                &self.auth.ingest_token_file,
            )?,
            api: one(
                "auth.api_token",
                &self.auth.api_token,
                &self.auth.api_token_file,
            )?,
        })
    }
}
