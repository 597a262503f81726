//! Embeds the browser console's built bundle (`fe/dist`, or the directory in
//! `TOKGATEWAY_CONSOLE_BUNDLE`) into gatewayd when it exists at build time.
//! Without it gatewayd still builds; `/console/` then says how to get it.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::{env, fs};

fn files(dir: &Path, base: &Path, out: &mut Vec<(String, PathBuf)>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            files(&path, base, out);
        } else if let Ok(rel) = path.strip_prefix(base) {
            let rel: Vec<String> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            out.push((rel.join("/"), path));
        }
    }
}

/// FNV-1a: a stable content tag for the ETag header (not a security hash).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

fn main() {
    println!("cargo::rerun-if-env-changed=TOKGATEWAY_CONSOLE_BUNDLE");
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap_or_default());
    let bundle = env::var_os("TOKGATEWAY_CONSOLE_BUNDLE")
        .map(PathBuf::from)
        .unwrap_or_else(|| manifest.join("../../fe/dist"));
    println!("cargo::rerun-if-changed={}", bundle.display());

    let mut found = Vec::new();
    if bundle.join("index.html").is_file() {
        files(&bundle, &bundle, &mut found);
    }
    found.sort();
    let mut code = String::from("pub static FILES: &[Asset] = &[\n");
    for (rel, path) in &found {
        let Ok(bytes) = fs::read(path) else { continue };
        let _ = writeln!(
            code,
            "    Asset {{ path: {rel:?}, body: include_bytes!({:?}), etag: \"\\\"{:016x}\\\"\" }},",
            path.display().to_string(),
            fnv1a(&bytes)
        );
    }
    code.push_str("];\n");
    let out = PathBuf::from(env::var("OUT_DIR").unwrap_or_default()).join("console_files.rs");
    if let Err(e) = fs::write(&out, code) {
        println!("cargo::warning=cannot write {}: {e}", out.display());
    }
}
