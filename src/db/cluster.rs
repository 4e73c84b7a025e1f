//! The project's private PostgreSQL cluster, started from the installed server
//! binaries when no DATABASE_URL is given (`cargo run`, `cargo test`).
//!
//! PostgreSQL refuses to run as root, so when we are root every server command
//! runs as the `postgres` user through `runuser`; if that user cannot reach
//! the data directory (a checkout under /root, which is 0700), the cluster
//! lives under /var/lib/storefront instead. The cluster listens on 127.0.0.1
//! only, on a free port picked at each start, with a generated password
//! (scram-sha-256) kept next to the data directory.

use std::net::TcpListener;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use anyhow::{Context, bail};
use rand::distr::{Alphanumeric, SampleString};
use tokio::process::Command;

use crate::config::Secret;

/// The superuser created by initdb and used by the app.
pub const SUPERUSER: &str = "storefront";
/// The unprivileged account servers run as when we are root.
const SERVER_USER: &str = "postgres";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// Kept between runs (`cargo run`).
    Durable,
    /// Throwaway test cluster: no fsync, removed when the owning process exits.
    Ephemeral,
}

#[derive(Debug)]
pub struct LocalCluster {
    data_dir: PathBuf,
    bin_dir: PathBuf,
    port: u16,
    password: Secret,
    as_server_user: bool,
    /// Started by this process (not adopted from another one, which may
    /// still be using it): only then does `stop` stop it.
    started: bool,
}

impl LocalCluster {
    /// Creates the cluster on first use, then starts it, or adopts it if it is
    /// already running (a previous run that did not stop it).
    pub async fn start(data_dir: &Path, durability: Durability) -> anyhow::Result<Self> {
        let as_server_user = running_as_root()?;
        let data_dir = if as_server_user {
            reachable_by_server_user(data_dir).await?
        } else {
            std::fs::create_dir_all(data_dir)
                .with_context(|| format!("creating {}", data_dir.display()))?;
            data_dir.canonicalize()?
        };
        // The binaries of the version that made the cluster, if it exists.
        let version = std::fs::read_to_string(data_dir.join("PG_VERSION")).ok();
        let bin_dir = find_bin_dir(version.as_deref().map(str::trim))?;
        let password_file = data_dir.with_extension("password");
        let mut cluster = LocalCluster {
            password: Secret::new(String::new()),
            data_dir,
            bin_dir,
            port: 0,
            as_server_user,
            started: false,
        };
        if !cluster.data_dir.join("PG_VERSION").exists() {
            cluster.init(&password_file, durability).await?;
        }
        cluster.password = Secret::new(
            std::fs::read_to_string(&password_file)
                .with_context(|| format!("reading {}", password_file.display()))?
                .trim()
                .to_owned(),
        );
        if let Some(port) = cluster.running_port().await {
            tracing::info!(port, data_dir = %cluster.data_dir.display(), "adopting running PostgreSQL cluster");
            cluster.port = port;
        } else {
            cluster.port = free_port()?;
            cluster.pg_ctl_start().await?;
            cluster.started = true;
            tracing::info!(port = cluster.port, data_dir = %cluster.data_dir.display(), "started private PostgreSQL cluster");
        }
        if durability == Durability::Ephemeral {
            cluster.remove_when_process_exits()?;
        }
        Ok(cluster)
    }

