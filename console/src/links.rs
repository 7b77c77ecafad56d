//! Where a page's links point: the server's absolute paths (`/datasets/Store1/customers`)
//! or the static site's relative files (`../../datasets/Store1/customers.html`), so one set
//! of templates serves both.

/// How to write a link to a catalog path (`datasets/Store1/customers`).
#[derive(Debug, Clone)]
pub struct Links {
    /// What leads from the current page to the site's root: `/`, or `../` per level.
    root: String,
    /// `.html` for the static site, nothing for the server.
    ext: &'static str,
}

impl Links {
    /// Links of the server.
    pub fn server() -> Self {
        Links {
            root: "/".into(),
            ext: "",
        }
    }

    /// Links of the static page at `path` (its depth decides how far up the root is).
    pub fn static_site(path: &str) -> Self {
        let depth = path.matches('/').count();
        Links {
            root: "../".repeat(depth),
            ext: ".html",
        }
    }

    /// Whether these are the static site's links (no live health, no search endpoint).
    pub fn is_static(&self) -> bool {
        !self.ext.is_empty()
    }

    /// The link to `path`; `""` is the home page.
    pub fn to(&self, path: &str) -> String {
        match (path, self.is_static()) {
            ("", false) => "/".into(),
            ("", true) => format!("{}index.html", self.root),
            (path, _) => format!("{}{path}{}", self.root, self.ext),
        }
    }

    /// The link to a file beside the pages (the style sheet).
    pub fn asset(&self, file: &str) -> String {
        format!("{}{file}", self.root)
    }
}

#[cfg(test)]
mod tests {
    use super::Links;

    #[test]
    fn server_and_static_links() {
        assert_eq!(Links::server().to("stores/S"), "/stores/S");
        assert_eq!(Links::server().to(""), "/");
        let deep = Links::static_site("datasets/S/d");
        assert_eq!(deep.to("stores/S"), "../../stores/S.html");
        assert_eq!(deep.to(""), "../../index.html");
        assert_eq!(Links::static_site("index").to("zones/Z"), "zones/Z.html");
    }
}
