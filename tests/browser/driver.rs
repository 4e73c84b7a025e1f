//! Headless Chromium through Debian's chromedriver: one chromedriver per test
//! process, one browser (with a fresh profile) per test.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use futures_util::FutureExt;
use hyper_util::client::legacy::connect::HttpConnector;
use reqwest::Url;
use serde_json::{Value, json};
use tokio::sync::OnceCell;
use uuid::Uuid;

/// Where Debian's `chromium-driver` package installs chromedriver; the
/// `CHROMEDRIVER` environment variable overrides it.
const DEFAULT_CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// Where Debian's `chromium` package installs the browser; `CHROME` overrides it.
const DEFAULT_CHROME: &str = "/usr/bin/chromium";
const MISSING: &str = "the browser tests need Chromium and its WebDriver: install the Debian \
     packages `chromium` and `chromium-driver` (sudo apt-get install chromium chromium-driver), \
     or point CHROME and CHROMEDRIVER at other binaries";

/// How long one wait for the page (an element, a URL) may take.
pub const WAIT: Duration = Duration::from_secs(15);
/// The desktop viewport the tests browse with.
pub const DESKTOP: (u32, u32) = (1280, 900);

struct Driver {
    url: String,
    /// Per-process scratch space: browser profiles and chromedriver's log.
    root: PathBuf,
}

static DRIVER: OnceCell<Driver> = OnceCell::const_new();

fn program(env: &str, default: &str) -> PathBuf {
    let path = std::env::var_os(env)
        .map(PathBuf::from)
        .unwrap_or_else(|| default.into());
    assert!(path.is_file(), "{} not found: {MISSING}", path.display());
    path
}

/// Starts chromedriver on a free port the first time, and waits until it is ready.
async fn driver() -> &'static Driver {
    DRIVER
        .get_or_init(|| async {
            let chromedriver = program("CHROMEDRIVER", DEFAULT_CHROMEDRIVER);
            program("CHROME", DEFAULT_CHROME);
            let root = std::env::temp_dir()
                .join(format!("storefront-browser-{}", Uuid::new_v4().simple()));
            std::fs::create_dir_all(&root).unwrap();
            let port = storefront::db::cluster::free_port().unwrap();
            let log = root.join("chromedriver.log");
            let mut child = Command::new(&chromedriver)
                .arg(format!("--port={port}"))
                .arg(format!("--log-path={}", log.display()))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                // Its own process group, so that the watchdog can stop it and
                // everything it started in one go.
                .process_group(0)
                .spawn()
                .unwrap_or_else(|e| panic!("starting {}: {e}; {MISSING}", chromedriver.display()));
            stop_when_process_exits(child.id(), &root);
            let url = format!("http://127.0.0.1:{port}");
            let client = reqwest::Client::new();
            let deadline = Instant::now() + Duration::from_secs(20);
            loop {
                let status = client.get(format!("{url}/status")).send().await;
                if let Ok(response) = status
                    && let Ok(body) = response.json::<Value>().await
                    && body["value"]["ready"] == true
                {
                    break;
                }
                if let Ok(Some(exit)) = child.try_wait() {
                    panic!(
                        "chromedriver exited ({exit}) before it was ready; its log:\n{}",
                        std::fs::read_to_string(&log).unwrap_or_default()
                    );
                }
                assert!(
                    Instant::now() < deadline,
                    "chromedriver did not answer {url}/status within 20 s"
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Driver { url, root }
        })
        .await
}

/// Test binaries exit without running destructors for statics: a detached
/// watchdog stops chromedriver (and any browser left behind by a failed
/// test) and removes the profiles once this process is gone.
#[allow(
    clippy::zombie_processes,
    reason = "the watchdog outlives this process on purpose; init reaps it"
)]
fn stop_when_process_exits(chromedriver: u32, root: &Path) {
    let script = format!(
        "while kill -0 {me} 2>/dev/null; do sleep 1; done; \
         for pid in $(cat '{root}'/*.pid 2>/dev/null); do kill -9 $pid 2>/dev/null; done; \
         kill -TERM -{chromedriver} 2>/dev/null; sleep 1; kill -KILL -{chromedriver} 2>/dev/null; \
         rm -rf '{root}'",
        me = std::process::id(),
        root = root.display(),
    );
    Command::new("sh")
        .args(["-c", &script])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .expect("spawning the chromedriver watchdog");
}