    /// A hot standby of this cluster in `data_dir`: a copy taken by
    /// `pg_basebackup -R` (which sets it to stream the primary's WAL and
    /// replay it), started on a free port. It serves reads only, with the
    /// same users and password; `Ephemeral` removes it when this process exits.
    pub async fn start_standby(
        &self,
        data_dir: &Path,
        durability: Durability,
    ) -> anyhow::Result<LocalCluster> {
        let data_dir = if self.as_server_user {
            reachable_by_server_user(data_dir).await?
        } else {
            std::fs::create_dir_all(data_dir)?;
            data_dir.canonicalize()?
        };
        // The server refuses a data directory others may read.
        std::fs::set_permissions(&data_dir, std::fs::Permissions::from_mode(0o700))?;
        let password_file = data_dir.with_extension("password");
        std::fs::write(&password_file, self.password.expose())?;
        std::fs::set_permissions(&password_file, std::fs::Permissions::from_mode(0o600))?;
        let mut standby = LocalCluster {
            data_dir,
            bin_dir: self.bin_dir.clone(),
            port: free_port()?,
            password: self.password.clone(),
            as_server_user: self.as_server_user,
            started: false,
        };
        if self.as_server_user {
            chown_to_server_user(&password_file).await?;
        }
        self.server_command("pg_basebackup")
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                SUPERUSER,
            ])
            .arg("-D")
            .arg(&standby.data_dir)
            .args(["-R", "-X", "stream", "-c", "fast"])
            .env("PGPASSWORD", self.password.expose())
            .run()
            .await
            .context("copying the primary with pg_basebackup")?;
        standby.pg_ctl_start().await?;
        standby.started = true;
        tracing::info!(port = standby.port, primary = self.port, data_dir = %standby.data_dir.display(), "started a hot standby");
        if durability == Durability::Ephemeral {
            standby.remove_when_process_exits()?;
        }
        Ok(standby)
    }

    /// Connection URL for `database` on this cluster.
    pub fn url(&self, database: &str) -> Secret {
        self.url_via(self.port, database)
    }

    /// Connection URL for `database` through a proxy on loopback `port`
    /// (a connection pooler), with this cluster's user and password.
    pub fn url_via(&self, port: u16, database: &str) -> Secret {
        Secret::new(format!(
            "postgres://{SUPERUSER}:{}@127.0.0.1:{port}/{database}",
            self.password.expose(),
        ))
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn password(&self) -> &Secret {
        &self.password
    }

    /// Where the cluster's files are.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// Stops the server cleanly (fast shutdown: rolls back open transactions)
    /// if this process started it; one adopted from another process (a
    /// running store, while `api-key` or `seed` runs) is left running.
    pub async fn stop(&self) -> anyhow::Result<()> {
        if !self.started {
            tracing::info!("leaving the PostgreSQL cluster running: this process did not start it");
            return Ok(());
        }
        self.server_command("pg_ctl")
            .arg("-D")
            .arg(&self.data_dir)
            .args(["-m", "fast", "-w", "stop"])
            .run()
            .await
            .context("stopping PostgreSQL")?;
        tracing::info!("stopped private PostgreSQL cluster");
        Ok(())
    }

    /// Restarts the server on the same port (fast mode: open sessions are
    /// terminated). For fault tests and maintenance.
    pub async fn restart(&self) -> anyhow::Result<()> {
        self.server_command("pg_ctl")
            .arg("-D")
            .arg(&self.data_dir)
            .arg("-l")
            .arg(self.data_dir.join("server.log"))
            .args(["-m", "fast", "-w", "-t", "60", "-o"])
            .arg(format!("-p {}", self.port))
            .arg("restart")
            .run()
            .await
            .context("restarting PostgreSQL")
    }

    async fn init(&self, password_file: &Path, durability: Durability) -> anyhow::Result<()> {
        tracing::info!(data_dir = %self.data_dir.display(), "creating private PostgreSQL cluster");
        let password = Alphanumeric.sample_string(&mut rand::rng(), 32);
        std::fs::write(password_file, &password)?;
        std::fs::set_permissions(password_file, std::fs::Permissions::from_mode(0o600))?;
        if self.as_server_user {
            chown_to_server_user(&self.data_dir).await?;
            chown_to_server_user(password_file).await?;
        }
        self.server_command("initdb")
            .arg("-D")
            .arg(&self.data_dir)
            .args(["-U", SUPERUSER, "-E", "UTF8", "--locale=C"])
            .args(["--auth-host=scram-sha-256", "--auth-local=scram-sha-256"])
            .arg(format!("--pwfile={}", password_file.display()))
            .run()
            .await
            .context("initdb failed")?;
        let mut conf = String::from(
            "\n# Storefront: loopback only, no unix socket (its default directory may not exist).\n\
             listen_addresses = '127.0.0.1'\nunix_socket_directories = ''\n",
        );
        if durability == Durability::Ephemeral {
            conf.push_str(
                "# Throwaway test cluster: durability traded for speed.\n\
                 fsync = off\nsynchronous_commit = off\nfull_page_writes = off\nmax_connections = 300\n",
            );
        }
        use std::io::Write;
        std::fs::OpenOptions::new()
            .append(true)
            .open(self.data_dir.join("postgresql.conf"))?
            .write_all(conf.as_bytes())?;
        Ok(())
    }

    async fn pg_ctl_start(&self) -> anyhow::Result<()> {
        self.server_command("pg_ctl")
            .arg("-D")
            .arg(&self.data_dir)
            .arg("-l")
            .arg(self.data_dir.join("server.log"))
            .args(["-w", "-t", "60", "-o"])
            .arg(format!("-p {}", self.port))
            .arg("start")
            .run()
            .await
            .with_context(|| {
                format!(
                    "starting PostgreSQL failed; see {}",
                    self.data_dir.join("server.log").display()
                )
            })
    }

    /// The port of a server already running on this data directory, if any.
    async fn running_port(&self) -> Option<u16> {
        let status = self
            .server_command("pg_ctl")
            .arg("-D")
            .arg(&self.data_dir)
            .arg("status")
            .run()
            .await;
        if status.is_err() {
            return None;
        }
        // Line 4 of postmaster.pid is the port.
        let pid_file = std::fs::read_to_string(self.data_dir.join("postmaster.pid")).ok()?;
        pid_file.lines().nth(3)?.trim().parse().ok()
    }

    /// A detached watchdog stops and deletes the cluster once this process is
    /// gone: test binaries exit without running destructors for statics.
    fn remove_when_process_exits(&self) -> anyhow::Result<()> {
        let runuser = if self.as_server_user {
            format!("runuser -u {SERVER_USER} -- ")
        } else {
            String::new()
        };
        // In a process group of its own, deaf to the terminal's signals: a
        // Ctrl-C that ends the tests must not end it before it cleans up.
        // A relocated cluster's own directory under RELOCATED_ROOT goes too.
        let relocated_home = match self.data_dir.parent() {
            Some(home) if home.starts_with(RELOCATED_ROOT) => {
                format!("; rmdir '{}'", home.display())
            }
            _ => String::new(),
        };
        let script = format!(
            "trap '' INT HUP TERM; while kill -0 {pid} 2>/dev/null; do sleep 1; done; \
             {runuser}'{pg_ctl}' -D '{dir}' -m immediate stop >/dev/null 2>&1; \
             rm -rf '{dir}' '{dir}.password'{relocated_home}",
            pid = std::process::id(),
            pg_ctl = self.bin_dir.join("pg_ctl").display(),
            dir = self.data_dir.display(),
        );
        std::process::Command::new("sh")
            .args(["-c", &script])
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("spawning the cluster watchdog")?;
        Ok(())
    }

    fn server_command(&self, program: &str) -> Command {
        let binary = self.bin_dir.join(program);
        let mut command = if self.as_server_user {
            let mut c = Command::new("runuser");
            c.args(["-u", SERVER_USER, "--"]).arg(binary);
            c
        } else {
            Command::new(binary)
        };
        command.current_dir("/").stdin(Stdio::null());
        command
    }
}

