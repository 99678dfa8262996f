//! Child processes that never outlive the devnet: each is killed when its guard drops, which
//! happens on shutdown, on Ctrl-C (the binary drops the devnet) and on test failure (unwinding
//! drops it). Ports are picked free on the loopback interface.

use std::{
    net::TcpListener,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
};

use crate::DevnetError;

/// A child process killed (and reaped) on drop.
#[derive(Debug)]
pub struct ChildGuard {
    name: &'static str,
    child: Child,
}

impl ChildGuard {
    /// Spawns `cmd` with its output discarded.
    pub fn spawn(name: &'static str, mut cmd: Command) -> Result<Self, DevnetError> {
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| DevnetError::Spawn { what: name, source: e })?;
        tracing::debug!(target: "devnet", name, pid = child.id(), "started");
        Ok(Self { name, child })
    }

    /// The child's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether the child is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        tracing::debug!(target: "devnet", name = self.name, "stopped");
    }
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> Result<u16, DevnetError> {
    let l = TcpListener::bind("127.0.0.1:0").map_err(DevnetError::Io)?;
    Ok(l.local_addr().map_err(DevnetError::Io)?.port())
}

/// Where the project's npm tools live: `$TAIKO_TOOLS` if set, else `tools/node_modules/.bin`
/// under the project root this crate was built from.
pub fn tools_dir() -> PathBuf {
    std::env::var_os("TAIKO_TOOLS")
        .map(PathBuf::from)
        .unwrap_or_else(|| project_root().join("tools/node_modules/.bin"))
}

/// The project root (the workspace this crate belongs to).
pub fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("devnet/ has a parent").to_path_buf()
}

/// The executable of tool `name`. For Foundry's npm packages this is the platform binary
/// (`node_modules/@foundry-rs/{name}-{platform}/bin/{name}`), not the `.bin` wrapper: the wrapper
/// is a Node.js process that spawns the binary, and killing it would leave the binary running.
pub fn tool(name: &str) -> Result<PathBuf, DevnetError> {
    let bin = tools_dir();
    if let Some(modules) = bin.parent()
        && let Ok(entries) = std::fs::read_dir(modules.join("@foundry-rs"))
    {
        for e in entries.flatten() {
            let dir_name = e.file_name().to_string_lossy().into_owned();
            let native = e.path().join("bin").join(name);
            if dir_name.starts_with(&format!("{name}-")) && native.exists() {
                return Ok(native);
            }
        }
    }
    let p = bin.join(name);
    if p.exists() { Ok(p) } else { Err(DevnetError::ToolMissing(p)) }
}

/// Installs the project's npm tools (`tools/install.sh`, idempotent) unless `$TAIKO_TOOLS`
/// points elsewhere.
pub fn ensure_tools() -> Result<(), DevnetError> {
    if std::env::var_os("TAIKO_TOOLS").is_some() {
        return Ok(());
    }
    let script = project_root().join("tools/install.sh");
    let status = Command::new("bash")
        .arg(&script)
        .status()
        .map_err(|e| DevnetError::Spawn { what: "tools/install.sh", source: e })?;
    if status.success() { Ok(()) } else { Err(DevnetError::ToolMissing(tools_dir())) }
}
