//! A snapshot of the process environment, so that everything that reads
//! environment variables can be driven by an injected one in tests.

use std::collections::BTreeMap;

/// Prefix of every tokgateway environment variable.
pub const PREFIX: &str = "TOKGATEWAY_";

/// Environment variables, captured once.
#[derive(Debug, Clone, Default)]
pub struct Environment {
    vars: BTreeMap<String, String>,
}

impl Environment {
    /// Captures the current process environment (variables that are not valid
    /// Unicode are skipped: none of ours can be).
    pub fn from_process() -> Self {
        Self {
            vars: std::env::vars_os()
                .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
                .collect(),
        }
    }

    /// An environment holding exactly these variables.
    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        Self {
            vars: pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        }
    }

    /// A variable's value; empty values count as unset.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// Every variable whose name starts with [`PREFIX`].
    pub fn prefixed(&self) -> impl Iterator<Item = (&str, &str)> {
        self.vars
            .range(PREFIX.to_owned()..)
            .take_while(|(k, _)| k.starts_with(PREFIX))
            .map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

/// The environment variable that sets a configuration key:
/// `TOKGATEWAY_` + the key upper-cased with `.` and `-` turned into `_`.
pub fn env_var_for_key(key: &str) -> String {
    let mut name = String::with_capacity(PREFIX.len() + key.len());
    name.push_str(PREFIX);
    name.extend(key.chars().map(|c| match c {
        '.' | '-' => '_',
        c => c.to_ascii_uppercase(),
    }));
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_names() {
        assert_eq!(env_var_for_key("server.listen"), "TOKGATEWAY_SERVER_LISTEN");
        assert_eq!(
            env_var_for_key("provider.openai.api_key"),
            "TOKGATEWAY_PROVIDER_OPENAI_API_KEY"
        );
        assert_eq!(
            env_var_for_key("provider.my-vllm.base_url"),
            "TOKGATEWAY_PROVIDER_MY_VLLM_BASE_URL"
        );
        assert_eq!(env_var_for_key("environment"), "TOKGATEWAY_ENVIRONMENT");
    }

    #[test]
    fn prefixed_vars() {
        let env = Environment::from_pairs([
            ("A", "1"),
            ("TOKGATEWAY_X", "2"),
            ("TOKGATEWAY_Y", ""),
            ("Z", "3"),
        ]);
        let got: Vec<_> = env.prefixed().collect();
        assert_eq!(got, vec![("TOKGATEWAY_X", "2"), ("TOKGATEWAY_Y", "")]);
        assert_eq!(env.get("TOKGATEWAY_Y"), None);
    }
}
