//! End-to-end tests: each starts the real `pharos` binary on free loopback ports with a temp
//! data dir and talks to it only through its public interfaces.

mod alert_escalation;
mod alert_rules;
mod alertmanager_api;
mod backpressure;
mod bad_input;
mod boards;
mod checks;
mod cli;
mod cli_alerting;
mod common;
mod config;
mod connections;
mod crash_cycles;
mod disk_full;
mod durability;
mod hostile;
mod ingest;
mod metrics_durability;
mod metrics_ingest;
mod otlp;
mod prometheus;
mod query;
mod real_clients;
mod records;
mod service;
mod status_page;
mod ui;
