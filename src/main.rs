//! The `storefront` command: serves the store, or runs one of the
//! operator's commands (seed, API keys, staff accounts).

use std::io::{BufRead, IsTerminal};

use anyhow::Context;
use storefront::admin::auth::accounts as staff;
use storefront::config::Settings;
use storefront::payments_api::keys as api_keys;
use storefront::server::{Application, Database, session_key};
use storefront::{seed, telemetry};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const USAGE: &str = "usage: storefront [serve | migrate | seed | api-key ... | admin ...]

  serve                        run the store (default)
  migrate                      run pending database migrations, then exit
  seed                         load the sample catalog into the database (existing products are kept)
  seed --products N            and N generated products (deterministic, in collections; for demos and benchmarks)
  api-key create --name NAME   create a payments API key and print it (shown only once)
  api-key list                 list API keys (prefix, name, created, last used, revoked)
  api-key revoke ID|PREFIX     revoke a key
  admin create --email EMAIL   create a back-office account (password from stdin,
                               or asked twice, hidden, at a terminal)
  admin list                   list back-office accounts
  admin disable EMAIL          disable an account and end its sessions
  admin reset-password EMAIL   set a new password (from stdin, or asked twice)

Configuration comes from environment variables; see README.md.";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let command = std::env::args().nth(1).unwrap_or_else(|| "serve".into());
    storefront::install_tls_provider();
    let settings = Settings::from_env()?;
    telemetry::init(settings.log_format, "info");
    match command.as_str() {
        "serve" => serve(settings).await,
        "migrate" => {
            // Preparing the database runs the pending migrations.
            let database = Database::prepare(&settings).await?;
            println!("database migrations are up to date");
            if let Some(cluster) = database.cluster {
                cluster.stop().await?;
            }
            Ok(())
        }
        "seed" => {
            let args: Vec<String> = std::env::args().skip(2).collect();
            let generated = match args.as_slice() {
                [] => None,
                [flag, count] if flag == "--products" => match count.parse::<u64>() {
                    Ok(count) if count <= 10_000_000 => Some(count),
                    _ => {
                        eprintln!(
                            "--products takes a number of products up to 10000000\n\n{USAGE}"
                        );
                        std::process::exit(2);
                    }
                },
                _ => {
                    eprintln!("{USAGE}");
                    std::process::exit(2);
                }
            };
            let database = Database::prepare(&settings).await?;
            let inserted = match generated {
                None => seed::load(&database.url).await?,
                Some(count) => seed::load_generated(&database.url, count).await?,
            };
            println!("seed catalog loaded: {inserted} new products");
            if let Some(cluster) = database.cluster {
                cluster.stop().await?;
            }
            Ok(())
        }
        "api-key" => {
            let args: Vec<String> = std::env::args().skip(2).collect();
            api_key(settings, &args).await
        }
        "admin" => {
            let args: Vec<String> = std::env::args().skip(2).collect();
            admin(settings, &args).await
        }
        "-h" | "--help" | "help" => {
            println!("{USAGE}");
            Ok(())
        }
        other => {
            eprintln!("unknown command {other:?}\n\n{USAGE}");
            std::process::exit(2);
        }
    }
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    let database = Database::prepare(&settings).await?;
    let result = async {
        let app = Application::build(&settings, &database.url, session_key(&settings)?).await?;
        tracing::info!(url = %app.base_url(), "Storefront is serving");
        app.run_until_stopped().await.context("running the server")
    }
    .await;
    if let Some(cluster) = &database.cluster {
        cluster.stop().await?;
    }
    result
}

