//! The one integration-test binary: every endpoint and rule, over real HTTP, on both backends.

mod harness;
mod imap;
mod kb;
mod sinks;

mod admin;
mod attachments;
mod auth;
mod autoassign;
mod bench;
mod browser;
mod caller;
mod canned;
mod coalesce;
mod crash;
mod csat;
mod direct;
mod drafts;
mod errors;
mod jobs;
mod mail_corpus;
mod mail_in;
mod mail_out;
mod merge;
mod pipeline;
mod reports;
mod s3;
mod search_budget;
mod shutdown;
mod sla;
mod tickets;
mod visibility;
mod web;
mod web_admin;
mod webhooks;
mod workflow;
