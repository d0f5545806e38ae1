//! JSON-e task templates, checked before they render: the expression language's parser
//! ([`expr`]), the walk over a template that checks every operator and interpolation
//! ([`walk`]), and the bound on what a render costs ([`bound`]). Pure: no I/O.
//!
//! The `json-e` crate only renders, so this is how hookd tells a template that cannot compile
//! (an apply refuses it, naming the JSON pointer) and one that provably renders quickly enough
//! to skip the render worker's process (a fire renders it in-process). The language is the one
//! of the `json-e` version in Cargo.lock; tests hold the two to agreement.

pub mod bound;
pub mod expr;
pub mod walk;

use std::sync::Arc;

use serde_json::Value;

use super::memo::Memo;
pub use bound::Bound;
pub use walk::{json_size, TemplateError};

/// A template that passed the check: every part each render goes through is well formed.
#[derive(Debug)]
pub struct Template {
    root: walk::Node,
    warnings: Vec<TemplateError>,
}

/// Checked templates by their JSON text; past 10,000 it starts over.
static CHECKED: Memo<String, Template> = Memo::new(10_000);

impl Template {
    /// Checks `template`.
    ///
    /// # Errors
    /// [`TemplateError`] for an error no render can get past: a bad expression or
    /// interpolation, an unknown `$` operator, an operator with a wrong shape or properties.
    /// Errors in parts a render may skip are [`Template::warnings`] instead.
    pub fn check(template: &Value) -> Result<Self, TemplateError> {
        let mut warnings = Vec::new();
        let root = walk::walk(template, &mut warnings)?;
        Ok(Self { root, warnings })
    }

    /// [`Template::check`], remembered by the template's text: a copy of a template checked
    /// before costs its serialization and a lookup. A hook's copy keeps the result (see
    /// [`super::TaskTemplate`]), so a hook pays this once per read from the store, not per fire.
    ///
    /// # Errors
    /// As [`Template::check`]; failures are not remembered.
    pub fn checked(template: &Value) -> Result<Arc<Self>, TemplateError> {
        let text = template.to_string();
        CHECKED.get_or_parse(text.as_str(), || text.clone(), || Self::check(template))
    }

    /// Errors in parts a render may skip (a branch, the body of an iteration over nothing).
    pub fn warnings(&self) -> &[TemplateError] {
        &self.warnings
    }

    /// An upper bound on the rendered size and the work of rendering with a context of
    /// `context_bytes` of JSON, names in `bound` holding values of at most the given sizes;
    /// `None` when there is none (see [`bound`]).
    pub fn bound(&self, context_bytes: u64, bound: &[(&str, u64)]) -> Option<Bound> {
        bound::estimate(&self.root, context_bytes, bound)
    }
}

#[cfg(test)]
mod bound_tests;
#[cfg(test)]
mod oracle_tests;
