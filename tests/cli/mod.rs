//! Helpers of the tests that run the `ladderfeed` binary, some against the simulator over
//! wss:// with its CA.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Command, Output};

use ladderfeed_sim::{Config, Sim};

/// A fixture's path from its name under `fixtures/`.
pub fn fixture(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures").join(rel)
}

/// A scratch file `name` in this test process's own folder `ladderfeed-TAG-PID`.
pub fn tmp_in(tag: &str, name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ladderfeed-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// A run's stdout then stderr.
pub fn text(out: &Output) -> String {
    format!("{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// Runs the `ladderfeed` binary.
pub fn ladderfeed(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ladderfeed")).args(args).output().unwrap()
}

/// A wss:// simulator of `venue` serving `capture`, its configuration edited by `edit`, and
/// the file its CA certificate was written to (in the folder of `tag`).
pub fn tls_sim(
    tag: &str,
    venue: &str,
    capture: &str,
    edit: impl FnOnce(&mut Config),
) -> (Sim, PathBuf) {
    let mut c = Config::for_venue(venue, vec![fixture(capture)]).unwrap();
    c.tls = true;
    edit(&mut c);
    let sim = Sim::start(c).unwrap();
    let ca = tmp_in(tag, &format!("ca-{}.pem", sim.addr().port()));
    std::fs::write(&ca, sim.ca_pem().unwrap()).unwrap();
    (sim, ca)
}
