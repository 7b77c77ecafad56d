//! A real browser (headless Chromium) opens the console's pages and follows their links, on
//! the server during real batches and in the static catalog; the screenshots it takes are
//! the images of docs/console.md (`DATASURFACE_SCREENSHOTS=docs/images` writes them there).
//!
//! Needs `chromium` (Debian's package; `DATASURFACE_CHROMIUM` names the binary).

mod common;

use common::*;
use datasurface::console::{Console, site};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

fn chromium() -> PathBuf {
    let path = std::env::var_os("DATASURFACE_CHROMIUM")
        .map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from);
    assert!(
        path.exists(),
        "{} is missing: scripts/test.sh installs it (apt-get install chromium)",
        path.display()
    );
    path
}

/// Runs headless Chromium on `url` with `args`; its standard output.
fn browse(profile: &Path, url: &str, args: &[&str]) -> String {
    let out = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(url)
        .output()
        .expect("run chromium");
    assert!(
        out.status.success(),
        "chromium {url}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The page as the browser built it.
fn dom(profile: &Path, url: &str) -> String {
    browse(profile, url, &["--dump-dom"])
}

/// A screenshot of `url` into `file`, checked to be a PNG.
fn screenshot(profile: &Path, url: &str, file: &Path) {
    browse(
        profile,
        url,
        &[
            &format!("--screenshot={}", file.display()),
            "--window-size=1280,1000",
        ],
    );
    let png = std::fs::read(file).expect("the screenshot");
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 10_000,
        "{}",
        file.display()
    );
}

/// The first `href` in `html` that starts with `prefix`.
fn link(html: &str, prefix: &str) -> String {
    let start = html
        .find(&format!("href=\"{prefix}"))
        .unwrap_or_else(|| panic!("no link to {prefix}… in the page"));
    let rest = &html[start + 6..];
    rest[..rest.find('"').expect("a closing quote")].to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_opens_the_pages_and_follows_their_links() {
    let s = Scenario::people().start().await;
    s.change_source(THREE_PEOPLE).await;
    s.batch("YellowLive").await.expect("live batch");
    s.change_source(FIVE_PEOPLE_AFTER_THREE).await;
    s.batch("YellowLive").await.expect("second live batch");
    s.batch("YellowForensic").await.expect("forensic batch");

    let console = Console::new(Arc::new(s.eco.clone()), s.env.clone(), "mvp");
    console.refresh().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(datasurface::console::serve(
        console,
        listener,
        Duration::from_secs(60),
    ));

    let work = std::env::temp_dir().join(format!("datasurface-browser-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).expect("dir");
    let profile = work.join("profile");
    let shots = std::env::var_os("DATASURFACE_SCREENSHOTS")
        .map_or_else(|| work.join("shots"), PathBuf::from);
    std::fs::create_dir_all(&shots).expect("screenshots dir");
    let base = format!("http://{addr}");

    let (profile2, base2) = (profile.clone(), base.clone());
    let home = tokio::task::spawn_blocking(move || dom(&profile2, &format!("{base2}/")))
        .await
        .expect("browser");
    assert!(home.contains("fresh: 2"), "{home}");
    // Home → platform → store → dataset, by the links each page shows.
    let platform = link(&home, "/platforms/");
    let (profile2, base2) = (profile.clone(), base.clone());
    let pages = tokio::task::spawn_blocking(move || {
        let platform_page = dom(&profile2, &format!("{base2}{platform}"));
        let store = link(&platform_page, "/stores/");
        let store_page = dom(&profile2, &format!("{base2}{store}"));
        let dataset = link(&store_page, "/datasets/");
        let dataset_page = dom(&profile2, &format!("{base2}{dataset}"));
        (platform_page, store_page, dataset_page)
    })
    .await
    .expect("browser");
    assert!(
        pages.0.contains("<h1>Platform YellowLive</h1>"),
        "{}",
        pages.0
    );
    assert!(pages.1.contains("<h1>Datastore Store1</h1>"), "{}", pages.1);
    assert!(pages.2.contains("<h1>Store1.people</h1>"), "{}", pages.2);
    assert!(pages.2.contains("YellowLive: fresh"));

    let (profile2, base2, shots2) = (profile.clone(), base.clone(), shots.clone());
    tokio::task::spawn_blocking(move || {
        screenshot(
            &profile2,
            &format!("{base2}/"),
            &shots2.join("console-home.png"),
        );
        screenshot(
            &profile2,
            &format!("{base2}/datasets/Store1/people"),
            &shots2.join("console-dataset.png"),
        );
        screenshot(
            &profile2,
            &format!("{base2}/workspaces/WS"),
            &shots2.join("console-workspace.png"),
        );
    })
    .await
    .expect("browser");

    // The static catalog: relative links lead from page to page on disk.
    let catalog = work.join("catalog");
    site::write(Arc::new(s.eco.clone()), &catalog).expect("the catalog");
    let profile2 = profile.clone();
    let catalog2 = catalog.clone();
    let dataset_page = tokio::task::spawn_blocking(move || {
        let index = format!("file://{}", catalog2.join("index.html").display());
        let home = dom(&profile2, &index);
        let team = link(&home, "teams/");
        let team_page = dom(
            &profile2,
            &format!("file://{}", catalog2.join(&team).display()),
        );
        let store = link(&team_page, "../../stores/");
        let store_file = catalog2.join("teams/Z").join(&store);
        let store_page = dom(&profile2, &format!("file://{}", store_file.display()));
        let dataset = link(&store_page, "../datasets/");
        let dataset_file = catalog2.join("stores").join(&dataset);
        dom(&profile2, &format!("file://{}", dataset_file.display()))
    })
    .await
    .expect("browser");
    assert!(
        dataset_page.contains("<h1>Store1.people</h1>"),
        "{dataset_page}"
    );
    // Its search reads the index beside the pages, a part at a time, on disk too.
    let search = |query: &str| {
        let (profile, catalog) = (profile.clone(), catalog.clone());
        let url = format!("file://{}?q={query}", catalog.join("search.html").display());
        tokio::task::spawn_blocking(move || {
            browse(
                &profile,
                &url,
                &["--dump-dom", "--virtual-time-budget=5000"],
            )
        })
    };
    let found = search("peo").await.expect("browser");
    assert!(
        found.contains(r#"<a href="datasets/Store1/people.html">Store1.people</a>"#),
        "{found}"
    );
    let found = search("people%20store1").await.expect("browser");
    assert!(found.contains("1 found."), "{found}");
    let found = search("nobody").await.expect("browser");
    assert!(found.contains("Nothing matches"), "{found}");
    let _ = std::fs::remove_dir_all(&work);
}

/// Two more people after [`THREE_PEOPLE`], and one of the three changed.
const FIVE_PEOPLE_AFTER_THREE: &str = "UPDATE people SET employer = 'Initech' WHERE id = 1; \
    INSERT INTO people VALUES (4, 'Ana', 'Ruiz', '1985-04-04', 'Initech', NULL), \
    (5, 'Tom', 'Li', '1990-05-05', 'Globex', NULL)";
