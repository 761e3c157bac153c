//! `tandem iam-policy`: the least-privilege IAM policy for running Tandem on an environment, made
//! from the calls `tandem-aws` declares ([`tandem_aws::iam`]): its account, its two regions and
//! the stack set's administration region, its names (`tandem-<env>-*`) and its domain.

use serde_json::Value;
use tandem_aws::iam::{PolicyTarget, policy};
use tandem_stack_multi_region::Environment;
use tandem_stack_multi_region::config::StateBackendConfig;

use crate::error::{Error, Exit, Result};
use crate::workspace::Workspace;

#[derive(clap::Args, Debug)]
pub struct IamPolicyArgs {
    /// The account the policy is for (default: the environment's `account_id`).
    #[arg(long, value_name = "ID")]
    pub account: Option<String>,
    /// Only what reading the cloud needs: `plan`, `preview`, `status`, `check-health`.
    #[arg(long)]
    pub read_only: bool,
}

pub fn run(ws: &Workspace, args: &IamPolicyArgs) -> Result<Exit> {
    use std::io::Write;
    let doc = document(&ws.env, args.account.as_deref(), args.read_only)?;
    let text = serde_json::to_string_pretty(&doc)?;
    // Often piped (`| jq`, `| head`): a reader that stops early is not an error.
    match writeln!(std::io::stdout().lock(), "{text}") {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(Error::Failed(format!("cannot write the policy: {e}")))
        }
        _ => Ok(Exit::Success),
    }
}

/// The policy document of `env`, for `account` (else the environment's own).
pub fn document(env: &Environment, account: Option<&str>, read_only: bool) -> Result<Value> {
    let account = match account.or(env.account_id.as_deref()) {
        Some(a) => a.to_string(),
        None => {
            return Err(Error::Config(format!(
                "{}: the policy names the account: set `account_id` in the \
                 environment file, or pass --account",
                env.file.display()
            )));
        }
    };
    if account.len() != 12 || !account.chars().all(|c| c.is_ascii_digit()) {
        return Err(Error::Config(format!(
            "--account {account:?}: an AWS account id is 12 digits"
        )));
    }
    Ok(policy(&PolicyTarget {
        env: env.name.clone(),
        account,
        primary_region: env.primary_region.clone(),
        secondary_region: env.secondary_region.clone(),
        stackset_region: env.stackset_admin_region.clone(),
        domain: env.domain_name.clone(),
        vpc_peering: env.vpc_peering,
        read_only,
        state_bucket: match &env.state_backend {
            StateBackendConfig::S3 { bucket, .. } => Some(bucket.clone()),
            StateBackendConfig::Local => None,
        },
    }))
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn env(name: &str) -> Environment {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../environments");
        Environment::load(&dir, name, &|_| None).unwrap()
    }

    fn strings(v: &Value) -> Vec<String> {
        match v {
            Value::String(s) => vec![s.clone()],
            Value::Array(a) => a
                .iter()
                .filter_map(|x| x.as_str().map(String::from))
                .collect(),
            _ => Vec::new(),
        }
    }

    #[test]
    fn the_document_is_least_privilege_for_the_environment_only() {
        let staging = env("staging");
        for read_only in [false, true] {
            let doc = document(&staging, Some("111122223333"), read_only).unwrap();
            assert_eq!(doc["Version"], "2012-10-17");
            let text = doc.to_string();
            assert!(!text.contains("${"), "a placeholder is left: {text}");
            let statements = doc["Statement"].as_array().unwrap();
            assert!(!statements.is_empty());
            for s in statements {
                let sid = s["Sid"].as_str().unwrap();
                for action in strings(&s["Action"]) {
                    assert!(!action.contains('*'), "{sid}: action {action}");
                }
                let resources = strings(&s["Resource"]);
                if resources.iter().any(|r| r == "*") {
                    assert!(sid.contains("NoResource"), "{sid}: * without a reason");
                }
                for r in resources.iter().filter(|r| r.starts_with("arn:")) {
                    let region = r.split(':').nth(3).unwrap();
                    let ok = ["", "us-east-1", "us-west-2"].contains(&region);
                    assert!(ok, "{sid}: {r} outside the environment's regions");
                    let account = r.split(':').nth(4).unwrap();
                    assert!(["", "*", "111122223333"].contains(&account), "{r}");
                }
            }
            let all = |v: &str| text.contains(v);
            assert!(all("tandem-staging-") && !all("tandem-local-"));
            assert_eq!(all("iam:PassRole"), !read_only);
            assert!(all("sts:GetCallerIdentity"));
            assert_eq!(all("cloudformation:CreateStackSet"), !read_only);
            assert!(all("cloudformation:DescribeStackSet"));
        }
    }

    #[test]
    fn the_account_comes_from_the_environment_or_the_command_line() {
        let local = env("local");
        let doc = document(&local, None, false).unwrap();
        assert!(doc.to_string().contains(":123456789012:"));
        let staging = env("staging");
        let err = document(&staging, None, false).unwrap_err().to_string();
        assert!(
            err.contains("account_id") && err.contains("--account"),
            "{err}"
        );
        let err = document(&staging, Some("12345"), false).unwrap_err();
        assert!(matches!(err, Error::Config(_)), "{err}");
    }
}
