//! TLS to PostgreSQL: a cluster of its own that accepts only TLS (`ssl = on`,
//! `hostssl` lines only), with a CA and a server certificate for `localhost`
//! made by the openssl command; libpq's sslmodes against it.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Bool, Text};
use diesel_async::RunQueryDsl;
use storefront::config::Secret;
use storefront::db::cluster::{Durability, LocalCluster};
use storefront::{db, seed};
use tokio::sync::OnceCell;
use uuid::Uuid;

use crate::helpers::{cluster, spawn_with_vars};
use crate::start_together::{migrations_applied, migrations_in_crate, storefront_cli};

struct TlsCluster {
    cluster: LocalCluster,
    /// The CA that signed the server's certificate, and one that did not.
    ca: PathBuf,
    other_ca: PathBuf,
}

impl TlsCluster {
    /// `database` reached by `host` (the certificate is for `localhost`,
    /// not for `127.0.0.1`), with URL parameters.
    fn url(&self, database: &str, host: &str, params: &str) -> Secret {
        let url = self
            .cluster
            .url(database)
            .expose()
            .replace("@127.0.0.1:", &format!("@{host}:"));
        Secret::new(format!("{url}?{params}"))
    }

    fn verify_full(&self, database: &str, host: &str, ca: &Path) -> Secret {
        self.url(
            database,
            host,
            &format!("sslmode=verify-full&sslrootcert={}", ca.display()),
        )
    }
}

static TLS_CLUSTER: OnceCell<TlsCluster> = OnceCell::const_new();

async fn tls_cluster() -> &'static TlsCluster {
    TLS_CLUSTER
        .get_or_init(|| async {
            let dir =
                std::env::temp_dir().join(format!("storefront-tls-{}", Uuid::new_v4().simple()));
            let cluster = LocalCluster::start(&dir, Durability::Ephemeral)
                .await
                .unwrap();
            let data = cluster.data_dir().to_owned();
            // Inside the data directory, so the cluster's clean-up removes them.
            let certs = data.join("test-certificates");
            std::fs::create_dir_all(&certs).unwrap();
            make_certificates(&certs);
            for file in ["server.crt", "server.key"] {
                std::fs::copy(certs.join(file), data.join(file)).unwrap();
            }
            // PostgreSQL wants its key private to the user it runs as.
            let key = data.join("server.key");
            std::fs::set_permissions(&key, std::os::unix::fs::PermissionsExt::from_mode(0o600))
                .unwrap();
            if is_root() {
                run(Command::new("chown")
                    .arg("postgres:")
                    .arg(&key)
                    .arg(data.join("server.crt")));
            }
            append(&data.join("postgresql.conf"), "\nssl = on\n");
            std::fs::write(
                data.join("pg_hba.conf"),
                "# TLS only, as managed PostgreSQL services require.\n\
                 hostssl all all 127.0.0.1/32 scram-sha-256\n",
            )
            .unwrap();
            cluster.restart().await.unwrap();
            TlsCluster {
                cluster,
                ca: certs.join("ca.crt"),
                other_ca: certs.join("other-ca.crt"),
            }
        })
        .await
}

/// A CA, another CA, and a server certificate for `localhost` signed by the first.
fn make_certificates(dir: &Path) {
    let openssl = |args: &str| {
        run(Command::new("openssl")
            .current_dir(dir)
            .args(args.split_whitespace()))
    };
    let ec = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
    for (name, subject) in [
        ("ca", "Storefront-test-CA"),
        ("other-ca", "Unknown-test-CA"),
    ] {
        openssl(&format!(
            "req -x509 -new {ec} -keyout {name}.key -out {name}.crt -days 2 -subj /CN={subject} \
             -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign"
        ));
    }
    openssl(&format!(
        "req -new {ec} -keyout server.key -out server.csr -subj /CN=localhost"
    ));
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=DNS:localhost\nbasicConstraints=critical,CA:FALSE\n\
         keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(
        "x509 -req -in server.csr -CA ca.crt -CAkey ca.key -set_serial 2 -days 2 \
         -out server.crt -extfile server.ext",
    );
}

