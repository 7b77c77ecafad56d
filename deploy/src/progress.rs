//! What a deploy or undeploy reports as it goes, for the command line to show: on a
//! terminal as a status line, otherwise one line per event.

use std::time::Duration;

/// What became of an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Created,
    Changed,
    /// A Job deleted and created again (its template cannot change, or it had failed).
    Replaced,
    Unchanged,
}

impl Outcome {
    pub fn verb(self) -> &'static str {
        match self {
            Outcome::Created => "created",
            Outcome::Changed => "changed",
            Outcome::Replaced => "replaced",
            Outcome::Unchanged => "unchanged",
        }
    }
}

/// One thing that happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A step starts (`secrets`, `namespace`, `postgres`, …, `prune`).
    Step(String),
    /// The Secrets the model needs are all there.
    SecretsPresent(usize),
    /// An object was applied (or left as it was).
    Applied { object: String, outcome: Outcome },
    /// Still waiting for an object to be `what` (`ready`, `complete`, `gone`).
    Waiting {
        object: String,
        what: &'static str,
        elapsed: Duration,
    },
    /// The object is `what`.
    Done {
        object: String,
        what: &'static str,
        elapsed: Duration,
    },
    /// An object was deleted.
    Deleted { object: String },
    /// An object was not applied, and why (the cluster does not serve its kind).
    LeftOut { object: String, why: String },
}

/// Receives the events of a deploy or undeploy.
pub trait Progress {
    fn event(&mut self, event: Event);
}

/// Ignores every event.
impl Progress for () {
    fn event(&mut self, _: Event) {}
}

/// Collects the events (for tests and callers that render them afterwards).
impl Progress for Vec<Event> {
    fn event(&mut self, event: Event) {
        self.push(event);
    }
}
