//! Checking a textual value against its [`Kind`].

use std::net::{SocketAddr, ToSocketAddrs};

use super::registry::{Kind, LOG_LEVELS};
use super::units;

/// Checks `value` against `kind`, returning a message saying what is wrong.
pub fn check(kind: Kind, value: &str) -> Result<(), String> {
    let v = value.trim();
    match kind {
        Kind::Text | Kind::Path | Kind::List => Ok(()),
        Kind::EnvName => {
            if !v.is_empty()
                && v.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                Ok(())
            } else {
                Err(format!(
                    "`{value}` is not an environment name (letters, digits, - and _ only)"
                ))
            }
        }
        Kind::Bool => units::parse_bool(v).map(drop),
        Kind::Size => units::parse_size(v).map(drop),
        Kind::OptSize => {
            if units::is_unlimited(v) {
                Ok(())
            } else {
                units::parse_size(v).map(drop)
            }
        }
        Kind::Duration => units::parse_duration(v).map(drop),
        Kind::Int { min, max } => parse_int(v, min, max).map(drop),
        Kind::OptInt { min, max } => {
            if units::is_unlimited(v) {
                Ok(())
            } else {
                parse_int(v, min, max).map(drop)
            }
        }
        Kind::Enum(options) => {
            if options.contains(&v.to_ascii_lowercase().as_str()) {
                Ok(())
            } else {
                Err(format!("`{value}` is not one of {}", options.join(", ")))
            }
        }
        Kind::Addr => parse_addr(v).map(drop),
        Kind::Url => {
            if v.is_empty() || v.contains("://") {
                Ok(())
            } else {
                Err(format!(
                    "`{}` is not a URL (expected scheme://…)",
                    crate::secret::mask_url(value)
                ))
            }
        }
        Kind::LogFilter => {
            for directive in v.split(',').map(str::trim).filter(|d| !d.is_empty()) {
                let level = directive.rsplit_once('=').map_or(directive, |(_, l)| l);
                if !LOG_LEVELS.contains(&level.to_ascii_lowercase().as_str()) {
                    return Err(format!(
                        "`{directive}` is not a log level (use {})",
                        LOG_LEVELS.join(", ")
                    ));
                }
            }
            Ok(())
        }
    }
}

/// Parses a whole number within `[min, max]`.
pub fn parse_int(v: &str, min: u64, max: u64) -> Result<u64, String> {
    let n: u64 = v
        .trim()
        .replace('_', "")
        .parse()
        .map_err(|_| format!("`{v}` is not a whole number"))?;
    if n < min || n > max {
        return Err(format!("{n} is out of range ({min} to {max})"));
    }
    Ok(n)
}

/// Parses `HOST:PORT`. `localhost` resolves to the loopback address; other
/// host names are resolved through the system resolver.
pub fn parse_addr(v: &str) -> Result<SocketAddr, String> {
    if let Ok(addr) = v.parse::<SocketAddr>() {
        return Ok(addr);
    }
    let Some((host, port)) = v.rsplit_once(':') else {
        return Err(format!(
            "`{v}` is not an address (expected HOST:PORT, e.g. 127.0.0.1:8081)"
        ));
    };
    let port: u16 = port
        .parse()
        .map_err(|_| format!("`{v}` has an invalid port (expected 0 to 65535)"))?;
    if host.eq_ignore_ascii_case("localhost") {
        return Ok(SocketAddr::from(([127, 0, 0, 1], port)));
    }
    (host, port)
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| format!("`{v}` is not an address (cannot resolve `{host}`)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds() {
        assert!(check(Kind::Addr, "127.0.0.1:8081").is_ok());
        assert!(check(Kind::Addr, "[::1]:0").is_ok());
        assert!(check(Kind::Addr, "localhost:9000").is_ok());
        assert!(
            check(Kind::Addr, "127.0.0.1")
                .unwrap_err()
                .contains("HOST:PORT")
        );
        assert!(
            check(Kind::Addr, "127.0.0.1:99999")
                .unwrap_err()
                .contains("port")
        );
        assert!(
            check(Kind::Int { min: 1, max: 100 }, "0")
                .unwrap_err()
                .contains("out of range")
        );
        assert!(check(Kind::OptInt { min: 1, max: 100 }, "unlimited").is_ok());
        assert!(
            check(Kind::Enum(&["a", "b"]), "c")
                .unwrap_err()
                .contains("a, b")
        );
        assert!(check(Kind::LogFilter, "info,hyper=warn").is_ok());
        assert!(check(Kind::LogFilter, "loud").is_err());
        assert!(check(Kind::Url, "localhost").is_err());
        assert!(check(Kind::EnvName, "../etc").is_err());
        assert!(check(Kind::OptSize, "unlimited").is_ok());
        assert!(check(Kind::OptSize, "2GiB").is_ok());
    }
}
