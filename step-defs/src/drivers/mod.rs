//! The mechanisms the step bindings drive, by domain. Bindings (`crate::steps`) stay thin:
//! they parse a step's captures, call into these modules and assert.

pub(crate) mod access;
pub mod alloc_counter;
pub(crate) mod bench;
pub mod crash;
pub mod drain;
pub(crate) mod duplex;
pub(crate) mod endpoints;
pub mod explain;
pub(crate) mod faults;
pub(crate) mod inodes;
pub mod jobs;
pub(crate) mod measure;
pub mod naming;
pub(crate) mod os;
pub(crate) mod patterns;
pub mod pending;
pub mod poll;
pub(crate) mod recorded;
pub(crate) mod ring;
pub(crate) mod roles;
pub mod scale;
pub(crate) mod streams;
pub(crate) mod structures;
pub mod tables;
