//! Kubernetes object names built from several model names.

/// A DNS-1123 label from `parts`: lower case, every other character as `-`, runs of `-`
/// collapsed, at most 63 characters (cut with a hash of the whole when longer).
pub(crate) fn object_name(parts: &[&str]) -> String {
    let mut name = String::new();
    for c in parts.join("-").to_lowercase().chars() {
        let c = if c.is_ascii_lowercase() || c.is_ascii_digit() {
            c
        } else {
            '-'
        };
        if !(c == '-' && (name.is_empty() || name.ends_with('-'))) {
            name.push(c);
        }
    }
    let name = name.trim_end_matches('-').to_owned();
    if name.len() <= 63 {
        return name;
    }
    let hash = datasurface_model::naming::hex_digest(name.as_bytes(), 4);
    format!("{}-{hash}", name[..54].trim_end_matches('-'))
}

#[cfg(test)]
mod tests {
    use super::object_name;

    #[test]
    fn names_are_dns_labels() {
        assert_eq!(
            object_name(&["yellowlive", "Store1", "batch"]),
            "yellowlive-store1-batch"
        );
        assert_eq!(
            object_name(&["marketing-history", "Marketing#events", "batch"]),
            "marketing-history-marketing-events-batch"
        );
        let long = object_name(&["a".repeat(70).as_str()]);
        assert_eq!(long.len(), 63);
        assert!(datasurface_model::naming::is_rfc1123_label(&long));
    }
}
