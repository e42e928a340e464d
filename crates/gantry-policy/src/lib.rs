//! Policies and promotion-rule conditions.
//!
//! A policy is a Rego (v1) module `package gantry`. Evaluating it over an input document gives
//! a [`Decision`]: `deny` reasons and the actions it asks for (`quarantine`, `add_tags`,
//! `remove_tags`). A promotion rule's condition is either the shorthand of [`Condition`]
//! (`max_severity < high and tag == tested`) or a Rego module defining `promote`.
//!
//! Evaluation is bounded: the source length is limited, the input is size-checked by the
//! caller, every evaluation runs under a wall-clock timer, and the server runs evaluations in
//! a child process with a capped address space ([`child`]), so a policy that allocates without
//! bound fails alone. An evaluation that fails is an error, which callers treat as a denial
//! (gates fail closed).
//! This crate does no I/O and knows nothing of the database or HTTP.

pub mod child;
mod condition;
mod rego;

pub use condition::{Condition, ConditionError};
pub use rego::{check, evaluate, evaluate_promote, input_digest, Decision, Limits, PolicyError};
