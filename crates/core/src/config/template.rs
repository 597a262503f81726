//! Renders the commented `init` templates and the configuration reference
//! from the key registry. The repo's `config/` and `docs/configuration.md`
//! are these renderings; a test fails when they drift.

use std::fmt::Write as _;

use super::registry::{KEYS, KeyDef, MAP_SECTIONS, PROVIDER_KEYS};
use crate::env::env_var_for_key;

/// The environments `gateway init` writes overlays for.
pub const SHIPPED_ENVS: &[&str] = &["dev", "test", "live"];

fn default_text(k: &KeyDef) -> String {
    match (k.computed_default, k.default) {
        (Some(c), _) => c.to_owned(),
        (None, "") => "not set".to_owned(),
        (None, d) => d.to_owned(),
    }
}

fn assignment(name: &str, value: &str) -> String {
    if value.is_empty() {
        format!("{name} =")
    } else {
        format!("{name} = {value}")
    }
}

/// The base file, `setting.ini`: every key commented out with its doc,
/// default and environment variable.
pub fn setting_ini() -> String {
    let mut out = String::new();
    out.push_str(
        "# tokgateway configuration: setting.ini (the base layer).\n\
         #\n\
         # Precedence, highest first: command-line flag (--set KEY=VALUE) >\n\
         # environment variable (TOKGATEWAY_SECTION_KEY) > <environment>/gateway.ini >\n\
         # this file > built-in default. `gateway config show --origin` shows where\n\
         # every effective value comes from.\n\
         #\n\
         # Every key is listed below, commented out, with its default. Uncomment a\n\
         # line to change it. Comments go on their own lines. Sizes take units\n\
         # (512MiB, 10MB, 1GiB); durations take 250ms, 30s, 5m.\n",
    );
    let mut section = "";
    for k in KEYS {
        let (sec, name) = k.name.split_once('.').unwrap_or(("", k.name));
        if sec != section {
            let _ = write!(out, "\n[{sec}]\n");
            section = sec;
        }
        let _ = write!(
            out,
            "\n# {}\n# default: {} | env: {}\n# {}\n",
            k.doc,
            default_text(k),
            env_var_for_key(k.name),
            assignment(
                name,
                if k.computed_default.is_some() {
                    ""
                } else {
                    k.default
                }
            )
        );
    }
    out.push_str(
        "\n# Providers: one [provider.NAME] section each. The built-in `loopback`\n\
         # provider always exists and answers the model `loopback`.\n",
    );
    for name in ["openai", "anthropic", "gemini"] {
        let _ = write!(out, "\n# [provider.{name}]\n");
        for f in PROVIDER_KEYS
            .iter()
            .filter(|f| f.name != "chunk_delay" && (f.name != "responses" || name == "openai"))
        {
            let example = match (name, f.name) {
                (_, "type") => name.to_owned(),
                ("openai", "base_url") => "https://api.openai.com/v1".to_owned(),
                ("anthropic", "base_url") => "https://api.anthropic.com".to_owned(),
                ("gemini", "base_url") => "https://generativelanguage.googleapis.com".to_owned(),
                ("gemini", "models") => "gemini-2.5-pro, gemini-2.5-flash".to_owned(),
                (_, "api_key") => String::new(),
                ("openai", "models") => "gpt-4o, gpt-4o-mini".to_owned(),
                ("anthropic", "models") => "claude-sonnet-4-5, claude-haiku-4-5".to_owned(),
                _ => f.default.to_owned(),
            };
            let _ = write!(
                out,
                "# {} (default: {}; env: {})\n# {}\n",
                f.doc,
                default_text(f),
                env_var_for_key(&format!("provider.{name}.{}", f.name)),
                assignment(f.name, &example)
            );
        }
    }
    for (section, doc) in MAP_SECTIONS {
        let _ = write!(out, "\n# {doc}\n[{section}]\n");
        let example = match *section {
            "routes" => "# claude-* = anthropic\n# gpt-* = openai, anthropic\n",
            "aliases" => "# fast = gpt-4o-mini\n",
            _ => "# gpt-4o-mini = 0.15,0.60\n# claude-sonnet-4-5* = 3,15\n",
        };
        out.push_str(example);
    }
    out
}

/// An environment overlay, `<env>/gateway.ini`.
pub fn overlay_ini(env: &str) -> String {
    let mut out = format!(
        "# tokgateway configuration: the `{env}` overlay ({env}/gateway.ini).\n\
         # Loaded on top of setting.ini when the environment is `{env}`\n\
         # (--env {env}, TOKGATEWAY_ENV={env}, or `environment = {env}` in setting.ini).\n\
         # Any key of setting.ini may be set here; environment variables and flags\n\
         # still take precedence.\n\n[auth]\n"
    );
    match env {
        "dev" => out.push_str("# Local development: no API key needed (gatewayd only listens on loopback then).\nenabled = false\n"),
        "live" => out.push_str("# Production: every request needs an API key.\nenabled = true\n"),
        _ => out.push_str("# Tests run with auth on, as in production.\nenabled = true\n"),
    }
    if env == "live" {
        out.push_str("\n[log]\n# One JSON object per line, for log collectors.\nformat = json\n");
    }
    out
}

/// The generated reference section of `docs/configuration.md`.
pub fn reference_markdown() -> String {
    let mut out =
        String::from("| key | default | environment variable | meaning |\n|---|---|---|---|\n");
    for k in KEYS {
        let _ = writeln!(
            out,
            "| `{}` | {} | `{}` | {} |",
            k.name,
            default_text(k),
            env_var_for_key(k.name),
            k.doc
        );
    }
    out.push_str("\nPer provider, in a `[provider.NAME]` section:\n\n| key | default | environment variable | meaning |\n|---|---|---|---|\n");
    for f in PROVIDER_KEYS {
        let _ = writeln!(
            out,
            "| `provider.NAME.{}` | {} | `TOKGATEWAY_PROVIDER_<NAME>_{}` | {} |",
            f.name,
            default_text(f),
            f.name.to_ascii_uppercase(),
            f.doc
        );
    }
    out.push_str("\nSections whose keys you choose:\n\n");
    for (section, doc) in MAP_SECTIONS {
        let _ = writeln!(out, "- `[{section}]`: {doc}");
    }
    out
}

/// Markers around the generated part of `docs/configuration.md`.
pub const DOC_BEGIN: &str = "<!-- BEGIN GENERATED: gateway key registry -->";
/// See [`DOC_BEGIN`].
pub const DOC_END: &str = "<!-- END GENERATED -->";
