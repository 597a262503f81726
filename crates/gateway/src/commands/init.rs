//! `gateway init`: writes the commented templates.

use std::path::PathBuf;

use tokgateway_core::config::{edit, template};

use crate::cli::{Cli, InitArgs};
use crate::{Failure, output};

pub fn run(cli: &Cli, args: &InitArgs) -> Result<(), Failure> {
    let dir = match &args.dir {
        Some(d) => d.clone(),
        None => {
            let opts = cli.config.load_options()?;
            match opts.config_dir {
                Some(d) => d,
                None => cli.config.load()?.config_dir,
            }
        }
    };
    let mut files: Vec<(PathBuf, String)> =
        vec![(dir.join("setting.ini"), template::setting_ini())];
    let mut envs: Vec<&str> = template::SHIPPED_ENVS.to_vec();
    if let Some(env) = cli.config.env.as_deref() {
        tokgateway_core::config::value::check(
            tokgateway_core::config::registry::Kind::EnvName,
            env,
        )
        .map_err(|m| Failure::usage(format!("--env: {m}")))?;
        // The base file selects this environment.
        files[0].1 = edit::set_in_text(&files[0].1, "environment", env);
        if !envs.contains(&env) {
            envs.push(env);
        }
    }
    for env in envs {
        files.push((
            dir.join(env).join("gateway.ini"),
            template::overlay_ini(env),
        ));
    }
    let existing: Vec<String> = files
        .iter()
        .filter(|(p, _)| p.exists())
        .map(|(p, _)| p.display().to_string())
        .collect();
    if !existing.is_empty() && !args.force {
        return Err(Failure::runtime(format!(
            "refusing to overwrite {} (use --force to replace)",
            existing.join(", ")
        )));
    }
    for (path, text) in &files {
        let io =
            |e: std::io::Error| Failure::runtime(format!("cannot write {}: {e}", path.display()));
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io)?;
        }
        std::fs::write(path, text).map_err(io)?;
    }
    if cli.json {
        let written: Vec<String> = files.iter().map(|(p, _)| p.display().to_string()).collect();
        output::json(&serde_json::json!({ "dir": dir.display().to_string(), "files": written }));
    } else {
        for (path, _) in &files {
            output::info(cli.quiet, &format!("wrote {}", path.display()));
        }
        output::info(
            cli.quiet,
            &format!(
                "\nhint: gatewayd --config {} runs with these files; `gateway config show --origin` shows the result",
                dir.display()
            ),
        );
    }
    Ok(())
}
