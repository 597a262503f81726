//! `gateway config set`: changing one key in an ini file while keeping its
//! comments and layout.

use std::path::Path;

use super::ConfigError;

/// Sets `key = value` in the ini file at `path`, creating the file (and its
/// directory) when missing. An existing line for the key is replaced; else the
/// line goes after the key's commented template line if there is one, else at
/// the end of its section, else in a new section at the end of the file.
pub fn set_in_file(path: &Path, key: &str, value: &str) -> Result<(), ConfigError> {
    let io = |e: std::io::Error| ConfigError::Io {
        path: path.to_owned(),
        message: e.to_string(),
    };
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(io(e)),
    };
    // Validate the file before changing it, so a broken file is reported, not rewritten.
    super::layers::parse_ini(path, &text)?;
    let updated = set_in_text(&text, key, value);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    // Write to a sibling and rename, so a crash never leaves a half-written file.
    let tmp = path.with_extension("ini.tmp");
    std::fs::write(&tmp, updated).map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)
}

/// The text with `key` set; see [`set_in_file`].
pub fn set_in_text(text: &str, key: &str, value: &str) -> String {
    let (section, name) = split_key(key);
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let new_line = format!("{name} = {value}");
    let mut current = String::new();
    let mut section_seen = section.is_empty();
    let mut last_in_section: Option<usize> = None;
    let mut template_line: Option<usize> = None;
    let mut first_section_line: Option<usize> = None;
    for (i, raw) in lines.iter().enumerate() {
        let l = raw.trim();
        if let Some(rest) = l.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
            current = rest.trim().to_owned();
            first_section_line.get_or_insert(i);
            if current == section {
                section_seen = true;
                last_in_section = Some(i);
            }
            continue;
        }
        if current != section {
            continue;
        }
        if let Some(k) = l.split(['=', ':']).next().map(str::trim) {
            if !l.starts_with(['#', ';']) && k == name {
                lines[i] = new_line;
                return join(lines);
            }
            let commented = l.trim_start_matches(['#', ';']).trim_start();
            if l.starts_with(['#', ';'])
                && commented.split(['=', ':']).next().map(str::trim) == Some(name)
                && commented.contains('=')
            {
                template_line = Some(i);
            }
        }
        if !l.is_empty() {
            last_in_section = Some(i);
        }
    }
    if let Some(i) = template_line.or(if section_seen { last_in_section } else { None }) {
        lines.insert(i + 1, new_line);
    } else if section.is_empty() && section_seen {
        // A top-level key goes before the first section.
        let at = first_section_line.unwrap_or(lines.len());
        lines.insert(at, new_line);
    } else {
        if lines.last().is_some_and(|l| !l.trim().is_empty()) {
            lines.push(String::new());
        }
        lines.push(format!("[{section}]"));
        lines.push(new_line);
    }
    join(lines)
}

/// Splits a dotted key into its ini section and name. Keys of map sections
/// may contain dots in their names (`routes.gpt-4.1*`), and provider
/// sections contain one (`provider.openai`).
fn split_key(key: &str) -> (&str, &str) {
    if key.starts_with("provider.") {
        return key.rsplit_once('.').unwrap_or(("", key));
    }
    for (section, _) in super::registry::MAP_SECTIONS {
        if let Some(rest) = key.strip_prefix(section).and_then(|r| r.strip_prefix('.')) {
            return (section, rest);
        }
    }
    key.split_once('.').unwrap_or(("", key))
}

fn join(lines: Vec<String>) -> String {
    let mut s = lines.join("\n");
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_existing() {
        let t = "[server]\nlisten = 1.2.3.4:1\n";
        assert_eq!(
            set_in_text(t, "server.listen", "127.0.0.1:9"),
            "[server]\nlisten = 127.0.0.1:9\n"
        );
    }

    #[test]
    fn after_template_line() {
        let t = "[server]\n# doc\n# listen = 127.0.0.1:8081\n\n# other\n# console = true\n";
        let out = set_in_text(t, "server.listen", "0.0.0.0:80");
        assert_eq!(
            out,
            "[server]\n# doc\n# listen = 127.0.0.1:8081\nlisten = 0.0.0.0:80\n\n# other\n# console = true\n"
        );
    }

    #[test]
    fn new_section_and_top_level() {
        assert_eq!(
            set_in_text("", "log.level", "debug"),
            "[log]\nlevel = debug\n"
        );
        assert_eq!(
            set_in_text("[a]\nb = 1\n", "environment", "live"),
            "environment = live\n[a]\nb = 1\n"
        );
        assert_eq!(
            set_in_text("[routes]\ngpt-* = openai\n", "routes.gpt-4.1*", "x"),
            "[routes]\ngpt-* = openai\ngpt-4.1* = x\n"
        );
        assert_eq!(
            set_in_text("", "provider.openai.api_key", "sk"),
            "[provider.openai]\napi_key = sk\n"
        );
    }
}
