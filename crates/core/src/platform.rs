//! The platform adapter: the only module with OS-specific code. It applies
//! resource limits and reads peak memory use. Where an OS lacks a feature it
//! says so in the report instead of failing.
//!
//! - Linux and macOS: rlimits. `limits.max_memory` becomes `RLIMIT_DATA`
//!   (heap and private anonymous memory; `RLIMIT_AS` would also count the
//!   address space reserved but never touched by allocator arenas and thread
//!   stacks). `limits.max_open_files` becomes `RLIMIT_NOFILE`; when unset, the
//!   soft limit is raised to the hard limit so many streams can be held open.
//! - Windows: no limit is enforced here; the report carries a warning, and
//!   gatewayd's memory shedding still applies.

/// What [`apply_limits`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LimitsReport {
    /// Limits now in force, described for the log.
    pub applied: Vec<String>,
    /// Limits that could not be applied, and why.
    pub warnings: Vec<String>,
}

/// Applies the memory and open-file limits to this process.
pub fn apply_limits(max_memory: Option<u64>, max_open_files: Option<u64>) -> LimitsReport {
    imp::apply_limits(max_memory, max_open_files)
}

/// The process's peak resident set size in bytes, when the OS reports it.
pub fn peak_rss_bytes() -> Option<u64> {
    imp::peak_rss_bytes()
}

/// Converts `ru_maxrss` to bytes: Linux reports KiB, macOS bytes.
pub const fn maxrss_to_bytes(maxrss: u64, macos: bool) -> u64 {
    if macos {
        maxrss
    } else {
        maxrss.saturating_mul(1024)
    }
}

#[cfg(unix)]
#[allow(unsafe_code)]
mod imp {
    use super::LimitsReport;

    fn get(resource: libc::c_int) -> Option<libc::rlimit> {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: `lim` is a valid, writable rlimit; getrlimit only writes it.
        let rc = unsafe { libc::getrlimit(resource as _, &mut lim) };
        (rc == 0).then_some(lim)
    }

    fn set(resource: libc::c_int, lim: libc::rlimit) -> std::io::Result<()> {
        // SAFETY: `lim` is a valid rlimit read by setrlimit only.
        let rc = unsafe { libc::setrlimit(resource as _, &lim) };
        if rc == 0 {
            Ok(())
        } else {
            Err(std::io::Error::last_os_error())
        }
    }

    #[allow(clippy::useless_conversion)]
    fn rlim(v: u64) -> libc::rlim_t {
        libc::rlim_t::try_from(v).unwrap_or(libc::RLIM_INFINITY)
    }

    pub fn apply_limits(max_memory: Option<u64>, max_open_files: Option<u64>) -> LimitsReport {
        let mut report = LimitsReport::default();
        if let Some(bytes) = max_memory {
            match get(libc::RLIMIT_DATA as libc::c_int) {
                Some(cur) => {
                    let want = rlim(bytes).min(cur.rlim_max);
                    match set(
                        libc::RLIMIT_DATA as libc::c_int,
                        libc::rlimit {
                            rlim_cur: want,
                            rlim_max: cur.rlim_max,
                        },
                    ) {
                        Ok(()) => {
                            report
                                .applied
                                .push(format!("memory: RLIMIT_DATA = {want} bytes"));
                            if cfg!(target_os = "macos") {
                                report.warnings.push(
                                    "memory: macOS does not enforce RLIMIT_DATA for all allocations; memory shedding still applies".to_owned(),
                                );
                            }
                        }
                        Err(e) => report
                            .warnings
                            .push(format!("memory: cannot set RLIMIT_DATA: {e}")),
                    }
                }
                None => report
                    .warnings
                    .push("memory: cannot read RLIMIT_DATA".to_owned()),
            }
        }
        match get(libc::RLIMIT_NOFILE as libc::c_int) {
            Some(cur) => {
                let hard = cur.rlim_max;
                let want = match max_open_files {
                    Some(n) => {
                        let n = rlim(n);
                        if n > hard && hard != libc::RLIM_INFINITY {
                            report.warnings.push(format!(
                                "open files: {n} is above the hard limit {hard}; using {hard}"
                            ));
                            hard
                        } else {
                            n
                        }
                    }
                    // Raise the soft limit as far as allowed (macOS caps it lower than
                    // an infinite hard limit, so stay at a sane ceiling there).
                    None if hard == libc::RLIM_INFINITY => rlim(if cfg!(target_os = "macos") {
                        10_240
                    } else {
                        1 << 20
                    }),
                    None => hard,
                };
                match set(
                    libc::RLIMIT_NOFILE as libc::c_int,
                    libc::rlimit {
                        rlim_cur: want,
                        rlim_max: hard,
                    },
                ) {
                    Ok(()) => report.applied.push(format!("open files: {want}")),
                    Err(e) => report.warnings.push(format!(
                        "open files: cannot set RLIMIT_NOFILE to {want}: {e}"
                    )),
                }
            }
            None => report
                .warnings
                .push("open files: cannot read RLIMIT_NOFILE".to_owned()),
        }
        report
    }

    pub fn peak_rss_bytes() -> Option<u64> {
        // SAFETY: an all-zero rusage is a valid value; getrusage only writes it.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: `usage` is a valid, writable rusage.
        let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
        let maxrss = u64::try_from(usage.ru_maxrss).ok()?;
        (rc == 0).then(|| super::maxrss_to_bytes(maxrss, cfg!(target_os = "macos")))
    }
}

#[cfg(not(unix))]
mod imp {
    use super::LimitsReport;

    pub fn apply_limits(max_memory: Option<u64>, max_open_files: Option<u64>) -> LimitsReport {
        let mut report = LimitsReport::default();
        if max_memory.is_some() {
            report.warnings.push(
                "memory: limits.max_memory is not enforced by the OS on this platform; memory shedding still applies".to_owned(),
            );
        }
        if max_open_files.is_some() {
            report.warnings.push(
                "open files: limits.max_open_files is not enforced on this platform".to_owned(),
            );
        }
        report
    }

    pub fn peak_rss_bytes() -> Option<u64> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maxrss_units() {
        assert_eq!(maxrss_to_bytes(2048, false), 2 * 1024 * 1024);
        assert_eq!(maxrss_to_bytes(2048, true), 2048);
    }

    #[cfg(unix)]
    #[test]
    fn peak_rss_is_reported() {
        let peak = peak_rss_bytes().expect("unix reports ru_maxrss");
        assert!(peak > 1024 * 1024, "peak RSS {peak} is implausibly small");
    }

    #[cfg(unix)]
    #[test]
    fn open_files_limit_applies() {
        // Lowering the soft limit is always allowed; run in a child process so
        // the test binary keeps its own limits.
        if std::env::var_os("TGW_LIMITS_CHILD").is_some() {
            let r = apply_limits(None, Some(512));
            assert!(r.applied.iter().any(|a| a == "open files: 512"), "{r:?}");
            return;
        }
        let exe = std::env::current_exe().unwrap();
        let status = std::process::Command::new(exe)
            .args([
                "--exact",
                "platform::tests::open_files_limit_applies",
                "--nocapture",
            ])
            .env("TGW_LIMITS_CHILD", "1")
            .status()
            .unwrap();
        assert!(status.success());
    }
}