/// `api-key create --name NAME | list | revoke ID|PREFIX`.
async fn api_key(settings: Settings, args: &[String]) -> anyhow::Result<()> {
    let usage = || -> anyhow::Result<()> {
        eprintln!("{USAGE}");
        std::process::exit(2)
    };
    let name = match args.first().map(String::as_str) {
        Some("create") => {
            let name = match args.get(1).map(String::as_str) {
                Some("--name") => args.get(2).cloned(),
                Some(other) => other.strip_prefix("--name=").map(str::to_owned),
                None => None,
            };
            match name {
                Some(name) => Some(name),
                None => return usage(),
            }
        }
        Some("list") | Some("revoke") => None,
        _ => return usage(),
    };
    let revoke = match args.first().map(String::as_str) {
        Some("revoke") => match args.get(1) {
            Some(target) => Some(target.clone()),
            None => return usage(),
        },
        _ => None,
    };
    let database = Database::prepare(&settings).await?;
    let result = async {
        let mut conn = storefront::db::connect(&database.url)
            .await
            .context("connecting to the database")?;
        if let Some(name) = name {
            let key = api_keys::create_key(&mut conn, &name).await?;
            eprintln!("Created API key {name:?}. Store it now: it is not shown again.");
            println!("{key}");
        } else if let Some(target) = revoke {
            let revoked = api_keys::revoke_key(&mut conn, &target).await?;
            anyhow::ensure!(revoked > 0, "no active key {target:?}");
            println!("revoked {revoked} key(s)");
        } else {
            for (id, name, prefix, created, last_used, revoked) in
                api_keys::list_keys(&mut conn).await?
            {
                let last_used = last_used.map_or("never".to_owned(), |t| t.to_rfc3339());
                let state = revoked.map_or("active".to_owned(), |t| {
                    format!("revoked {}", t.to_rfc3339())
                });
                println!(
                    "{id}\t{prefix}…\t{name}\tcreated {}\tlast used {last_used}\t{state}",
                    created.to_rfc3339()
                );
            }
        }
        Ok::<_, anyhow::Error>(())
    }
    .await;
    if let Some(cluster) = database.cluster {
        cluster.stop().await?;
    }
    result
}

/// `admin create --email EMAIL | list | disable EMAIL | reset-password EMAIL`.
/// Works while the store runs: the same database (DATA_DIR or DATABASE_URL).
async fn admin(settings: Settings, args: &[String]) -> anyhow::Result<()> {
    let words: Vec<&str> = args.iter().map(String::as_str).collect();
    let (command, email) = match words.as_slice() {
        ["create", "--email", email] => ("create", Some(*email)),
        ["create", flag] if flag.starts_with("--email=") => {
            ("create", flag.strip_prefix("--email="))
        }
        ["list"] => ("list", None),
        ["disable", email] => ("disable", Some(*email)),
        ["reset-password", email] => ("reset-password", Some(*email)),
        _ => {
            eprintln!("{USAGE}");
            std::process::exit(2)
        }
    };
    // Ask for the password before anything starts, so that a mistyped
    // confirmation costs nothing.
    let password = match command {
        "create" | "reset-password" => Some(read_password()?),
        _ => None,
    };
    let database = Database::prepare(&settings).await?;
    let result = async {
        let mut conn = storefront::db::connect(&database.url)
            .await
            .context("connecting to the database")?;
        let email = email.unwrap_or_default();
        match (command, password) {
            ("create", Some(password)) => {
                staff::create(&mut conn, email, password).await?;
                println!("created back-office account {email}; sign in at /admin/login");
            }
            ("reset-password", Some(password)) => {
                staff::reset_password(&mut conn, email, password).await?;
                println!("new password set for {email}; its sessions have ended");
            }
            ("disable", _) => {
                staff::disable(&mut conn, email).await?;
                println!("disabled {email}; its sessions have ended");
            }
            _ => {
                for member in staff::list(&mut conn).await? {
                    let last = member
                        .last_sign_in_at
                        .map_or("never".to_owned(), |t| t.to_rfc3339());
                    let state = member.disabled_at.map_or("active".to_owned(), |t| {
                        format!("disabled {}", t.to_rfc3339())
                    });
                    println!(
                        "{}\t{}\tcreated {}\tlast sign-in {last}\t{state}",
                        member.id,
                        member.email,
                        member.created_at.to_rfc3339()
                    );
                }
            }
        }
        Ok::<_, anyhow::Error>(())
    }
    .await;
    if let Some(cluster) = database.cluster {
        cluster.stop().await?;
    }
    result
}

/// The new password: typed twice, hidden, at a terminal; else the first
/// line of standard input (for scripts: `printf '%s\n' "$PASSWORD" | ...`).
fn read_password() -> anyhow::Result<String> {
    if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("New password: ")?;
        let second = rpassword::prompt_password("Repeat it: ")?;
        anyhow::ensure!(
            first == second,
            "the two passwords differ; nothing was changed"
        );
        Ok(first)
    } else {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("reading the password from standard input")?;
        let password = line.trim_end_matches(['\n', '\r']).to_owned();
        anyhow::ensure!(!password.is_empty(), "no password on standard input");
        Ok(password)
    }
}
