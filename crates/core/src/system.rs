//! What machine we run on ([`SystemInfo`]), what a container allows
//! ([`CgroupLimits`]), and what this process uses ([`ResourceMonitor`]).

use std::path::Path;
use std::time::Instant;

use serde::Serialize;
use sysinfo::{Pid, ProcessRefreshKind, ProcessesToUpdate, System};

use crate::gpu::{self, GpuInfo};

/// Memory and CPU limits of the control group this process runs in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct CgroupLimits {
    /// `memory.max` (v2) or `memory.limit_in_bytes` (v1), when limited.
    pub memory_bytes: Option<u64>,
    /// `cpu.max` (v2) or `cfs_quota_us / cfs_period_us` (v1), in CPUs.
    pub cpus: Option<f64>,
    /// 1 or 2 when a cgroup hierarchy was found.
    pub version: Option<u8>,
}

/// Values above this are "no limit" in cgroup v1 (it reports a page-rounded i64::MAX).
const V1_UNLIMITED: u64 = 1 << 60;

impl CgroupLimits {
    /// Reads the limits of this process (Linux only; elsewhere none).
    pub fn read() -> Self {
        if cfg!(target_os = "linux") {
            Self::read_from(Path::new("/"))
        } else {
            Self::default()
        }
    }

    /// Reads the limits from a file-system root (tests pass a fake tree).
    pub fn read_from(root: &Path) -> Self {
        let read = |p: &str| std::fs::read_to_string(root.join(p.trim_start_matches('/'))).ok();
        let own = read("proc/self/cgroup").unwrap_or_default();
        // cgroup v2: a single "0::/path" line and a unified hierarchy.
        if root.join("sys/fs/cgroup/cgroup.controllers").exists() {
            let path = own
                .lines()
                .find_map(|l| l.strip_prefix("0::"))
                .unwrap_or("/")
                .trim()
                .trim_start_matches('/');
            let candidates = [format!("sys/fs/cgroup/{path}"), "sys/fs/cgroup".to_owned()];
            let mut limits = Self {
                version: Some(2),
                ..Self::default()
            };
            for dir in &candidates {
                let dir = dir.trim_end_matches('/');
                if limits.memory_bytes.is_none() {
                    limits.memory_bytes =
                        read(&format!("{dir}/memory.max")).and_then(|s| s.trim().parse().ok());
                }
                if limits.cpus.is_none() {
                    limits.cpus = read(&format!("{dir}/cpu.max")).and_then(|s| {
                        let mut it = s.split_whitespace();
                        let quota: f64 = it.next()?.parse().ok()?;
                        let period: f64 = it.next()?.parse().ok()?;
                        (period > 0.0).then(|| quota / period)
                    });
                }
            }
            return limits;
        }
        // cgroup v1: one hierarchy per controller.
        let v1_path = |controller: &str| {
            own.lines()
                .find_map(|l| {
                    let mut parts = l.splitn(3, ':');
                    let (_, ctrls, path) = (parts.next()?, parts.next()?, parts.next()?);
                    ctrls
                        .split(',')
                        .any(|c| c == controller)
                        .then(|| path.trim().trim_start_matches('/').to_owned())
                })
                .unwrap_or_default()
        };
        let mem_dir = root.join("sys/fs/cgroup/memory");
        let cpu_dir = root.join("sys/fs/cgroup/cpu");
        if !mem_dir.exists() && !cpu_dir.exists() {
            return Self::default();
        }
        let first = |rel: [String; 2]| rel.into_iter().find_map(|p| read(&p));
        let mp = v1_path("memory");
        let memory_bytes = first([
            format!("sys/fs/cgroup/memory/{mp}/memory.limit_in_bytes"),
            "sys/fs/cgroup/memory/memory.limit_in_bytes".to_owned(),
        ])
        .and_then(|s| s.trim().parse::<u64>().ok())
        .filter(|&v| v < V1_UNLIMITED);
        let cp = v1_path("cpu");
        let quota = first([
            format!("sys/fs/cgroup/cpu/{cp}/cpu.cfs_quota_us"),
            "sys/fs/cgroup/cpu/cpu.cfs_quota_us".to_owned(),
        ])
        .and_then(|s| s.trim().parse::<i64>().ok());
        let period = first([
            format!("sys/fs/cgroup/cpu/{cp}/cpu.cfs_period_us"),
            "sys/fs/cgroup/cpu/cpu.cfs_period_us".to_owned(),
        ])
        .and_then(|s| s.trim().parse::<i64>().ok());
        #[allow(clippy::cast_precision_loss)]
        let cpus = match (quota, period) {
            (Some(q), Some(p)) if q > 0 && p > 0 => Some(q as f64 / p as f64),
            _ => None,
        };
        Self {
            memory_bytes,
            cpus,
            version: Some(1),
        }
    }
}

