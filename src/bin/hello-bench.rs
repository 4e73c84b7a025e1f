//! The baseline for `tests/bench/load.sh`: the smallest actix-web server,
//! answering "hello" to `GET /` on `BIND` (default 127.0.0.1:8081), with
//! actix-web's default worker count (one per core), no middleware, no
//! database and no logging.

use actix_web::{App, HttpServer, web};

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let bind = std::env::var("BIND").unwrap_or_else(|_| "127.0.0.1:8081".into());
    HttpServer::new(|| App::new().route("/", web::get().to(async || "hello")))
        .bind(&bind)?
        .run()
        .await
}
