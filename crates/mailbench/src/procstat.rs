//! procstat - CPU time and memory of the server's process tree, read from /proc.
//!
//! `--tree PID` names a server process; the tree is that process and all its
//! descendants, found by following the parent pid (field 4 of `/proc/N/stat`) of every
//! process on the system. The tree is re-read at every sample, so daemons that a
//! supervisor starts during the run (Postern's master, Postfix's master) are included.
//!
//! **CPU**: `utime + stime` (fields 14 and 15, in clock ticks) of every process in the
//! tree, taken before the run, every 100 ms during it, and after it. A process counts
//! for its last seen total minus its total before the run (zero for processes that
//! appeared). Processes are keyed by pid and start time, so a reused pid is a new
//! process. A process that exits between two samples loses the CPU it used since the
//! last one, and one that starts and exits between two samples is not seen at all: a
//! server that forks a short-lived process per connection is undercounted.
//!
//! **Memory**: the sum of `VmRSS` over the tree at each sample; the peak is reported.
//! Pages shared between processes (the executable, libraries, shared memory) count once
//! per process, so for a multi-process server this overstates the memory it really
//! uses; compare like with like.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::{Context as _, bail};

/// How often the sampler reads the tree.
pub const SAMPLE_INTERVAL: Duration = Duration::from_millis(100);

/// What one line of `/proc/N/stat` says about a process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcStat {
    /// Process id (field 1).
    pub pid: u32,
    /// Parent's process id (field 4).
    pub ppid: u32,
    /// User plus system CPU time, in clock ticks (fields 14 and 15).
    pub ticks: u64,
    /// Start time after boot, in clock ticks (field 22): with the pid, identifies the
    /// process even after its pid is reused.
    pub start: u64,
}

/// Parses one `/proc/N/stat` line. The command name (field 2) is in parentheses and
/// may itself contain spaces and parentheses, so the fields after it are counted from
/// the last `)`.
pub fn parse_stat(line: &str) -> Option<ProcStat> {
    let open = line.find('(')?;
    let close = line.rfind(')')?;
    let pid = line.get(..open)?.trim().parse().ok()?;
    let rest: Vec<&str> = line.get(close + 1..)?.split_ascii_whitespace().collect();
    // rest[0] is field 3 (state): field k is rest[k - 3].
    let field = |k: usize| -> Option<u64> { rest.get(k - 3)?.parse().ok() };
    Some(ProcStat {
        pid,
        ppid: u32::try_from(field(4)?).ok()?,
        ticks: field(14)?.saturating_add(field(15)?),
        start: field(22)?,
    })
}

/// The resident set size in bytes from the text of `/proc/N/status` (`VmRSS:`, in
/// kB); `None` when absent (kernel threads, zombies).
pub fn parse_vm_rss(status: &str) -> Option<u64> {
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    let mut words = line.get("VmRSS:".len()..)?.split_ascii_whitespace();
    let kib: u64 = words.next()?.parse().ok()?;
    match words.next() {
        Some("kB") | None => Some(kib.saturating_mul(1024)),
        Some(_) => None,
    }
}

/// Every process on the system, skipping those that exit while being read.
fn read_all() -> Vec<ProcStat> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter(|entry| entry.file_name().to_str().is_some_and(is_pid))
        .filter_map(|entry| std::fs::read_to_string(entry.path().join("stat")).ok())
        .filter_map(|line| parse_stat(&line))
        .collect()
}

fn is_pid(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_digit())
}

/// The processes of `all` that are in the trees rooted at `roots`.
pub fn tree<'a>(roots: &[u32], all: &'a [ProcStat]) -> Vec<&'a ProcStat> {
    let mut children: HashMap<u32, Vec<&ProcStat>> = HashMap::new();
    let mut by_pid: HashMap<u32, &ProcStat> = HashMap::new();
    for process in all {
        children.entry(process.ppid).or_default().push(process);
        by_pid.insert(process.pid, process);
    }
    let mut found: Vec<&ProcStat> = Vec::new();
    let mut seen: HashSet<u32> = HashSet::new();
    for pid in roots {
        if let Some(process) = by_pid.get(pid)
            && seen.insert(*pid)
        {
            found.push(process);
        }
    }
    let mut next = 0;
    while let Some(process) = found.get(next).copied() {
        next += 1;
        for kid in children.get(&process.pid).into_iter().flatten() {
            // A root may also be a descendant of another root.
            if seen.insert(kid.pid) {
                found.push(kid);
            }
        }
    }
    found
}

/// One reading of the tree.
#[derive(Debug, Default)]
struct Snapshot {
    /// CPU ticks per process, keyed by (pid, start time).
    ticks: HashMap<(u32, u64), u64>,
    /// Sum of VmRSS over the tree, in bytes.
    rss: u64,
}