/// Where screenshots and accessibility reports go: `target/screenshots/`
/// (under CARGO_TARGET_DIR when that is set).
pub fn output_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    let dir = target.join("screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum JavaScript {
    On,
    Off,
}

/// One headless Chromium with a fresh profile, driven like a shopper would.
pub struct Browser {
    pub client: Client,
    profile: PathBuf,
    pid_file: Option<PathBuf>,
}

/// Runs `journey` in a fresh browser and always closes the browser, even when
/// the journey fails (then after saving a screenshot of where it failed).
pub async fn with_browser(name: &str, javascript: JavaScript, journey: impl AsyncFnOnce(&Browser)) {
    let browser = Browser::start(javascript).await;
    let outcome = std::panic::AssertUnwindSafe(journey(&browser))
        .catch_unwind()
        .await;
    if outcome.is_err() {
        browser.save_failure(name).await;
    }
    browser.close().await;
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

impl Browser {
    pub async fn start(javascript: JavaScript) -> Browser {
        let driver = driver().await;
        let profile = driver
            .root
            .join(format!("profile-{}", Uuid::new_v4().simple()));
        let mut args = vec![
            "--headless".to_owned(),
            "--no-sandbox".to_owned(),
            "--disable-gpu".to_owned(),
            "--disable-quic".to_owned(),
            "--no-first-run".to_owned(),
            "--disable-background-networking".to_owned(),
            "--disable-component-update".to_owned(),
            "--disable-sync".to_owned(),
            "--disable-dev-shm-usage".to_owned(),
            "--hide-scrollbars".to_owned(),
            format!("--window-size={},{}", DESKTOP.0, DESKTOP.1),
            format!("--user-data-dir={}", profile.display()),
        ];
        let mut prefs = serde_json::Map::new();
        if javascript == JavaScript::Off {
            prefs.insert(
                "profile.managed_default_content_settings.javascript".into(),
                json!(2),
            );
            args.push("--blink-settings=scriptEnabled=false".into());
        }
        let mut options = json!({ "args": args, "prefs": prefs });
        if let Some(chrome) = std::env::var_os("CHROME") {
            options["binary"] = json!(chrome.to_string_lossy());
        }
        let mut capabilities = serde_json::Map::new();
        capabilities.insert("browserName".into(), json!("chrome"));
        capabilities.insert("goog:chromeOptions".into(), options);
        let client = ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities)
            .connect(&driver.url)
            .await
            .unwrap_or_else(|e| panic!("starting a Chromium session: {e}; {MISSING}"));
        // Remember the browser's pid so the watchdog can stop it if this
        // process dies before closing the session.
        let pid_file = client
            .session_id()
            .await
            .ok()
            .flatten()
            .zip(browser_pid(&client))
            .map(|(session, pid)| {
                let file = driver.root.join(format!("{session}.pid"));
                std::fs::write(&file, pid.to_string()).unwrap();
                file
            });
        let browser = Browser {
            client,
            profile,
            pid_file,
        };
        browser.set_viewport(DESKTOP.0, DESKTOP.1).await;
        browser
    }

    pub async fn close(self) {
        let _ = self.client.close().await;
        if let Some(file) = &self.pid_file {
            let _ = std::fs::remove_file(file);
        }
        let _ = std::fs::remove_dir_all(&self.profile);
    }

    async fn save_failure(&self, name: &str) {
        let dir = output_dir().join("failures");
        std::fs::create_dir_all(&dir).unwrap();
        if let Ok(png) = self.client.screenshot().await {
            let _ = std::fs::write(dir.join(format!("{name}.png")), png);
        }
        if let Ok(html) = self.client.source().await {
            let _ = std::fs::write(dir.join(format!("{name}.html")), html);
        }
        if let Ok(url) = self.client.current_url().await {
            eprintln!(
                "{name}: failed on {url}; screenshot and page in {}",
                dir.display()
            );
        }
    }

    /// Sizes the window so that the page's viewport is `width` × `height` CSS px.
    pub async fn set_viewport(&self, width: u32, height: u32) {
        self.client.set_window_size(width, height).await.unwrap();
        let mut inner: [u32; 2] = self
            .eval("return [window.innerWidth, window.innerHeight];")
            .await;
        if inner != [width, height] {
            // Headless Chromium may count some window chrome in the window size.
            let grow = |wanted: u32, got: u32| (2 * i64::from(wanted) - i64::from(got)).max(1);
            let outer_width = u32::try_from(grow(width, inner[0])).unwrap();
            let outer_height = u32::try_from(grow(height, inner[1])).unwrap();
            self.client
                .set_window_size(outer_width, outer_height)
                .await
                .unwrap();
            inner = self
                .eval("return [window.innerWidth, window.innerHeight];")
                .await;
        }
        assert_eq!(
            inner[0], width,
            "Chromium would not size its viewport to {width} px wide"
        );
    }

    /// Runs a script (WebDriver works with page JavaScript disabled too) and
    /// decodes its result.
    pub async fn eval<T: serde::de::DeserializeOwned>(&self, script: &str) -> T {
        let value = self.client.execute(script, vec![]).await.unwrap();
        serde_json::from_value(value).unwrap()
    }

    pub async fn goto(&self, url: &str) {
        self.client.goto(url).await.unwrap();
    }

    /// The current URL.
    pub async fn url(&self) -> Url {
        self.client.current_url().await.unwrap()
    }

    /// Waits until the URL satisfies `check`, and returns it.
    pub async fn wait_for_url(&self, what: &str, check: impl Fn(&Url) -> bool) -> Url {
        let deadline = Instant::now() + WAIT;
        loop {
            let url = self.url().await;
            if check(&url) {
                return url;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; the browser is at {url}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until the page's path (with query) starts with `prefix`.
    pub async fn wait_for_path(&self, prefix: &str) -> String {
        let url = self
            .wait_for_url(&format!("a page under {prefix}"), |url| {
                url.path().starts_with(prefix)
            })
            .await;
        url.path().to_owned()
    }

    /// The first element matching a CSS selector, waiting for it to appear.
    pub async fn find(&self, css: &str) -> Element {
        match self
            .client
            .wait()
            .at_most(WAIT)
            .for_element(Locator::Css(css))
            .await
        {
            Ok(element) => element,
            Err(e) => panic!("no element matches {css:?} on {}: {e}", self.url().await),
        }
    }

    /// Every element matching a CSS selector, without waiting.
    pub async fn find_all(&self, css: &str) -> Vec<Element> {
        self.client.find_all(Locator::Css(css)).await.unwrap()
    }

    /// The visible text of the first element matching `css`, whitespace-collapsed.
    pub async fn text(&self, css: &str) -> String {
        collapse(&self.find(css).await.text().await.unwrap())
    }

    /// The visible texts of every element matching `css`. Read again should
    /// the page replace them while they are read (a navigation finishing).
    pub async fn texts(&self, css: &str) -> Vec<String> {
        'read: for _ in 0..20 {
            let mut texts = Vec::new();
            for element in self.find_all(css).await {
                match element.text().await {
                    Ok(text) => texts.push(collapse(&text)),
                    Err(error) if is_stale(&error) => {
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue 'read;
                    }
                    Err(error) => panic!("reading {css}: {error}"),
                }
            }
            return texts;
        }
        panic!("{css} kept changing while it was read");
    }

    /// The whole page's visible text.
    pub async fn page_text(&self) -> String {
        self.text("body").await
    }

    /// Clicks a link by its visible text.
    pub async fn click_link(&self, text: &str) {
        let link = self
            .client
            .wait()
            .at_most(WAIT)
            .for_element(Locator::LinkText(text))
            .await
            .unwrap_or_else(|e| panic!("no link {text:?}: {e}"));
        link.click().await.unwrap();
    }

    /// Clicks the button with this visible text.
    pub async fn click_button(&self, text: &str) {
        self.button(text).await.click().await.unwrap();
    }

    pub async fn button(&self, text: &str) -> Element {
        let xpath = format!("//button[normalize-space(.)={}]", xpath_literal(text));
        self.client
            .wait()
            .at_most(WAIT)
            .for_element(Locator::XPath(&xpath))
            .await
            .unwrap_or_else(|e| panic!("no button {text:?}: {e}"))
    }

    /// Replaces a field's value by typing, as a person would.
    pub async fn fill(&self, css: &str, value: &str) {
        let field = self.find(css).await;
        field.clear().await.unwrap();
        field.send_keys(value).await.unwrap();
    }

    /// The input's current value.
    pub async fn value(&self, css: &str) -> String {
        self.find(css)
            .await
            .prop("value")
            .await
            .unwrap()
            .unwrap_or_default()
    }

    /// Whether the page's own scripts can run (checked on a page of our own
    /// making, not the shop's, which has no scripts).
    pub async fn scripts_run(&self) -> bool {
        self.goto(
            "data:text/html,<title>js</title><p id=probe>off</p>\
             <script>document.getElementById('probe').textContent='on'</script>",
        )
        .await;
        self.text("#probe").await == "on"
    }

    /// Saves full-page screenshots at desktop (1280 px) and phone (390 px)
    /// widths as `{name}-1280.png` and `{name}-390.png`.
    pub async fn screenshots(&self, name: &str) {
        for width in [1280, 390] {
            self.screenshot_at(name, width).await;
        }
        self.set_viewport(DESKTOP.0, DESKTOP.1).await;
    }

    pub async fn screenshot_at(&self, name: &str, width: u32) {
        self.set_viewport(width, DESKTOP.1).await;
        let height: u32 = self
            .eval("return Math.ceil(document.documentElement.scrollHeight);")
            .await;
        // A page shorter than the viewport keeps the viewport's height.
        self.set_viewport(width, height.clamp(DESKTOP.1, 8000))
            .await;
        let png = self.client.screenshot().await.unwrap();
        assert!(png.starts_with(b"\x89PNG"), "a PNG screenshot");
        let path = output_dir().join(format!("{name}-{width}.png"));
        std::fs::write(&path, png).unwrap();
        // A layout wider than the phone's screen means sideways scrolling.
        let scroll_width: u32 = self
            .eval("return document.documentElement.scrollWidth;")
            .await;
        assert!(
            scroll_width <= width,
            "{name} at {width} px is {scroll_width} px wide: it scrolls sideways"
        );
    }
}

/// The browser process behind a session, from the capabilities chromedriver
/// answered the new session with.
fn browser_pid(client: &Client) -> Option<u64> {
    client.capabilities()?.get("goog:processID")?.as_u64()
}

fn collapse(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `text` as an XPath string literal.
fn xpath_literal(text: &str) -> String {
    if !text.contains('\'') {
        format!("'{text}'")
    } else if !text.contains('"') {
        format!("\"{text}\"")
    } else {
        let parts: Vec<String> = text.split('\'').map(|p| format!("'{p}'")).collect();
        format!("concat({})", parts.join(", \"'\", "))
    }
}

/// The element was replaced by the page (a navigation finishing) while read.
fn is_stale(error: &fantoccini::error::CmdError) -> bool {
    matches!(error, fantoccini::error::CmdError::Standard(e)
        if e.error == fantoccini::error::ErrorStatus::StaleElementReference)
}
