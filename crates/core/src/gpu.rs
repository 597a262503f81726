//! NVIDIA GPUs through NVML, loaded at run time. Without the driver library
//! (no GPU, macOS, a container without it) the probe returns an empty list,
//! never an error.

use std::sync::OnceLock;

use nvml_wrapper::Nvml;
use serde::Serialize;

/// One GPU as `/metrics/resource` reports it.
#[derive(Debug, Clone, Serialize)]
pub struct GpuInfo {
    pub index: u32,
    pub name: String,
    pub utilization_percent: u32,
    pub memory_used_bytes: u64,
    pub memory_total_bytes: u64,
}

fn nvml() -> Option<&'static Nvml> {
    static NVML: OnceLock<Option<Nvml>> = OnceLock::new();
    NVML.get_or_init(|| Nvml::init().ok()).as_ref()
}

/// The GPUs NVML can see; empty when NVML is absent or fails.
pub fn probe() -> Vec<GpuInfo> {
    let Some(nvml) = nvml() else {
        return Vec::new();
    };
    let count = nvml.device_count().unwrap_or(0);
    (0..count)
        .filter_map(|index| {
            let d = nvml.device_by_index(index).ok()?;
            let mem = d.memory_info().ok()?;
            Some(GpuInfo {
                index,
                name: d.name().unwrap_or_else(|_| "unknown".to_owned()),
                utilization_percent: d.utilization_rates().map_or(0, |u| u.gpu),
                memory_used_bytes: mem.used,
                memory_total_bytes: mem.total,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn probe_never_fails() {
        // On machines without NVIDIA's library this is empty; with it, every
        // GPU reports a total memory.
        for g in super::probe() {
            assert!(g.memory_total_bytes > 0);
        }
    }
}
