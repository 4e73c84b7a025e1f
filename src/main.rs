//! The `storefront` command: serves the store, or runs one of the
//! operator's commands (seed, API keys).

use anyhow::Context;
use storefront::config::Settings;
use storefront::payments_api::keys as api_keys;
use storefront::server::{Application, Database, session_key};
use storefront::{seed, telemetry};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const USAGE: &str = "usage: storefront [serve | migrate | seed | api-key ...]

  serve                        run the store (default)
  migrate                      run pending database migrations, then exit
  seed                         load the sample catalog into the database (existing products are kept)
  seed --products N            and N generated products (deterministic, in collections; for demos and benchmarks)
  api-key create --name NAME   create a payments API key and print it (shown only once)
  api-key list                 list API keys (prefix, name, created, last used, revoked)
  api-key revoke ID|PREFIX     revoke a key

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
