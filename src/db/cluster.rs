//! The project's private PostgreSQL cluster, started from the installed server
//! binaries when no DATABASE_URL is given (`cargo run`, `cargo test`).
//!
//! PostgreSQL refuses to run as root, so when we are root every server command
//! runs as the `postgres` user through `runuser`. The cluster listens on
//! 127.0.0.1 only, on a free port picked at each start, with a generated
//! password (scram-sha-256) kept next to the data directory.

use std::net::TcpListener;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Stdio;

use anyhow::{Context, bail};
use rand::distr::{Alphanumeric, SampleString};
use tokio::process::Command;

use crate::config::Secret;

/// The superuser created by initdb and used by the app.
const SUPERUSER: &str = "storefront";
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
}

impl LocalCluster {
    /// Creates the cluster on first use, then starts it, or adopts it if it is
    /// already running (a previous run that did not stop it).
    pub async fn start(data_dir: &Path, durability: Durability) -> anyhow::Result<Self> {
        let bin_dir = find_bin_dir()?;
        let as_server_user = running_as_root()?;
        std::fs::create_dir_all(data_dir)
            .with_context(|| format!("creating {}", data_dir.display()))?;
        let data_dir = data_dir.canonicalize()?;
        let password_file = data_dir.with_extension("password");
        let mut cluster = LocalCluster {
            password: Secret::new(String::new()),
            data_dir,
            bin_dir,
            port: 0,
            as_server_user,
        };
        if as_server_user {
            cluster.check_server_user_can_reach_data_dir().await?;
        }
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
            tracing::info!(port = cluster.port, data_dir = %cluster.data_dir.display(), "started private PostgreSQL cluster");
        }
        if durability == Durability::Ephemeral {
            cluster.remove_when_process_exits()?;
        }
        Ok(cluster)
    }

    /// Connection URL for `database` on this cluster.
    pub fn url(&self, database: &str) -> Secret {
        Secret::new(format!(
            "postgres://{SUPERUSER}:{}@127.0.0.1:{}/{database}",
            self.password.expose(),
            self.port
        ))
    }

    /// Stops the server cleanly (fast shutdown: rolls back open transactions).
    pub async fn stop(&self) -> anyhow::Result<()> {
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
        let script = format!(
            "while kill -0 {pid} 2>/dev/null; do sleep 1; done; \
             {runuser}'{pg_ctl}' -D '{dir}' -m immediate stop >/dev/null 2>&1; \
             rm -rf '{dir}' '{dir}.password'",
            pid = std::process::id(),
            pg_ctl = self.bin_dir.join("pg_ctl").display(),
            dir = self.data_dir.display(),
        );
        std::process::Command::new("sh")
            .args(["-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("spawning the cluster watchdog")?;
        Ok(())
    }

    async fn check_server_user_can_reach_data_dir(&self) -> anyhow::Result<()> {
        let reachable = Command::new("runuser")
            .args(["-u", SERVER_USER, "--", "test", "-x"])
            .arg(&self.data_dir)
            .current_dir("/")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .await
            .context("running `runuser` to start PostgreSQL as the `postgres` user")?;
        if !reachable.success() {
            chown_to_server_user(&self.data_dir).await?;
            let again = Command::new("runuser")
                .args(["-u", SERVER_USER, "--", "test", "-x"])
                .arg(&self.data_dir)
                .current_dir("/")
                .status()
                .await?;
            if !again.success() {
                bail!(
                    "PostgreSQL must run as the `{SERVER_USER}` user when started as root, and that user \
                     cannot reach {}: set DATA_DIR to a directory it can traverse, or set DATABASE_URL",
                    self.data_dir.display()
                );
            }
        }
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

fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Finds initdb and pg_ctl: Debian's versioned directories first (newest
/// version), then PATH.
fn find_bin_dir() -> anyhow::Result<PathBuf> {
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
    versioned
        .into_iter()
        .rev()
        .map(|(_, dir)| dir)
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
