//! The layering rules, checked on the source text (ARCHITECTURE.md):
//! only the HTTP layer names the app state, domain files hold no queries
//! and no HTTP, store files no HTTP, every source file says what it is for,
//! and none grows past 600 lines.

use std::path::{Path, PathBuf};

/// Every `.rs` file under `dir`, recursively.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|ext| ext == "rs") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The crate's source files, as paths relative to `src/` and their text.
fn sources() -> Vec<(String, String)> {
    let src = root().join("src");
    rust_files(&src)
        .into_iter()
        .map(|path| {
            let relative = path
                .strip_prefix(&src)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            (relative, std::fs::read_to_string(&path).unwrap())
        })
        .collect()
}

/// A file of the HTTP layer: a feature's `http.rs` or `http/`, the route
/// table, the server, and the state itself.
fn is_http_layer(path: &str) -> bool {
    let in_http = path.ends_with("/http.rs") || path.contains("/http/");
    in_http || ["routes.rs", "server.rs", "state.rs"].contains(&path)
}

/// Whether `text` uses `word` as an identifier (not inside a longer one).
fn names(text: &str, word: &str) -> bool {
    text.match_indices(word).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + word.len()..].chars().next();
        let ident = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
        !ident(before) && !ident(after)
    })
}

#[test]
fn only_the_http_layer_names_the_app_state() {
    let offenders: Vec<String> = sources()
        .into_iter()
        .filter(|(path, text)| !is_http_layer(path) && names(text, "AppState"))
        .map(|(path, _)| path)
        .collect();
    assert!(
        offenders.is_empty(),
        "these files name AppState but are not HTTP handlers, the route table or the server: \
         pass them what they use instead: {offenders:?}"
    );
}

#[test]
fn domain_files_hold_no_queries_and_no_http_and_stores_no_http() {
    let http = ["actix_web", "askama", "crate::web", "HttpResponse"];
    let queries = [
        "RunQueryDsl",
        "AsyncPgConnection",
        "Statement::new",
        "sql_query",
    ];
    let mut offenders = Vec::new();
    for (path, text) in sources() {
        // A layer is a file (`store.rs`) or a folder of files (`store/`).
        let in_layer = |name: &str| {
            path.ends_with(&format!("/{name}.rs")) || path.contains(&format!("/{name}/"))
        };
        let forbidden: Vec<&str> = if in_layer("domain") {
            http.iter().chain(queries.iter()).copied().collect()
        } else if in_layer("store") {
            http.to_vec()
        } else {
            continue;
        };
        for word in forbidden {
            if text.contains(word) {
                offenders.push(format!("{path} uses {word}"));
            }
        }
    }
    assert!(offenders.is_empty(), "{offenders:#?}");
}

/// Every Rust file of the workspace: the crate, its tests, the simulator.
fn workspace_files() -> Vec<PathBuf> {
    ["src", "tests", "stripe-sim/src", "stripe-sim/tests"]
        .iter()
        .flat_map(|dir| rust_files(&root().join(dir)))
        .collect()
}

#[test]
fn every_source_file_says_what_it_is_for_and_stays_short() {
    let mut offenders = Vec::new();
    for path in workspace_files() {
        let text = std::fs::read_to_string(&path).unwrap();
        let name = path.strip_prefix(root()).unwrap().display().to_string();
        // The generated schema says where it comes from instead.
        let generated = text.starts_with("// @generated");
        if !text.starts_with("//!") && !generated {
            offenders.push(format!("{name}: no //! line at the top"));
        }
        let lines = text.lines().count();
        if lines > 600 {
            offenders.push(format!("{name}: {lines} lines"));
        }
    }
    assert!(offenders.is_empty(), "{offenders:#?}");
}
