//! What would change in a live object: the fields in which a server-side dry-run apply
//! differs from it, as `kubectl diff` shows them, leaving out what the server rewrites on
//! every write (resource version, managed fields, status).

use serde_json::{Map, Value};

/// One field that would change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldChange {
    /// Its path: `spec.template.spec.containers[scheduler].image`.
    pub path: String,
    /// Its value now, shortened (`None`: absent).
    pub before: Option<String>,
    /// Its value after the apply, shortened (`None`: removed).
    pub after: Option<String>,
}

/// Metadata the server writes itself.
const SERVER_METADATA: [&str; 6] = [
    "managedFields",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "uid",
    "selfLink",
];

/// The fields of `after` that differ from `live`.
pub(crate) fn changes(live: &Value, after: &Value) -> Vec<FieldChange> {
    let mut out = Vec::new();
    walk("", &comparable(live), &comparable(after), &mut out);
    out
}

/// `value` without what the server rewrites on every write.
fn comparable(value: &Value) -> Value {
    let mut value = value.clone();
    if let Some(map) = value.as_object_mut() {
        map.remove("status");
        if let Some(meta) = map.get_mut("metadata").and_then(Value::as_object_mut) {
            for key in SERVER_METADATA {
                meta.remove(key);
            }
        }
    }
    value
}

fn walk(path: &str, before: &Value, after: &Value, out: &mut Vec<FieldChange>) {
    match (before, after) {
        (Value::Object(b), Value::Object(a)) => {
            let mut keys: Vec<&String> = b.keys().chain(a.keys()).collect();
            keys.sort();
            keys.dedup();
            for key in keys {
                let child = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                walk_option(&child, b.get(key), a.get(key), out);
            }
        }
        (Value::Array(b), Value::Array(a)) if named(b) && named(a) => {
            let mut seen = Vec::new();
            for n in b.iter().chain(a).filter_map(name) {
                if seen.contains(&n) {
                    continue;
                }
                seen.push(n);
                let find = |items: &[Value]| items.iter().find(|i| name(i) == Some(n)).cloned();
                walk_option(
                    &format!("{path}[{n}]"),
                    find(b).as_ref(),
                    find(a).as_ref(),
                    out,
                );
            }
        }
        (Value::Array(b), Value::Array(a)) => {
            for i in 0..b.len().max(a.len()) {
                walk_option(&format!("{path}[{i}]"), b.get(i), a.get(i), out);
            }
        }
        (b, a) if b == a => {}
        (b, a) => out.push(FieldChange {
            path: path.to_owned(),
            before: Some(shown(path, b)),
            after: Some(shown(path, a)),
        }),
    }
}

fn walk_option(
    path: &str,
    before: Option<&Value>,
    after: Option<&Value>,
    out: &mut Vec<FieldChange>,
) {
    match (before, after) {
        (Some(b), Some(a)) => walk(path, b, a, out),
        (None, None) => {}
        (b, a) => out.push(FieldChange {
            path: path.to_owned(),
            before: b.map(|v| shown(path, v)),
            after: a.map(|v| shown(path, v)),
        }),
    }
}

/// Whether every item is an object with a `name` (containers, env, ports, volumes): such
/// lists are compared by name, so one inserted item is one change, not a shift of all.
fn named(items: &[Value]) -> bool {
    !items.is_empty() && items.iter().all(|i| name(i).is_some())
}

fn name(item: &Value) -> Option<&str> {
    item.as_object()
        .and_then(|o: &Map<String, Value>| o.get("name"))
        .and_then(Value::as_str)
}

impl FieldChange {
    /// Whether the field is a container's image: a new binary, which a plan shows whole
    /// (a digest cut short would not say which).
    pub fn is_image(&self) -> bool {
        self.path.ends_with(".image")
    }
}

/// The value at `path` as a plan shows it: an image reference whole, anything else
/// [`short`].
fn shown(path: &str, value: &Value) -> String {
    match value {
        image @ Value::String(_) if path.ends_with(".image") => image.to_string(),
        other => short(other),
    }
}

/// A value as a plan shows it: at most one line of 60 characters.
fn short(value: &Value) -> String {
    let text = match value {
        Value::String(s) if s.contains('\n') => {
            return format!("({} lines)", s.lines().count());
        }
        other => other.to_string(),
    };
    if text.chars().count() > 60 {
        let cut: String = text.chars().take(57).collect();
        format!("{cut}…")
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn an_image_change_is_shown_whole() {
        let image = |i: &str| serde_json::json!({"spec": {"containers": [{"name": "run", "image": i, "command": ["x"]}]}});
        let pinned = format!(
            "registry.example.com/team/ecosystem@sha256:{}",
            "a".repeat(64)
        );
        let changes = super::changes(
            &image("registry.example.com/team/ecosystem:0123456789ab"),
            &image(&pinned),
        );
        assert_eq!(changes.len(), 1);
        assert!(changes[0].is_image());
        assert_eq!(changes[0].path, "spec.containers[run].image");
        assert_eq!(changes[0].after, Some(format!("\"{pinned}\"")));
    }

    use super::*;
    use serde_json::json;

    #[test]
    fn server_fields_are_not_changes() {
        let live = json!({"metadata": {"name": "a", "resourceVersion": "7", "managedFields": []},
                          "spec": {"replicas": 1}, "status": {"ready": 1}});
        let after =
            json!({"metadata": {"name": "a", "resourceVersion": "8"}, "spec": {"replicas": 1}});
        assert_eq!(changes(&live, &after), vec![]);
    }

    #[test]
    fn named_lists_are_compared_by_name() {
        let live = json!({"containers": [{"name": "web", "image": "a:1"}, {"name": "db", "image": "p:1"}]});
        let after = json!({"containers": [{"name": "init", "image": "i:1"}, {"name": "web", "image": "a:2"},
                                          {"name": "db", "image": "p:1"}]});
        let paths: Vec<(String, Option<String>, Option<String>)> = changes(&live, &after)
            .into_iter()
            .map(|c| (c.path, c.before, c.after))
            .collect();
        assert_eq!(
            paths,
            vec![
                (
                    "containers[web].image".into(),
                    Some("\"a:1\"".into()),
                    Some("\"a:2\"".into())
                ),
                (
                    "containers[init]".into(),
                    None,
                    Some("{\"image\":\"i:1\",\"name\":\"init\"}".into())
                ),
            ]
        );
    }

    #[test]
    fn long_and_multiline_values_are_shortened() {
        let live = json!({"data": {"dag.py": "a\nb\n", "x": "y".repeat(100)}});
        let after = json!({"data": {"dag.py": "a\nb\nc\n", "x": "z".repeat(100)}});
        let c = changes(&live, &after);
        assert_eq!(c[0].after.as_deref(), Some("(3 lines)"));
        assert_eq!(c[1].after.as_ref().map(|s| s.chars().count()), Some(58));
    }
}
