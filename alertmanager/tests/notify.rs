//! The notifiers end to end against local servers: a test SMTP server for e-mail, an axum
//! receiver for webhooks and Slack.

mod notify {
    pub mod common;
    mod config;
    mod email;
    mod email_tls;
    mod failing;
    mod http;
}