fn snapshot(roots: &[u32]) -> Snapshot {
    let all = read_all();
    let mut snap = Snapshot::default();
    for process in tree(roots, &all) {
        snap.ticks
            .insert((process.pid, process.start), process.ticks);
        let status = std::fs::read_to_string(format!("/proc/{}/status", process.pid));
        if let Some(rss) = status.ok().as_deref().and_then(parse_vm_rss) {
            snap.rss = snap.rss.saturating_add(rss);
        }
    }
    snap
}

/// The RSS sum of the trees at `roots` now, in bytes (blocking).
pub fn rss(roots: &[u32]) -> u64 {
    snapshot(roots).rss
}

/// What the server's tree used during a run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TreeUsage {
    /// CPU seconds (user + system) used during the run.
    pub cpu_seconds: f64,
    /// The largest sum of VmRSS seen, in bytes.
    pub peak_rss: u64,
}

/// A background thread that samples the tree every [`SAMPLE_INTERVAL`].
///
/// It is a plain thread, not a tokio task: reading /proc is blocking file I/O, and the
/// samples must keep their rhythm while the runtime is saturated by the workload.
pub struct Sampler {
    roots: Vec<u32>,
    /// The largest RSS sum since [`Sampler::open_window`].
    window: Arc<AtomicU64>,
    stop: mpsc::Sender<()>,
    thread: JoinHandle<Samples>,
    before: HashMap<(u32, u64), u64>,
    baseline_rss: u64,
}

/// What the sampling thread collected.
struct Samples {
    /// The last CPU total seen per process, including processes that have exited.
    last_ticks: HashMap<(u32, u64), u64>,
    peak_rss: u64,
}

/// Checks that every one of `roots` is a running process, so a typo in `--tree` fails
/// before the run rather than after it.
///
/// # Errors
///
/// Names the first missing process.
pub fn check(roots: &[u32]) -> anyhow::Result<()> {
    for pid in roots {
        let path = format!("/proc/{pid}/stat");
        std::fs::metadata(&path).with_context(|| format!("--tree {pid}: no process ({path})"))?;
    }
    Ok(())
}

impl Sampler {
    /// A sampler for `roots`, or none when the list is empty (no `--tree`).
    ///
    /// # Errors
    ///
    /// As [`Sampler::start`].
    pub fn start_if_any(roots: &[u32]) -> anyhow::Result<Option<Sampler>> {
        match roots {
            [] => Ok(None),
            roots => Sampler::start(roots).map(Some),
        }
    }

    /// Takes the "before" reading and starts sampling.
    ///
    /// # Errors
    ///
    /// When one of `roots` is not a running process: measuring nothing would silently
    /// report zero.
    pub fn start(roots: &[u32]) -> anyhow::Result<Sampler> {
        check(roots)?;
        let roots = roots.to_vec();
        let first = snapshot(&roots);
        if first.ticks.is_empty() {
            bail!("--tree: none of the processes {roots:?} could be read");
        }
        let before = first.ticks.clone();
        let baseline_rss = first.rss;
        let (stop, stopped) = mpsc::channel();
        let window = Arc::new(AtomicU64::new(first.rss));
        let thread = {
            let (roots, window) = (roots.clone(), Arc::clone(&window));
            std::thread::Builder::new()
                .name("procstat".into())
                .spawn(move || sample(&roots, first, &window, &stopped))
                .context("start the /proc sampling thread")?
        };
        Ok(Sampler {
            roots,
            window,
            stop,
            thread,
            before,
            baseline_rss,
        })
    }

    /// The RSS sum before the run, in bytes.
    pub fn baseline_rss(&self) -> u64 {
        self.baseline_rss
    }

    /// Starts a measuring window: [`Sampler::window_peak`] then reports the peak RSS
    /// seen from now on (the IDLE hold, rather than the logins before it).
    pub fn open_window(&self) {
        self.window.store(0, Ordering::Relaxed);
    }

    /// The peak RSS sum sampled since [`Sampler::open_window`] (0 before the first
    /// sample; combine with a reading by [`rss`]).
    pub fn window_peak(&self) -> u64 {
        self.window.load(Ordering::Relaxed)
    }

    /// The processes given with `--tree`.
    pub fn roots(&self) -> &[u32] {
        &self.roots
    }

    /// Takes the "after" reading and computes the usage.
    pub fn finish(self) -> TreeUsage {
        // A send error means the thread is gone already; join tells the rest.
        let _ = self.stop.send(());
        let samples = self.thread.join().unwrap_or_else(|_| Samples {
            last_ticks: HashMap::new(),
            peak_rss: 0,
        });
        let ticks: u64 = samples
            .last_ticks
            .iter()
            .map(|(key, last)| last.saturating_sub(self.before.get(key).copied().unwrap_or(0)))
            .sum();
        TreeUsage {
            cpu_seconds: ticks_to_seconds(ticks),
            peak_rss: samples.peak_rss.max(self.baseline_rss),
        }
    }
}

