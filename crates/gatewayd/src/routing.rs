//! Model → provider chain: `[aliases]`, then `[routes]` globs in file order,
//! then the providers whose `models` list names the model.

use tokgateway_core::config::Settings;
use tokgateway_core::config::settings::glob_match;

/// A resolved request target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target<'a> {
    /// The model name sent upstream (after aliasing).
    pub upstream_model: &'a str,
    /// Indexes into `Settings::providers`, in the order to try them.
    pub providers: Vec<usize>,
}

/// Resolves `model`, or `None` when nothing serves it.
pub fn resolve<'a>(settings: &'a Settings, model: &'a str) -> Option<Target<'a>> {
    let upstream_model = settings
        .aliases
        .iter()
        .find(|(public, _)| public == model)
        .map_or(model, |(_, upstream)| upstream.as_str());
    let index = |name: &str| settings.providers.iter().position(|p| p.name == name);
    for name in [model, upstream_model] {
        if let Some(route) = settings.routes.iter().find(|r| glob_match(&r.glob, name)) {
            let providers = route.providers.iter().filter_map(|n| index(n)).collect();
            return Some(Target {
                upstream_model,
                providers,
            });
        }
    }
    let providers: Vec<usize> = settings
        .providers
        .iter()
        .enumerate()
        .filter(|(_, p)| p.models.iter().any(|m| m == upstream_model || m == model))
        .map(|(i, _)| i)
        .collect();
    (!providers.is_empty()).then_some(Target {
        upstream_model,
        providers,
    })
}

/// Every model name the gateway advertises on `/v1/models`: aliases, provider
/// model lists and route globs without wildcards.
pub fn advertised_models(settings: &Settings) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    let mut push = |id: &str, owner: &str| {
        if !out.iter().any(|(m, _)| m == id) {
            out.push((id.to_owned(), owner.to_owned()));
        }
    };
    for (public, upstream) in &settings.aliases {
        let owner = resolve(settings, upstream)
            .and_then(|t| {
                t.providers
                    .first()
                    .map(|&i| settings.providers[i].name.clone())
            })
            .unwrap_or_else(|| "tokgateway".to_owned());
        push(public, &owner);
    }
    for p in &settings.providers {
        for m in &p.models {
            push(m, &p.name);
        }
    }
    for r in &settings.routes {
        if !r.glob.contains(['*', '?']) {
            push(
                &r.glob,
                r.providers.first().map_or("tokgateway", String::as_str),
            );
        }
    }
    out
}
