//! Masking of secrets in everything we print or log.

/// What a masked secret prints as.
pub const MASK: &str = "****";

/// True when a configuration key holds a secret: any key named `api_key`,
/// or ending in `_secret`, `_password` or `_token`.
pub fn is_secret_key(key: &str) -> bool {
    let last = key.rsplit('.').next().unwrap_or(key);
    last == "api_key"
        || last == "password"
        || last.ends_with("_secret")
        || last.ends_with("_password")
        || last.ends_with("_token")
}

/// Replaces the password of a URL (`scheme://user:password@host`) with the mask.
/// Values that are not such URLs come back unchanged.
pub fn mask_url(value: &str) -> String {
    let Some(scheme_end) = value.find("://") else {
        return value.to_owned();
    };
    let rest = &value[scheme_end + 3..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    let Some(at) = authority.rfind('@') else {
        return value.to_owned();
    };
    let userinfo = &authority[..at];
    let masked_userinfo = match userinfo.find(':') {
        Some(colon) => format!("{}:{MASK}", &userinfo[..colon]),
        // A lone userinfo is a token for e.g. `redis://token@host`.
        None if !userinfo.is_empty() => MASK.to_owned(),
        None => return value.to_owned(),
    };
    format!(
        "{}{}@{}",
        &value[..scheme_end + 3],
        masked_userinfo,
        &rest[at + 1..]
    )
}

/// Masks a configuration value for display: secrets entirely (an empty value
/// stays empty so "not set" remains visible), URL passwords in any key.
pub fn mask_value(key: &str, value: &str) -> String {
    if is_secret_key(key) {
        if value.is_empty() {
            String::new()
        } else {
            MASK.to_owned()
        }
    } else {
        mask_url(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_keys() {
        assert!(is_secret_key("provider.openai.api_key"));
        assert!(is_secret_key("store.db_password"));
        assert!(is_secret_key("oauth.client_secret"));
        assert!(!is_secret_key("server.listen"));
        assert!(!is_secret_key("provider.openai.base_url"));
    }

    #[test]
    fn urls() {
        assert_eq!(
            mask_url("postgres://gw:hunter2@db.local:5432/gw"),
            "postgres://gw:****@db.local:5432/gw"
        );
        assert_eq!(
            mask_url("redis://:pw@127.0.0.1:6379/0"),
            "redis://:****@127.0.0.1:6379/0"
        );
        assert_eq!(mask_url("redis://tok@host"), "redis://****@host");
        assert_eq!(mask_url("sqlite:///tmp/a.db"), "sqlite:///tmp/a.db");
        assert_eq!(
            mask_url("https://example.com/a@b"),
            "https://example.com/a@b"
        );
        assert_eq!(mask_url("not a url"), "not a url");
    }

    #[test]
    fn values() {
        assert_eq!(mask_value("provider.x.api_key", "sk-live-123"), MASK);
        assert_eq!(mask_value("provider.x.api_key", ""), "");
        assert_eq!(
            mask_value("store.url", "postgres://u:p@h/d"),
            "postgres://u:****@h/d"
        );
    }
}
