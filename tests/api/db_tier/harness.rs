//! The database tier of a multi-node test: a primary PostgreSQL cluster of
//! its own, a hot standby streaming from it, and Debian's PgBouncer in front
//! of the primary, all on loopback ports and removed at the end.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use diesel::QueryableByName;
use diesel::sql_types::{Bool, Text};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};
use storefront::config::Secret;
use storefront::db::cluster::{Durability, LocalCluster, SUPERUSER, free_port};
use storefront::{db, seed};

const DATABASE: &str = "storefront";
/// The user the servers, and PgBouncer, run as when we are root.
const SERVER_USER: &str = "postgres";

pub struct DbTier {
    primary: LocalCluster,
    pub standby: LocalCluster,
    pgbouncer: tokio::process::Child,
    pgbouncer_port: u16,
    dir: PathBuf,
}

#[derive(QueryableByName)]
struct CaughtUp {
    #[diesel(sql_type = Bool)]
    caught_up: bool,
}

#[derive(QueryableByName)]
struct Lsn {
    #[diesel(sql_type = Text)]
    lsn: String,
}

impl DbTier {
    /// A migrated, seeded primary, a standby of it and PgBouncer in front.
    pub async fn start() -> DbTier {
        let dir =
            std::env::temp_dir().join(format!("storefront-tier-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let primary = LocalCluster::start(&dir.join("primary"), Durability::Ephemeral)
            .await
            .expect("starting the primary");
        // Commits wait for their WAL to be written, as in production: the
        // standby receives only written WAL, so what a client was answered
        // for is on its way to the standby at once.
        let mut admin = AsyncPgConnection::establish(primary.url("postgres").expose())
            .await
            .unwrap();
        for sql in [
            "ALTER SYSTEM SET synchronous_commit = on",
            "SELECT pg_reload_conf()",
        ] {
            admin.batch_execute(sql).await.unwrap();
        }
        db::create_database(&primary.url("postgres"), DATABASE, None)
            .await
            .unwrap();
        db::run_migrations(&primary.url(DATABASE)).await.unwrap();
        seed::load(&primary.url(DATABASE)).await.unwrap();
        let standby = primary
            .start_standby(&dir.join("standby"), Durability::Ephemeral)
            .await
            .expect("starting the standby");
        let (pgbouncer, pgbouncer_port) = start_pgbouncer(&dir.join("pgbouncer"), &primary).await;
        DbTier {
            primary,
            standby,
            pgbouncer,
            pgbouncer_port,
            dir,
        }
    }

    /// The primary's database, direct.
    pub fn primary_url(&self) -> Secret {
        self.primary.url(DATABASE)
    }

    /// The primary's database through PgBouncer: what the nodes use.
    pub fn pooled_url(&self) -> Secret {
        self.primary.url_via(self.pgbouncer_port, DATABASE)
    }

    pub fn standby_url(&self) -> Secret {
        self.standby.url(DATABASE)
    }

    /// Replay on the standby held back by `delay` (`recovery_min_apply_delay`),
    /// as a loaded or distant standby would be.
    pub async fn delay_standby(&self, delay: &str) {
        let mut conn = AsyncPgConnection::establish(self.standby.url("postgres").expose())
            .await
            .unwrap();
        let set = format!("ALTER SYSTEM SET recovery_min_apply_delay = '{delay}'");
        for sql in [set.as_str(), "SELECT pg_reload_conf()"] {
            conn.batch_execute(sql).await.unwrap();
        }
    }

    /// Until the standby has replayed all that the primary has written.
    pub async fn wait_for_standby(&self) {
        let mut primary = AsyncPgConnection::establish(self.primary.url(DATABASE).expose())
            .await
            .unwrap();
        let target: Lsn = diesel::sql_query("SELECT pg_current_wal_insert_lsn()::text AS lsn")
            .get_result(&mut primary)
            .await
            .unwrap();
        let mut standby = AsyncPgConnection::establish(self.standby_url().expose())
            .await
            .unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            let replayed: CaughtUp =
                diesel::sql_query("SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn AS caught_up")
                    .bind::<Text, _>(&target.lsn)
                    .get_result(&mut standby)
                    .await
                    .unwrap();
            if replayed.caught_up {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the standby never caught up"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub async fn stop(mut self) {
        let _ = self.pgbouncer.kill().await;
        let _ = self.standby.stop().await;
        let _ = self.primary.stop().await;
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// PgBouncer in session mode in front of `primary` (SCALING.md says why
/// not transaction mode), running as the servers' user, with its ini and
/// auth file in `dir`; returns the process and its port.
async fn start_pgbouncer(dir: &Path, primary: &LocalCluster) -> (tokio::process::Child, u16) {
    std::fs::create_dir_all(dir).unwrap();
    let port = free_port().unwrap();
    let d = dir.display();
    let ini = format!(
        "[databases]
* = host=127.0.0.1 port={primary_port}
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = scram-sha-256
auth_file = {d}/users.txt
pool_mode = session
max_client_conn = 400
default_pool_size = 100
logfile = {d}/pgbouncer.log
",
        primary_port = primary.port(),
    );
    std::fs::write(dir.join("pgbouncer.ini"), ini).unwrap();
    std::fs::write(
        dir.join("users.txt"),
        format!("\"{SUPERUSER}\" \"{}\"\n", primary.password().expose()),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(
        dir.join("users.txt"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    let as_root = running_as_root();
    if as_root {
        let chowned = std::process::Command::new("chown")
            .arg("-R")
            .arg(format!("{SERVER_USER}:"))
            .arg(dir)
            .status()
            .unwrap();
        assert!(chowned.success());
    }
    // Debian installs it in /usr/sbin, which a user's PATH may not name.
    let binary = ["/usr/sbin/pgbouncer", "/usr/bin/pgbouncer"]
        .into_iter()
        .find(|path| Path::new(path).exists())
        .unwrap_or("pgbouncer");
    let mut command = tokio::process::Command::new(binary);
    if as_root {
        // PgBouncer refuses to run as root: it takes the servers' user itself.
        command.args(["-u", SERVER_USER]);
    }
    let child = command
        .arg(dir.join("pgbouncer.ini"))
        .current_dir("/")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("starting pgbouncer (apt-get install pgbouncer)");
    // Ready once it lets us in and reaches the primary.
    let pooled = primary.url_via(port, DATABASE);
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while AsyncPgConnection::establish(pooled.expose()).await.is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "pgbouncer did not start: see {d}/pgbouncer.log"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    (child, port)
}

fn running_as_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}