trait RunChecked {
    async fn run(&mut self) -> anyhow::Result<()>;
}

impl RunChecked for Command {
    /// Runs to completion; a failure carries the command's own output.
    async fn run(&mut self) -> anyhow::Result<()> {
        let output = self
            .output()
            .await
            .context("spawning a PostgreSQL command")?;
        if !output.status.success() {
            bail!(
                "{}{}",
                String::from_utf8_lossy(&output.stderr).trim(),
                String::from_utf8_lossy(&output.stdout).trim()
            );
        }
        Ok(())
    }
}

/// The data directory as the `postgres` user can use it: `data_dir` itself
/// (made its own), or, when a directory above it is closed to that user,
/// one under /var/lib/storefront named after it (the same one on every run).
async fn reachable_by_server_user(data_dir: &Path) -> anyhow::Result<PathBuf> {
    let fresh = !data_dir.exists();
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("creating {}", data_dir.display()))?;
    let data_dir = data_dir.canonicalize()?;
    chown_to_server_user(&data_dir).await?;
    if server_user_can_enter(&data_dir).await? {
        return Ok(data_dir);
    }
    if fresh {
        let _ = std::fs::remove_dir(&data_dir);
    }
    use sha2::Digest;
    let name = hex::encode(&sha2::Sha256::digest(data_dir.as_os_str().as_encoded_bytes())[..8]);
    let home = Path::new(RELOCATED_ROOT).join(name);
    let relocated = home.join("postgres");
    std::fs::create_dir_all(&relocated)
        .with_context(|| format!("creating {}", relocated.display()))?;
    chown_to_server_user(&home).await?;
    if !server_user_can_enter(&relocated).await? {
        bail!(
            "PostgreSQL must run as the `{SERVER_USER}` user when started as root, and that user \
             can reach neither {} nor {}: set DATA_DIR to a directory it can traverse, or set DATABASE_URL",
            data_dir.display(),
            relocated.display()
        );
    }
    tracing::info!(
        wanted = %data_dir.display(),
        data_dir = %relocated.display(),
        "the `{SERVER_USER}` user cannot reach the data directory; the cluster lives in {RELOCATED_ROOT}"
    );
    Ok(relocated)
}