/// True when this process runs in a container.
pub fn in_container() -> bool {
    if !cfg!(target_os = "linux") {
        return false;
    }
    in_container_at(Path::new("/"), std::env::var_os("container").is_some())
}

/// Container detection against a file-system root.
pub fn in_container_at(root: &Path, container_env: bool) -> bool {
    if container_env || root.join(".dockerenv").exists() || root.join("run/.containerenv").exists()
    {
        return true;
    }
    std::fs::read_to_string(root.join("proc/1/cgroup")).is_ok_and(|s| {
        ["docker", "kubepods", "containerd", "lxc", "libpod"]
            .iter()
            .any(|m| s.contains(m))
    })
}

/// Static facts about the machine.
#[derive(Debug, Clone, Serialize)]
pub struct SystemInfo {
    pub os: String,
    pub arch: String,
    pub os_version: String,
    pub cpu_count: usize,
    pub total_memory_bytes: u64,
    pub in_container: bool,
    pub cgroup: CgroupLimits,
}

impl SystemInfo {
    /// Reads the facts of this machine.
    pub fn read() -> Self {
        let mut sys = System::new();
        sys.refresh_memory();
        Self {
            os: std::env::consts::OS.to_owned(),
            arch: std::env::consts::ARCH.to_owned(),
            os_version: System::long_os_version().unwrap_or_else(|| "unknown".to_owned()),
            cpu_count: std::thread::available_parallelism().map_or(1, std::num::NonZero::get),
            total_memory_bytes: sys.total_memory(),
            in_container: in_container(),
            cgroup: CgroupLimits::read(),
        }
    }

    /// The memory limit that applies when none is configured: the container's
    /// limit, else the machine's memory.
    pub fn effective_memory_limit(&self) -> u64 {
        self.cgroup.memory_bytes.unwrap_or(self.total_memory_bytes)
    }
}

/// `platform` in `/metrics/resource`.
#[derive(Debug, Clone, Serialize)]
pub struct PlatformInfo {
    pub os: String,
    pub arch: String,
    pub os_version: String,
    pub in_container: bool,
}

/// What `/metrics/resource` reports (SPEC §5).
#[derive(Debug, Clone, Serialize)]
pub struct ResourceUsage {
    /// Process CPU use over the last sampling interval, as a percentage of
    /// all the CPUs the process may use (0–100).
    pub cpu_percent: f64,
    pub cpu_time_seconds: f64,
    /// Resident set size.
    pub memory_bytes: u64,
    pub memory_percent: f64,
    pub memory_limit_bytes: u64,
    pub memory_limit_exceeded: bool,
    pub uptime_seconds: u64,
    pub platform: PlatformInfo,
    pub gpu_available: bool,
    pub gpus: Vec<GpuInfo>,
}

/// Samples this process's resource use. Keep one and call
/// [`ResourceMonitor::sample`] periodically: CPU % is measured between samples.
pub struct ResourceMonitor {
    sys: System,
    pid: Pid,
    started: Instant,
    info: SystemInfo,
    limit: Option<u64>,
}

impl ResourceMonitor {
    /// A monitor whose memory limit is `limit` (else the container's, else
    /// the machine's memory).
    pub fn new(limit: Option<u64>) -> Self {
        Self {
            sys: System::new(),
            pid: Pid::from_u32(std::process::id()),
            started: Instant::now(),
            info: SystemInfo::read(),
            limit,
        }
    }

    /// The configured or detected memory limit.
    pub fn memory_limit(&self) -> u64 {
        self.limit
            .unwrap_or_else(|| self.info.effective_memory_limit())
    }

    /// Machine facts read at start.
    pub fn info(&self) -> &SystemInfo {
        &self.info
    }

    /// Only the resident set size (cheap; for memory shedding).
    pub fn rss_bytes(&mut self) -> u64 {
        self.refresh(false);
        self.sys
            .process(self.pid)
            .map_or(0, sysinfo::Process::memory)
    }

    fn refresh(&mut self, cpu: bool) {
        let mut kind = ProcessRefreshKind::nothing().with_memory();
        if cpu {
            kind = kind.with_cpu();
        }
        self.sys
            .refresh_processes_specifics(ProcessesToUpdate::Some(&[self.pid]), false, kind);
    }

