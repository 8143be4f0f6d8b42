//! Binding the listening sockets master.cf names.
//!
//! master binds every socket itself, as root, before any daemon runs: daemons never
//! need the privilege to bind port 25, and a socket stays open across daemon restarts
//! and reloads, so no client is refused while a daemon is replaced.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs};
use std::os::fd::OwnedFd;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use config::{InetAddr, Params, ServiceEntry, ServiceKind};
use nix::unistd::User;
use socket2::{Domain, Socket, Type};
use tracing::warn;

/// How many connections the kernel queues for a busy daemon.
const BACKLOG: i32 = 1024;

/// The sockets of one service.
#[derive(Debug)]
pub struct Bound {
    /// The listening descriptors, passed to every process of the service.
    pub fds: Vec<OwnedFd>,
    /// The Unix socket's path, removed when the service goes away.
    pub unix_path: Option<PathBuf>,
}

impl Drop for Bound {
    fn drop(&mut self) {
        if let Some(path) = &self.unix_path {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// Binds the sockets of `entry`: TCP listeners for `inet`, a Unix socket under
/// `private/` or `public/` for `unix`.
pub fn bind(entry: &ServiceEntry, params: &Params, owner: Option<&User>) -> anyhow::Result<Bound> {
    match &entry.kind {
        ServiceKind::Inet(addr) => {
            let mut fds = Vec::new();
            for sockaddr in inet_addresses(addr, params)? {
                match bind_tcp(sockaddr) {
                    Ok(fd) => fds.push(fd),
                    // An IPv6 wildcard on a host without IPv6 is not worth failing for
                    // when the IPv4 one worked.
                    Err(e) if addr.host.is_none() && sockaddr.is_ipv6() && is_no_ipv6(&e) => {
                        warn!(
                            "{}: IPv6 is not available here, listening on IPv4 only: {e}",
                            entry.name
                        )
                    }
                    Err(e) => return Err(e).with_context(|| format!("bind {sockaddr}")),
                }
            }
            if fds.is_empty() {
                bail!("service {}: no address to listen on", entry.name);
            }
            Ok(Bound {
                fds,
                unix_path: None,
            })
        }
        ServiceKind::Unix => {
            let dir = if entry.private { "private" } else { "public" };
            let path = params.queue_directory.join(dir).join(&entry.name);
            let fd = bind_unix(&path, entry.private, owner)?;
            Ok(Bound {
                fds: vec![fd],
                unix_path: Some(path),
            })
        }
        ServiceKind::Pass => bail!("service type pass is not supported"),
    }
}

fn is_no_ipv6(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(nix::libc::EAFNOSUPPORT | nix::libc::EADDRNOTAVAIL)
    )
}

/// The addresses an `inet` service listens on: its own `host:port`, or every address of
/// `inet_interfaces` (filtered by `inet_protocols`) on its port.
fn inet_addresses(addr: &InetAddr, params: &Params) -> anyhow::Result<Vec<SocketAddr>> {
    let port = addr.port;
    if let Some(host) = &addr.host {
        return resolve(host, port);
    }
    let protocols = &params.inet_protocols;
    let any = protocols.is_empty() || protocols.iter().any(|p| p.eq_ignore_ascii_case("all"));
    let v4 = any || protocols.iter().any(|p| p.eq_ignore_ascii_case("ipv4"));
    let v6 = any || protocols.iter().any(|p| p.eq_ignore_ascii_case("ipv6"));
    let mut out = Vec::new();
    for interface in &params.inet_interfaces {
        let wildcard = match interface.to_ascii_lowercase().as_str() {
            "all" => Some((
                IpAddr::V4(Ipv4Addr::UNSPECIFIED),
                IpAddr::V6(Ipv6Addr::UNSPECIFIED),
            )),
            "loopback-only" => Some((
                IpAddr::V4(Ipv4Addr::LOCALHOST),
                IpAddr::V6(Ipv6Addr::LOCALHOST),
            )),
            _ => None,
        };
        match wildcard {
            Some((a4, a6)) => {
                if v4 {
                    out.push(SocketAddr::new(a4, port));
                }
                if v6 {
                    out.push(SocketAddr::new(a6, port));
                }
            }
            None => out.extend(resolve(interface, port)?),
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

fn resolve(host: &str, port: u16) -> anyhow::Result<Vec<SocketAddr>> {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let addrs: Vec<SocketAddr> = (host, port)
        .to_socket_addrs()
        .with_context(|| format!("look up {host}"))?
        .collect();
    if addrs.is_empty() {
        bail!("{host}: no address");
    }
    Ok(addrs)
}

fn bind_tcp(addr: SocketAddr) -> io::Result<OwnedFd> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
    socket.set_reuse_address(true)?;
    if addr.is_ipv6() {
        // One socket per family, as Postfix does, so [::] does not also take IPv4.
        socket.set_only_v6(true)?;
    }
    socket.bind(&addr.into())?;
    socket.listen(BACKLOG)?;
    Ok(OwnedFd::from(socket))
}

fn bind_unix(path: &Path, private: bool, owner: Option<&User>) -> anyhow::Result<OwnedFd> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_socket() => std::fs::remove_file(path)
            .with_context(|| format!("remove old socket {}", path.display()))?,
        Ok(_) => bail!("{} exists and is not a socket", path.display()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("stat {}", path.display())),
    }
    let listener = UnixListener::bind(path).with_context(|| format!("bind {}", path.display()))?;
    // private/ sockets are for mail_owner's daemons (the directory is 0700); public/
    // ones for every local user, who is identified by SO_PEERCRED, never trusted.
    let mode = if private { 0o660 } else { 0o666 };
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .with_context(|| format!("chmod {}", path.display()))?;
    if let Some(owner) = owner {
        nix::unistd::chown(path, Some(owner.uid), Some(owner.gid))
            .with_context(|| format!("chown {}", path.display()))?;
    }
    Ok(OwnedFd::from(listener))
}