/// Where clusters go whose data directory the `postgres` user cannot reach.
const RELOCATED_ROOT: &str = "/var/lib/storefront";

async fn server_user_can_enter(dir: &Path) -> anyhow::Result<bool> {
    let status = Command::new("runuser")
        .args(["-u", SERVER_USER, "--", "test", "-x"])
        .arg(dir)
        .current_dir("/")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .await
        .context("running `runuser` to start PostgreSQL as the `postgres` user")?;
    Ok(status.success())
}

async fn chown_to_server_user(path: &Path) -> anyhow::Result<()> {
    Command::new("chown")
        .arg("-R")
        .arg(format!("{SERVER_USER}:"))
        .arg(path)
        .run()
        .await
        .with_context(|| format!("chown {} to {SERVER_USER}", path.display()))
}

fn running_as_root() -> anyhow::Result<bool> {
    Ok(std::fs::metadata("/proc/self")?.uid() == 0)
}

/// A free loopback port, below the kernel's range for outgoing connections
/// when it can: a port from that range can be taken by any connection made
/// between this check and the server's bind.
pub fn free_port() -> anyhow::Result<u16> {
    let outgoing_from = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|range| range.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32768);
    if outgoing_from > 11_000 {
        for _ in 0..100 {
            let port = rand::random_range(10_000..outgoing_from);
            if TcpListener::bind(("127.0.0.1", port)).is_ok() {
                return Ok(port);
            }
        }
    }
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Finds initdb and pg_ctl: Debian's directory of `version` (the cluster's,
/// once it exists: another major version cannot open it), else the newest
/// versioned directory, then PATH.
fn find_bin_dir(version: Option<&str>) -> anyhow::Result<PathBuf> {
    let has_tools = |dir: &Path| {
        ["initdb", "pg_ctl", "postgres"]
            .iter()
            .all(|t| dir.join(t).is_file())
    };
    let mut versioned: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse().ok()?;
            Some((version, entry.path().join("bin")))
        })
        .collect();
    versioned.sort();
    let on_path = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .unwrap_or_default();
    let wanted = version.map(|v| Path::new("/usr/lib/postgresql").join(v).join("bin"));
    wanted
        .into_iter()
        .chain(versioned.into_iter().rev().map(|(_, dir)| dir))
        .chain(on_path)
        .find(|dir| has_tools(dir))
        .ok_or_else(|| {
            anyhow::anyhow!(
                "PostgreSQL server binaries (initdb, pg_ctl, postgres) were not found in \
                 /usr/lib/postgresql/*/bin or on PATH. Install the `postgresql` package \
                 (Debian/Ubuntu: `sudo apt-get install postgresql`), or set DATABASE_URL to an existing server."
            )
        })
}