    /// A full sample, GPUs included.
    pub fn sample(&mut self) -> ResourceUsage {
        self.refresh(true);
        let (cpu, cpu_time, rss) = self.sys.process(self.pid).map_or((0.0, 0.0, 0), |p| {
            #[allow(clippy::cast_precision_loss)]
            (
                f64::from(p.cpu_usage()),
                p.accumulated_cpu_time() as f64 / 1000.0,
                p.memory(),
            )
        });
        let limit = self.memory_limit();
        let gpus = gpu::probe();
        #[allow(clippy::cast_precision_loss)]
        let cpus = self
            .info
            .cgroup
            .cpus
            .unwrap_or(self.info.cpu_count as f64)
            .max(1.0);
        #[allow(clippy::cast_precision_loss)]
        ResourceUsage {
            cpu_percent: round2((cpu / cpus).min(100.0)),
            cpu_time_seconds: round2(cpu_time),
            memory_bytes: rss,
            memory_percent: if limit > 0 {
                round2(rss as f64 * 100.0 / limit as f64)
            } else {
                0.0
            },
            memory_limit_bytes: limit,
            memory_limit_exceeded: limit > 0 && rss >= limit,
            uptime_seconds: self.started.elapsed().as_secs(),
            platform: PlatformInfo {
                os: self.info.os.clone(),
                arch: self.info.arch.clone(),
                os_version: self.info.os_version.clone(),
                in_container: self.info.in_container,
            },
            gpu_available: !gpus.is_empty(),
            gpus,
        }
    }
}

fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (path, content) in files {
            let p = dir.path().join(path);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, content).unwrap();
        }
        dir
    }

    #[test]
    fn cgroup_v2_limits() {
        let t = tree(&[
            ("proc/self/cgroup", "0::/app.slice\n"),
            ("sys/fs/cgroup/cgroup.controllers", "cpu memory\n"),
            ("sys/fs/cgroup/app.slice/memory.max", "536870912\n"),
            ("sys/fs/cgroup/app.slice/cpu.max", "150000 100000\n"),
        ]);
        let l = CgroupLimits::read_from(t.path());
        assert_eq!(l.version, Some(2));
        assert_eq!(l.memory_bytes, Some(512 << 20));
        assert_eq!(l.cpus, Some(1.5));
    }

    #[test]
    fn cgroup_v2_unlimited() {
        let t = tree(&[
            ("proc/self/cgroup", "0::/\n"),
            ("sys/fs/cgroup/cgroup.controllers", "cpu memory\n"),
            ("sys/fs/cgroup/memory.max", "max\n"),
            ("sys/fs/cgroup/cpu.max", "max 100000\n"),
        ]);
        let l = CgroupLimits::read_from(t.path());
        assert_eq!((l.memory_bytes, l.cpus), (None, None));
    }

    #[test]
    fn cgroup_v1_limits() {
        let t = tree(&[
            ("proc/self/cgroup", "4:memory:/\n3:cpu,cpuacct:/\n"),
            ("sys/fs/cgroup/memory/memory.limit_in_bytes", "1073741824\n"),
            ("sys/fs/cgroup/cpu/cpu.cfs_quota_us", "200000\n"),
            ("sys/fs/cgroup/cpu/cpu.cfs_period_us", "100000\n"),
        ]);
        let l = CgroupLimits::read_from(t.path());
        assert_eq!(l.version, Some(1));
        assert_eq!(l.memory_bytes, Some(1 << 30));
        assert_eq!(l.cpus, Some(2.0));

        let t = tree(&[
            ("proc/self/cgroup", "4:memory:/\n"),
            (
                "sys/fs/cgroup/memory/memory.limit_in_bytes",
                "9223372036854771712\n",
            ),
            ("sys/fs/cgroup/cpu/cpu.cfs_quota_us", "-1\n"),
            ("sys/fs/cgroup/cpu/cpu.cfs_period_us", "100000\n"),
        ]);
        let l = CgroupLimits::read_from(t.path());
        assert_eq!((l.memory_bytes, l.cpus), (None, None));
    }

    #[test]
    fn no_cgroup() {
        let t = tree(&[]);
        assert_eq!(CgroupLimits::read_from(t.path()), CgroupLimits::default());
    }

    #[test]
    fn container_detection() {
        assert!(in_container_at(tree(&[(".dockerenv", "")]).path(), false));
        assert!(in_container_at(
            tree(&[("proc/1/cgroup", "0::/kubepods/pod1\n")]).path(),
            false
        ));
        assert!(in_container_at(tree(&[]).path(), true));
        assert!(!in_container_at(
            tree(&[("proc/1/cgroup", "0::/init.scope\n")]).path(),
            false
        ));
    }

    #[test]
    fn sampling_reports_this_process() {
        let mut m = ResourceMonitor::new(Some(1 << 40));
        let s = m.sample();
        assert!(s.memory_bytes > 0, "RSS should be positive");
        assert_eq!(s.memory_limit_bytes, 1 << 40);
        assert!(!s.memory_limit_exceeded);
        assert_eq!(s.gpu_available, !s.gpus.is_empty());
        let tiny = ResourceMonitor::new(Some(1)).sample();
        assert!(tiny.memory_limit_exceeded);
    }
}
