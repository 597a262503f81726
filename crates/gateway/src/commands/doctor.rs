//! `gateway doctor`: the machine, the resolved directories, configuration
//! problems and whether each provider's address accepts connections.

use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use serde::Serialize;
use tokgateway_core::config::settings::ProviderKind;
use tokgateway_core::gpu::{self, GpuInfo};
use tokgateway_core::system::SystemInfo;

use crate::cli::Cli;
use crate::{Failure, output};

#[derive(Serialize)]
struct Report {
    system: System,
    dirs: Dirs,
    config: ConfigReport,
    providers: Vec<Provider>,
}

#[derive(Serialize)]
struct System {
    os: String,
    arch: String,
    os_version: String,
    cpu_count: usize,
    memory_total_bytes: u64,
    in_container: bool,
    container_memory_limit_bytes: Option<u64>,
    container_cpu_quota: Option<f64>,
    gpus: Vec<GpuInfo>,
    version: &'static str,
}

#[derive(Serialize)]
struct Dirs {
    config: String,
    data: String,
    logs: String,
    cache: String,
    environment: String,
    files_read: Vec<String>,
}

#[derive(Serialize)]
struct ConfigReport {
    problems: Vec<String>,
}

#[derive(Serialize)]
struct Provider {
    name: String,
    reachable: bool,
    detail: String,
}

pub fn run(cli: &Cli) -> Result<(), Failure> {
    // Doctor reports a broken config instead of stopping at it, but a
    // malformed file leaves nothing to inspect.
    let loaded = cli.config.load()?;
    let info = SystemInfo::read();
    let mut problems = loaded.warnings.clone();
    let settings = loaded.settings();
    let providers = match &settings {
        Ok(s) => s.providers.iter().map(check_provider).collect(),
        Err(e) => {
            problems.push(e.to_string());
            Vec::new()
        }
    };
    let report = Report {
        system: System {
            os: info.os.clone(),
            arch: info.arch.clone(),
            os_version: info.os_version.clone(),
            cpu_count: info.cpu_count,
            memory_total_bytes: info.total_memory_bytes,
            in_container: info.in_container,
            container_memory_limit_bytes: info.cgroup.memory_bytes,
            container_cpu_quota: info.cgroup.cpus,
            gpus: gpu::probe(),
            version: tokgateway_core::VERSION,
        },
        dirs: Dirs {
            config: loaded.config_dir.display().to_string(),
            data: loaded.dirs.data.display().to_string(),
            logs: loaded.dirs.logs.display().to_string(),
            cache: loaded.dirs.cache.display().to_string(),
            environment: loaded.environment.clone(),
            files_read: loaded
                .files_read
                .iter()
                .map(|p| p.display().to_string())
                .collect(),
        },
        config: ConfigReport { problems },
        providers,
    };
    if cli.json {
        output::json(&report);
    } else {
        output::data(&render(&report));
    }
    Ok(())
}

fn check_provider(p: &tokgateway_core::config::settings::ProviderSettings) -> Provider {
    let (reachable, detail) = match p.kind {
        ProviderKind::Loopback => (true, "built-in".to_owned()),
        _ => probe_url(&p.base_url),
    };
    let detail = if p.kind != ProviderKind::Loopback && p.api_key.is_none() {
        format!("{detail}; no API key configured")
    } else {
        detail
    };
    Provider {
        name: p.name.clone(),
        reachable,
        detail,
    }
}

/// Opens (and closes) a TCP connection to the URL's host and port.
fn probe_url(url: &str) -> (bool, String) {
    let Some((scheme, rest)) = url.split_once("://") else {
        return (false, format!("`{url}` is not a URL"));
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let authority = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let default_port = if scheme.eq_ignore_ascii_case("https") {
        443
    } else {
        80
    };
    let has_port = if authority.starts_with('[') {
        authority.contains("]:")
    } else {
        authority.contains(':')
    };
    let target = if has_port {
        authority.to_owned()
    } else {
        format!("{authority}:{default_port}")
    };
    let addrs = match target.to_socket_addrs() {
        Ok(a) => a.collect::<Vec<_>>(),
        Err(e) => return (false, format!("cannot resolve {target}: {e}")),
    };
    let Some(addr) = addrs.first() else {
        return (false, format!("{target} resolves to no address"));
    };
    match TcpStream::connect_timeout(addr, Duration::from_secs(3)) {
        Ok(_) => (true, format!("{target} accepts connections")),
        Err(e) => (false, format!("cannot connect to {target}: {e}")),
    }
}

fn render(r: &Report) -> String {
    let s = &r.system;
    let gib = |b: u64| {
        #[allow(clippy::cast_precision_loss)]
        let v = b as f64 / f64::from(1u32 << 30);
        format!("{v:.1} GiB")
    };
    let mut out = String::new();
    out.push_str(&format!("gateway {}\n\nSystem\n", s.version));
    out.push_str(&format!(
        "  os:          {} {} ({})\n",
        s.os, s.arch, s.os_version
    ));
    out.push_str(&format!("  cpus:        {}\n", s.cpu_count));
    out.push_str(&format!("  memory:      {}\n", gib(s.memory_total_bytes)));
    out.push_str(&format!(
        "  container:   {}{}{}\n",
        if s.in_container { "yes" } else { "no" },
        s.container_memory_limit_bytes
            .map_or(String::new(), |m| format!(", memory limit {}", gib(m))),
        s.container_cpu_quota
            .map_or(String::new(), |c| format!(", cpu quota {c:.2}")),
    ));
    if s.gpus.is_empty() {
        out.push_str("  gpus:        none found\n");
    }
    for g in &s.gpus {
        out.push_str(&format!(
            "  gpu {}:       {} ({} of {})\n",
            g.index,
            g.name,
            gib(g.memory_used_bytes),
            gib(g.memory_total_bytes)
        ));
    }
    let d = &r.dirs;
    out.push_str(&format!(
        "\nDirectories\n  config:      {}\n  data:        {}\n  logs:        {}\n  cache:       {}\n  environment: {}\n",
        d.config, d.data, d.logs, d.cache, d.environment
    ));
    if d.files_read.is_empty() {
        out.push_str("  files read:  none (built-in defaults)\n");
    }
    for f in &d.files_read {
        out.push_str(&format!("  file read:   {f}\n"));
    }
    out.push_str("\nConfiguration\n");
    if r.config.problems.is_empty() {
        out.push_str("  no problems\n");
    }
    for p in &r.config.problems {
        out.push_str(&format!("  problem: {p}\n"));
    }
    out.push_str("\nProviders\n");
    for p in &r.providers {
        out.push_str(&format!(
            "  {:<12} {}  {}\n",
            p.name,
            if p.reachable { "ok" } else { "UNREACHABLE" },
            p.detail
        ));
    }
    out
}
