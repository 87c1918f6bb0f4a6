//! Which events the list and the timeline show: by category, by the acting
//! process (its role, or one tgid) and by text.

use std::collections::BTreeSet;

use cradle_events::{Detail, Event, collector::Role, kinds::Category};

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Filter {
    /// Only these categories; empty: all.
    pub categories: BTreeSet<Category>,
    /// Only events of processes in this role.
    pub role: Option<Role>,
    /// Only events of this process (tgid).
    pub process: Option<u32>,
    /// Only events whose one-line description contains this, ignoring case.
    pub text: String,
    /// Show granted capability checks: hundreds per container, hidden
    /// unless asked for (denied ones always show).
    pub granted_checks: bool,
}

impl Filter {
    pub fn matches(&self, event: &Event) -> bool {
        if !self.granted_checks && is_granted_check(&event.detail) {
            return false;
        }
        if !self.categories.is_empty() && !self.categories.contains(&event.detail.category()) {
            return false;
        }
        if let Some(role) = self.role
            && event.owner.as_ref().map(|owner| owner.role) != Some(role)
        {
            return false;
        }
        if self.process.is_some_and(|tgid| tgid != event.tgid) {
            return false;
        }
        self.text.is_empty() || event.describe().to_lowercase().contains(&self.text.to_lowercase())
    }

    /// Adds the category if absent, removes it if present.
    pub fn toggle(&mut self, category: Category) {
        if !self.categories.remove(&category) {
            self.categories.insert(category);
        }
    }

    /// The next role in the cycle all, runtime, child, init, workload.
    pub fn cycle_role(&mut self) {
        self.role = match self.role {
            None => Some(Role::Runtime),
            Some(Role::Runtime) => Some(Role::Intermediate),
            Some(Role::Intermediate) => Some(Role::Init),
            Some(Role::Init) => Some(Role::Workload),
            Some(Role::Workload) => None,
        };
    }

    /// What is filtered, in words; empty when nothing is.
    pub fn summary(&self) -> String {
        let mut parts = Vec::new();
        if !self.categories.is_empty() {
            let names: Vec<&str> = self.categories.iter().map(|c| c.name()).collect();
            parts.push(names.join("+"));
        }
        if let Some(role) = self.role {
            parts.push(format!("role {}", role.name()));
        }
        if let Some(tgid) = self.process {
            parts.push(format!("pid {tgid}"));
        }
        if !self.text.is_empty() {
            parts.push(format!("\"{}\"", self.text));
        }
        parts.join(", ")
    }
}

pub fn is_granted_check(detail: &Detail) -> bool {
    matches!(detail, Detail::CapCapable { ret: 0, .. })
}
