//! The one integration-test binary: every endpoint and rule, over real HTTP, on both backends.

mod harness;

mod admin;
mod auth;
mod errors;
mod tickets;
mod visibility;
mod workflow;
