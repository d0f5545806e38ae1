//! A hook's `task`: the JSON-e template as given, with the checker's verdict on it kept beside.
//!
//! A fire renders in-process only a template the checker ([`Template`]) passes with a bound,
//! so every fire needs the verdict. Looked up by the template's text, it cost each fire a
//! serialization of the whole template, which grows with the template: 60,000 instructions,
//! 7 % of the fire, for a decision task's template of 2.6 KB (BENCHMARKS.md, issue 15, tenth
//! round). Kept with the hook, it is worked out at the first fire of each copy of the hook the
//! store hands out, and the hook cache keeps that copy for every fire after.
//!
//! Unlike a trigger schema, a template is not checked as it enters: Taskcluster stores any
//! template, and a template the checker refuses still renders, in a worker, which reports
//! JSON-e's own error. Listing or loading hooks never pays for a check.

use std::sync::{Arc, OnceLock};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::template::Template;

/// A hook's task template.
#[derive(Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TaskTemplate {
    /// The template as given, which is what it serializes to and is compared by.
    written: Value,
    /// The checker's verdict once asked: `None` when it refuses the template.
    #[serde(skip)]
    checked: OnceLock<Option<Arc<Template>>>,
}

impl From<Value> for TaskTemplate {
    fn from(written: Value) -> Self {
        Self {
            written,
            checked: OnceLock::new(),
        }
    }
}

impl TaskTemplate {
    /// The template as given.
    pub fn as_json(&self) -> &Value {
        &self.written
    }

    /// The checked template, or `None` when the checker refuses it; checked on the first call
    /// only.
    pub fn checked(&self) -> Option<&Arc<Template>> {
        self.checked
            .get_or_init(|| Template::checked(&self.written).ok())
            .as_ref()
    }
}

impl PartialEq for TaskTemplate {
    fn eq(&self, other: &Self) -> bool {
        self.written == other.written
    }
}

impl std::fmt::Debug for TaskTemplate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.written.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_verdict_is_kept_with_the_template_and_its_clones() {
        let template = TaskTemplate::from(json!({"kept": "${now}"}));
        let kept = Arc::clone(template.checked().expect("a plain template passes"));
        // The text-keyed memo starts over past 10,000 templates: the template's text is
        // checked anew after this, but the copy keeps the verdict it had.
        for n in 0..=10_000 {
            Template::checked(&json!({ "filler": n })).unwrap();
        }
        let looked_up = Template::checked(template.as_json()).unwrap();
        assert!(!Arc::ptr_eq(&kept, &looked_up));
        assert!(Arc::ptr_eq(&kept, template.checked().unwrap()));
        assert!(Arc::ptr_eq(&kept, template.clone().checked().unwrap()));
    }

    #[test]
    fn a_refused_template_has_no_verdict_and_still_round_trips() {
        let written = json!({"$unknownOperator": 1});
        let template = TaskTemplate::from(written.clone());
        assert!(template.checked().is_none());
        assert_eq!(serde_json::to_value(&template).unwrap(), written);
    }

    #[test]
    fn equality_and_serialization_see_only_the_template() {
        let checked = TaskTemplate::from(json!({"a": [1, "${x}"]}));
        assert!(checked.checked().is_some());
        let fresh: TaskTemplate = serde_json::from_value(json!({"a": [1, "${x}"]})).unwrap();
        assert_eq!(checked, fresh);
        assert_eq!(
            serde_json::to_string(&checked).unwrap(),
            serde_json::to_string(&fresh).unwrap()
        );
        assert_eq!(format!("{checked:?}"), format!("{:?}", fresh.as_json()));
    }
}
