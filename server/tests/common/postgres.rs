//! A throwaway PostgreSQL for tests: `initdb` in a temporary folder, the server on a free port
//! of 127.0.0.1 (its socket in the folder too), stopped (`pg_ctl stop -m immediate`) and the
//! folder removed on drop, whether the test passed or not. PostgreSQL refuses to run as root:
//! as root, it runs as the `postgres` system user (`runuser`) with the folder given to it.
//! Shared by the store's unit tests (`#[path]`) and the loopback tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// A running throwaway PostgreSQL.
pub struct TempPostgres {
    /// `postgres://roster@127.0.0.1:PORT/postgres` (no password: trust on loopback).
    pub url: String,
    dir: PathBuf,
    bin: PathBuf,
    as_postgres: bool,
}

/// The folder with `initdb` and `pg_ctl`: the PATH, then Debian's /usr/lib/postgresql/*/bin
/// (the newest).
pub fn find_bin() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>());
    let mut debian: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("bin"))
        .collect();
    debian.sort_by_key(|p| {
        p.parent()
            .and_then(|v| v.file_name())
            .and_then(|v| v.to_str())
            .and_then(|v| v.parse::<u32>().ok())
            .unwrap_or(0)
    });
    on_path
        .chain(debian.into_iter().rev())
        .find(|d| d.join("initdb").is_file() && d.join("pg_ctl").is_file())
}

fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl TempPostgres {
    /// Starts one, or says why it is skipped (`None`: no PostgreSQL installed, and not in CI;
    /// in CI, where scripts/setup.sh installs it, a missing PostgreSQL fails the test).
    pub fn start_or_skip(tag: &str) -> Option<TempPostgres> {
        match find_bin() {
            Some(bin) => Some(TempPostgres::start(tag, &bin)),
            None if std::env::var_os("CI").is_some() => {
                panic!("PostgreSQL (initdb, pg_ctl) is not installed: scripts/setup.sh installs it")
            }
            None => {
                eprintln!("skipped: PostgreSQL (initdb, pg_ctl) is not installed (scripts/setup.sh installs it)");
                None
            }
        }
    }

    /// Starts one with the programs in `bin`.
    pub fn start(tag: &str, bin: &Path) -> TempPostgres {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let dir = std::env::temp_dir().join(format!("rpg-{tag}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(dir.join("sock")).unwrap();
        let as_postgres = is_root();
        let mut pg = TempPostgres {
            url: String::new(),
            dir,
            bin: bin.to_path_buf(),
            as_postgres,
        };
        if as_postgres {
            let ok = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(&pg.dir)
                .status()
                .unwrap()
                .success();
            assert!(ok, "chown of the PostgreSQL folder");
        }
        let data = pg.dir.join("data");
        let out = pg
            .command("initdb")
            .arg("-D")
            .arg(&data)
            .args(["-U", "roster", "--auth=trust", "-E", "UTF8", "--no-sync"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "initdb: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let port = free_port();
        let options = format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=50",
            pg.dir.join("sock").display()
        );
        let out = pg
            .command("pg_ctl")
            .arg("-D")
            .arg(&data)
            .arg("-l")
            .arg(pg.dir.join("log"))
            .args(["-w", "-t", "30", "-o", &options, "start"])
            .output()
            .unwrap();
        let log = std::fs::read_to_string(pg.dir.join("log")).unwrap_or_default();
        assert!(
            out.status.success(),
            "pg_ctl start: {} {log}",
            String::from_utf8_lossy(&out.stderr)
        );
        pg.url = format!("postgres://roster@127.0.0.1:{port}/postgres");
        pg
    }

    /// `program` of PostgreSQL's, as the `postgres` user when this runs as root.
    fn command(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(path);
            c
        } else {
            Command::new(path)
        }
    }
}

impl Drop for TempPostgres {
    fn drop(&mut self) {
        // Only when it started (or began to).
        if self.dir.join("data/postmaster.pid").exists() {
            let _ = self
                .command("pg_ctl")
                .arg("-D")
                .arg(self.dir.join("data"))
                .args(["-m", "immediate", "stop"])
                .output();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