fn run(command: &mut Command) {
    let output = command
        .output()
        .expect("running a command (is openssl installed?)");
    assert!(
        output.status.success(),
        "{command:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

fn append(path: &Path, text: &str) {
    use std::io::Write;
    std::fs::OpenOptions::new()
        .append(true)
        .open(path)
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
}

fn is_root() -> bool {
    std::os::unix::fs::MetadataExt::uid(&std::fs::metadata("/proc/self").unwrap()) == 0
}

#[derive(QueryableByName)]
struct Ssl {
    #[diesel(sql_type = Bool)]
    ssl: bool,
}

/// Connects, then asks the server whether this connection is encrypted.
async fn over_tls(url: &Secret) -> bool {
    let mut conn = db::connect(url).await.unwrap_or_else(|e| panic!("{e:#}"));
    let row: Ssl = diesel::sql_query("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
        .get_result(&mut conn)
        .await
        .unwrap();
    row.ssl
}

/// The whole error chain of a connection that must fail.
async fn refusal(url: &Secret) -> String {
    match db::connect(url).await {
        Ok(_) => panic!("connected, but should have been refused"),
        Err(e) => format!("{e:#}"),
    }
}

#[tokio::test]
async fn require_verify_full_and_the_default_connect_over_tls() {
    let tls = tls_cluster().await;
    assert!(over_tls(&tls.url("postgres", "127.0.0.1", "sslmode=require")).await);
    assert!(over_tls(&tls.verify_full("postgres", "localhost", &tls.ca)).await);
    // verify-ca checks the chain only, so the address is fine.
    let verify_ca = format!("sslmode=verify-ca&sslrootcert={}", tls.ca.display());
    assert!(over_tls(&tls.url("postgres", "127.0.0.1", &verify_ca)).await);
    // The default, prefer, takes TLS when the server offers it.
    assert!(over_tls(&tls.url("postgres", "127.0.0.1", "application_name=default")).await);
}

#[tokio::test]
async fn verify_full_refuses_a_certificate_for_another_host() {
    let tls = tls_cluster().await;
    let error = refusal(&tls.verify_full("postgres", "127.0.0.1", &tls.ca)).await;
    assert!(
        error.contains("the server's certificate is not valid for host 127.0.0.1"),
        "{error}"
    );
}

#[tokio::test]
async fn verify_full_refuses_a_certificate_from_an_unknown_ca() {
    let tls = tls_cluster().await;
    let error = refusal(&tls.verify_full("postgres", "localhost", &tls.other_ca)).await;
    let expected = format!(
        "the server's certificate is not signed by a trusted CA (sslrootcert={})",
        tls.other_ca.display()
    );
    assert!(error.contains(&expected), "{error}");

    // Nor does the system's store know the test CA.
    let error = refusal(&tls.url("postgres", "localhost", "sslrootcert=system")).await;
    assert!(
        error.contains("not signed by a trusted CA (sslrootcert=system"),
        "{error}"
    );
}

#[tokio::test]
async fn require_with_a_ca_file_checks_the_chain_as_libpq_does() {
    let tls = tls_cluster().await;
    let with = |ca: &Path| format!("sslmode=require&sslrootcert={}", ca.display());
    assert!(over_tls(&tls.url("postgres", "127.0.0.1", &with(&tls.ca))).await);
    let error = refusal(&tls.url("postgres", "127.0.0.1", &with(&tls.other_ca))).await;
    assert!(error.contains("not signed by a trusted CA"), "{error}");
}

#[tokio::test]
async fn a_plain_connection_to_a_tls_only_server_is_refused_with_the_sslmode_hint() {
    let tls = tls_cluster().await;
    let url = tls.url("postgres", "127.0.0.1", "sslmode=disable");
    let error = refusal(&url).await;
    assert!(
        error.starts_with(
            "the server requires TLS: set sslmode=require (or verify-full) in DATABASE_URL"
        ),
        "{error}"
    );
    assert!(error.contains("no encryption"), "{error}");
    let password = tls
        .cluster
        .url("postgres")
        .expose()
        .split(['@', ':'])
        .nth(2)
        .unwrap()
        .to_owned();
    assert!(
        !error.contains(&password),
        "the password is never shown: {error}"
    );
}

#[tokio::test]
async fn require_against_a_server_without_tls_says_so() {
    // The other tests' cluster has ssl off.
    let url = Secret::new(format!(
        "{}?sslmode=require",
        cluster().await.url("postgres").expose()
    ));
    let error = refusal(&url).await;
    assert!(
        error.contains("does not support TLS, which sslmode=require requires"),
        "{error}"
    );
}

#[derive(QueryableByName)]
struct Backends {
    #[diesel(sql_type = BigInt)]
    listening: i64,
    #[diesel(sql_type = BigInt)]
    plain: i64,
}

#[tokio::test]
async fn the_app_migrates_and_serves_on_a_tls_only_server() {
    let tls = tls_cluster().await;
    let name = format!("app_{}", Uuid::new_v4().simple());
    let admin = tls.url("postgres", "127.0.0.1", "sslmode=require");
    db::create_database(&admin, &name, None).await.unwrap();
    let db_url = tls.verify_full(&name, "localhost", &tls.ca);

    // The binary's own connections: migrations, then the api-key command.
    let migrate = storefront_cli(&db_url)
        .arg("migrate")
        .output()
        .await
        .unwrap();
    assert!(
        migrate.status.success(),
        "{}",
        String::from_utf8_lossy(&migrate.stdout)
    );
    assert_eq!(migrations_applied(&db_url).await, migrations_in_crate());
    let key = storefront_cli(&db_url)
        .args(["api-key", "create", "--name", "tls"])
        .output()
        .await
        .unwrap();
    assert!(
        key.status.success(),
        "{}",
        String::from_utf8_lossy(&key.stdout)
    );
    assert!(String::from_utf8_lossy(&key.stdout).contains("sk_store_"));
    seed::load(&db_url).await.unwrap();

    // The app: its pools and its catalog listener.
    let app = spawn_with_vars(vec![("DATABASE_URL".into(), db_url.expose().into())]).await;
    let (status, page) = app.get_page("/").await;
    assert!(status.is_success(), "{status}");
    assert!(page.contains("Aurora Ceramic Mug"));
    let mut conn = db::connect(&db_url).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let backends: Backends = diesel::sql_query(
            "SELECT count(*) FILTER (WHERE a.query = 'LISTEN catalog_changed') AS listening, \
                    count(*) FILTER (WHERE NOT s.ssl) AS plain \
             FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid) WHERE a.datname = $1",
        )
        .bind::<Text, _>(&name)
        .get_result(&mut conn)
        .await
        .unwrap();
        assert_eq!(backends.plain, 0);
        if backends.listening == 1 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the catalog listener never connected"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
