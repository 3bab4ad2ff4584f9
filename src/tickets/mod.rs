//! Tickets: model, workflow, numbering, validation, access rules, service functions.

pub mod access;
pub mod autoassign;
pub mod budget;
pub mod bulk;
pub mod catalog;
pub mod categories;
pub mod changes;
pub mod history;
mod insert;
pub mod keyset;
pub mod merge;
pub mod model;
pub mod number;
pub mod page_fold;
pub mod query;
pub mod rating;
pub mod scan;
pub mod service;
pub mod tracking;
pub mod validate;
pub mod view;
mod view_sql;
pub mod workflow;
