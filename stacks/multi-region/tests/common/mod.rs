//! What the stack's environment-file tests share: a minimal valid environment and its parse.
#![allow(dead_code, reason = "each test binary uses its own part")]

use std::path::Path;

use tandem_stack_multi_region::{ConfigError, Environment};

/// The smallest valid environment file: two regions, a domain, HTTP only.
pub const GOOD: &str = r#"
[environment]
primary_region = "us-east-1"
secondary_region = "us-west-2"
domain_name = "example.com"
http_only = true
"#;

/// Parses `text` as `environments/test.toml`, with `vars` as the only variables set.
pub fn parse(text: &str, vars: &[(&str, &str)]) -> Result<Environment, ConfigError> {
    let lookup = |k: &str| {
        vars.iter()
            .find(|(n, _)| *n == k)
            .map(|(_, v)| v.to_string())
    };
    Environment::parse(Path::new("environments/test.toml"), "test", text, &lookup)
}