/// The sampling thread: one snapshot per interval until told to stop, then a last one.
fn sample(
    roots: &[u32],
    first: Snapshot,
    window: &AtomicU64,
    stopped: &mpsc::Receiver<()>,
) -> Samples {
    let mut samples = Samples {
        last_ticks: first.ticks,
        peak_rss: first.rss,
    };
    loop {
        let done = !matches!(
            stopped.recv_timeout(SAMPLE_INTERVAL),
            Err(mpsc::RecvTimeoutError::Timeout)
        );
        let snap = snapshot(roots);
        samples.peak_rss = samples.peak_rss.max(snap.rss);
        window.fetch_max(snap.rss, Ordering::Relaxed);
        samples.last_ticks.extend(snap.ticks);
        if done {
            return samples;
        }
    }
}

/// Clock ticks per second for /proc times (USER_HZ, 100 on every Linux port we know).
fn ticks_per_second() -> u64 {
    use nix::unistd::{SysconfVar, sysconf};
    match sysconf(SysconfVar::CLK_TCK) {
        Ok(Some(hz)) if hz > 0 => u64::try_from(hz).unwrap_or(100),
        _ => 100,
    }
}

fn ticks_to_seconds(ticks: u64) -> f64 {
    // Exact for any realistic run: f64 holds integers up to 2^53.
    let hz = ticks_per_second();
    (ticks / hz) as f64 + (ticks % hz) as f64 / hz as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A real line from a Linux 6.x system, with a command name that contains a space
    /// and a closing parenthesis.
    const SAMPLE: &str = "4021 (smtpd (x) y) S 4017 4017 4017 0 -1 4194560 1052 0 0 0 \
                          137 42 0 0 20 0 4 0 987654 123456789 2345 18446744073709551615 \
                          1 1 0 0 0 0 0 4096 0 0 0 0 17 1 0 0 0 0 0";

    #[test]
    fn stat_line_fields() {
        let stat = parse_stat(SAMPLE).unwrap();
        assert_eq!(
            stat,
            ProcStat {
                pid: 4021,
                ppid: 4017,
                ticks: 137 + 42,
                start: 987_654,
            }
        );
    }

    #[test]
    fn bad_stat_lines() {
        for (name, line) in [
            ("empty", ""),
            ("no parentheses", "4021 smtpd S 4017"),
            ("truncated", "4021 (smtpd) S 4017 4017 4017 0"),
            (
                "pid not a number",
                "x (smtpd) S 4017 4017 4017 0 -1 4194560 1052 0 0 0 137 42 0 0 20 0 4 0 987654",
            ),
        ] {
            assert_eq!(parse_stat(line), None, "{name}");
        }
    }

    #[test]
    fn vm_rss() {
        let status = "Name:\tsmtpd\nVmPeak:\t  20000 kB\nVmRSS:\t    1234 kB\nThreads:\t4\n";
        assert_eq!(parse_vm_rss(status), Some(1234 * 1024));
        assert_eq!(parse_vm_rss("Name:\tkthreadd\nThreads:\t1\n"), None);
        assert_eq!(parse_vm_rss("VmRSS:\t12 MB\n"), None);
    }

    #[test]
    fn tree_follows_parents() {
        let p = |pid, ppid| ProcStat {
            pid,
            ppid,
            ticks: 0,
            start: 0,
        };
        let all = [
            p(1, 0),
            p(10, 1),
            p(11, 10),
            p(12, 10),
            p(13, 11),
            p(20, 1),
            p(21, 20),
        ];
        let mut pids: Vec<u32> = tree(&[10], &all).iter().map(|p| p.pid).collect();
        pids.sort_unstable();
        assert_eq!(pids, [10, 11, 12, 13]);
        let mut both: Vec<u32> = tree(&[11, 10, 21], &all).iter().map(|p| p.pid).collect();
        both.sort_unstable();
        assert_eq!(both, [10, 11, 12, 13, 21]);
        assert!(tree(&[99], &all).is_empty());
    }

    #[test]
    fn sampler_measures_this_process() {
        let sampler = Sampler::start(&[std::process::id()]).unwrap();
        let sampler_baseline = sampler.baseline_rss();
        let until = std::time::Instant::now() + Duration::from_millis(250);
        let mut spin = 0u64;
        while std::time::Instant::now() < until {
            spin = spin.wrapping_add(1);
        }
        assert!(spin > 0);
        let usage = sampler.finish();
        assert!(usage.cpu_seconds > 0.0, "{usage:?}");
        assert!(usage.peak_rss > 0, "{usage:?}");
        assert!(usage.peak_rss >= sampler_baseline, "{usage:?}");
    }

    #[test]
    fn sampler_refuses_missing_process() {
        assert!(Sampler::start(&[u32::MAX]).is_err());
    }
}
