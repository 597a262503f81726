//! `gateway config show|get|set`.

use std::collections::BTreeMap;

use serde::Serialize;
use tokgateway_core::config::registry::{self, KeyRef};
use tokgateway_core::config::{edit, value};
use tokgateway_core::secret::mask_value;

use super::load;
use crate::cli::{Cli, ConfigCommand};
use crate::{Failure, output};

#[derive(Serialize)]
struct Shown {
    value: String,
    origin: String,
}

pub fn run(cli: &Cli, command: &ConfigCommand) -> Result<(), Failure> {
    match command {
        ConfigCommand::Show { origin } => show(cli, *origin),
        ConfigCommand::Get { key } => get(cli, key),
        ConfigCommand::Set { key, value } => set(cli, key, value),
    }
}

fn show(cli: &Cli, with_origin: bool) -> Result<(), Failure> {
    let loaded = load(cli)?;
    let entries = loaded.masked();
    if cli.json {
        // Keys are unique; a BTreeMap keeps the JSON stable and sorted.
        let map: BTreeMap<String, Shown> = entries
            .into_iter()
            .map(|(k, value, origin)| (k, Shown { value, origin }))
            .collect();
        output::json(&map);
        return Ok(());
    }
    let mut text = String::new();
    for (k, v, origin) in entries {
        text.push_str(&k);
        text.push_str(" = ");
        text.push_str(&v);
        if with_origin {
            text.push_str("  (");
            text.push_str(&origin);
            text.push(')');
        }
        text.push('\n');
    }
    output::data(&text);
    // Validation problems are worth knowing when looking at the config.
    if let Err(e) = loaded.settings() {
        output::warn(cli.quiet, &e.to_string());
    }
    Ok(())
}

fn unknown(key: &str) -> Failure {
    let mut msg = format!("unknown key `{key}`");
    if let Some(s) = registry::suggest(key) {
        msg.push_str(&format!("; did you mean `{s}`?"));
    }
    Failure::runtime(msg)
}

fn get(cli: &Cli, key: &str) -> Result<(), Failure> {
    let class = registry::classify(key).ok_or_else(|| unknown(key))?;
    let loaded = load(cli)?;
    let entry = loaded.values.get(key);
    if entry.is_none() && matches!(class, KeyRef::Map { .. }) {
        return Err(Failure::runtime(format!("`{key}` is not set")));
    }
    let (v, origin) = entry.map_or((String::new(), "default".to_owned()), |e| {
        (mask_value(key, &e.value), e.origin.to_string())
    });
    if cli.json {
        output::json(&Shown { value: v, origin });
    } else {
        output::data(&v);
    }
    Ok(())
}

fn set(cli: &Cli, key: &str, new_value: &str) -> Result<(), Failure> {
    let kind = match registry::classify(key).ok_or_else(|| unknown(key))? {
        KeyRef::Fixed(def) => def.kind,
        KeyRef::Provider { field, .. } => field.kind,
        KeyRef::Map { .. } => registry::Kind::Text,
    };
    value::check(kind, new_value)
        .map_err(|m| Failure::usage(format!("invalid value for {key}: {m}")))?;
    let loaded = load(cli)?;
    let path = loaded.file_for(cli.config.env.as_deref());
    edit::set_in_file(&path, key, new_value)?;
    output::info(
        cli.quiet,
        &format!(
            "set {key} = {} in {}",
            mask_value(key, new_value),
            path.display()
        ),
    );
    Ok(())
}
