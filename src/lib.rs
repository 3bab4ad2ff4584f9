//! Triage: a self-hosted helpdesk. The library holds every capability; `main.rs` is a thin CLI.

pub mod api;
pub mod app;
pub mod attachments;
pub mod auth;
pub mod bench;
pub mod canned;
pub mod clock;
pub mod config;
pub mod context;
pub mod conversations;
pub mod db;
pub mod demo;
pub mod drafts;
pub mod error;
pub mod http_metrics;
pub mod jobs;
pub mod kb;
pub mod mail;
pub mod notify;
pub mod patch;
pub mod reports;
pub mod search;
pub mod sla;
pub mod tickets;
pub mod users;
pub mod web;
