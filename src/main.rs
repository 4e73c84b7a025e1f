use anyhow::Context;
use storefront::config::Settings;
use storefront::startup::{Application, Database, session_key};
use storefront::{seed, telemetry};

const USAGE: &str = "usage: storefront [serve | seed]

  serve   run the store (default)
  seed    load the sample catalog into the database (existing products are kept)

Configuration comes from environment variables; see README.md.";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let command = std::env::args().nth(1).unwrap_or_else(|| "serve".into());
    storefront::install_tls_provider();
    let settings = Settings::from_env()?;
    telemetry::init(settings.log_format, "info");
    match command.as_str() {
        "serve" => serve(settings).await,
        "seed" => {
            let database = Database::prepare(&settings).await?;
            let inserted = seed::load(&database.url).await?;
            println!("seed catalog loaded: {inserted} new products");
            if let Some(cluster) = database.cluster {
                cluster.stop().await?;
            }
            Ok(())
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
