//! Accessibility checks with axe-core, vendored from npm (see
//! vendor/README.md), run inside the page the browser is showing.

use std::fmt::Write as _;

use serde::Deserialize;

use crate::driver::{Browser, output_dir};

const AXE_SOURCE: &str = include_str!("vendor/axe.min.js");

/// Runs axe's default rules (WCAG 2.x A/AA and best practices) on the page and
/// hands back a plain summary of each violation.
const RUN_AXE: &str = r#"
const done = arguments[arguments.length - 1];
axe.run(document, { resultTypes: ["violations"] })
  .then((results) => done({
    violations: results.violations.map((v) => ({
      id: v.id,
      impact: v.impact || "unknown",
      help: v.help,
      nodes: v.nodes.map((n) => ({
        target: n.target.map(String).join(" "),
        html: n.html,
        summary: n.failureSummary || "",
      })),
    })),
  }))
  .catch((error) => done({ error: String(error) }));
"#;

#[derive(Debug, Deserialize)]
pub struct Violation {
    pub id: String,
    pub impact: String,
    pub help: String,
    pub nodes: Vec<Node>,
}

#[derive(Debug, Deserialize)]
pub struct Node {
    pub target: String,
    pub html: String,
    pub summary: String,
}

#[derive(Deserialize)]
struct Outcome {
    violations: Option<Vec<Violation>>,
    error: Option<String>,
}

impl Violation {
    pub fn is_blocking(&self) -> bool {
        matches!(self.impact.as_str(), "serious" | "critical")
    }
}

/// Every axe violation on the current page, also written to
/// `target/screenshots/axe-{name}.txt`.
pub async fn audit(browser: &Browser, name: &str) -> Vec<Violation> {
    // WebDriver scripts run even when the page's own JavaScript is off.
    let loaded = browser
        .client
        .execute(&format!("{AXE_SOURCE}\n;return typeof window.axe;"), vec![])
        .await
        .expect("loading axe-core into the page");
    assert_eq!(loaded, "object", "axe-core did not load");
    let outcome = browser
        .client
        .execute_async(RUN_AXE, vec![])
        .await
        .expect("running axe");
    let outcome: Outcome = serde_json::from_value(outcome).expect("axe results");
    if let Some(error) = outcome.error {
        panic!("axe failed on {name}: {error}");
    }
    let violations = outcome.violations.unwrap_or_default();
    let url = browser.url().await;
    let report = if violations.is_empty() {
        format!("{name} ({url}): no axe violations\n")
    } else {
        format!("{name} ({url}):\n{}", describe(&violations))
    };
    std::fs::write(output_dir().join(format!("axe-{name}.txt")), report).unwrap();
    violations
}

/// For pages that are not ours (the payment simulator): report, never fail.
pub async fn report(browser: &Browser, name: &str) -> Vec<Violation> {
    let violations = audit(browser, name).await;
    if !violations.is_empty() {
        eprintln!(
            "{name} (not our page, reported only):\n{}",
            describe(&violations)
        );
    }
    violations
}

pub fn describe(violations: &[Violation]) -> String {
    let mut out = String::new();
    for v in violations {
        let _ = writeln!(out, "- {} [{}]: {}", v.id, v.impact, v.help);
        for node in &v.nodes {
            let _ = writeln!(out, "    at {}  {}", node.target, node.html);
            for line in node.summary.lines() {
                let _ = writeln!(out, "      {line}");
            }
        }
    }
    out
}
