//! The environment file (`environments/<name>.toml`) and the seed's variables that override it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// One environment, validated.
#[derive(Clone, Debug, PartialEq)]
pub struct Environment {
    pub name: String,
    /// The file it was read from.
    pub file: PathBuf,
    pub primary_region: String,
    pub secondary_region: String,
    pub domain_name: String,
    pub rto_minutes: u32,
    pub rpo_minutes: u32,
    /// When set, Tandem refuses to touch any other account.
    pub account_id: Option<String>,
    /// Where the stack set lives (should not be the primary: see ARCHITECTURE.md).
    pub stackset_admin_region: String,
    /// Directory of the local state store, relative to the working directory.
    pub state_dir: PathBuf,
    /// Where the state lives (`[state] backend`): the local directory above, or an S3 bucket (the
    /// directory above is then the local side of `tandem state migrate`).
    pub state_backend: StateBackendConfig,
    /// API endpoint per region (and `global`), for the local cloud. Empty for real AWS.
    pub endpoints: BTreeMap<String, String>,
    /// Application health endpoint per region, for the local cloud (probed instead of the ALB).
    pub health_endpoints: BTreeMap<String, String>,
    pub sizes: Sizes,
    /// Serve HTTP only (no certificate): the local cloud.
    pub http_only: bool,
    /// ACM certificate ARN per region (required unless `http_only`).
    pub certificates: BTreeMap<String, String>,
    pub local_cloud: Option<LocalCloudPorts>,
    /// Protect the database, buckets and hosted zone from deletion and replacement.
    pub protect_stateful: bool,
    /// S3 Replication Time Control (15-minute SLA, metrics).
    pub replication_time_control: bool,
    /// Peer the two regions' VPCs (default: on, except for the local cloud, which cannot).
    pub vpc_peering: bool,
    /// The policy pack's findings this environment accepts (`[policy] suppress`), each with its
    /// reason.
    pub policy_suppressions: Vec<tandem_policy::Suppression>,
}

/// Capacity and instance sizes.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sizes {
    #[serde(default = "default_instance_type")]
    pub instance_type: String,
    #[serde(default = "default_primary_capacity")]
    pub primary_desired_capacity: u32,
    #[serde(default = "default_standby_capacity")]
    pub standby_desired_capacity: u32,
    #[serde(default = "default_max_capacity")]
    pub max_capacity: u32,
    #[serde(default = "default_db_class")]
    pub db_instance_class: String,
    #[serde(default = "default_db_storage")]
    pub db_allocated_storage_gb: u32,
    #[serde(default = "default_backup_retention")]
    pub db_backup_retention_days: u32,
    /// SSM parameter naming the AMI (default: the latest Amazon Linux 2023).
    #[serde(default)]
    pub image_parameter: Option<String>,
    /// The database master password's generation (default 0): bump it to rotate the password, a
    /// planned change (a new value in the secret, then `ModifyDBInstance` on the writer).
    #[serde(default)]
    pub db_password_generation: u32,
}

fn default_instance_type() -> String {
    "t3.micro".into()
}
fn default_primary_capacity() -> u32 {
    2
}
fn default_standby_capacity() -> u32 {
    1
}
fn default_max_capacity() -> u32 {
    6
}
fn default_db_class() -> String {
    "db.t3.micro".into()
}
fn default_db_storage() -> u32 {
    20
}
fn default_backup_retention() -> u32 {
    7
}

impl Default for Sizes {
    fn default() -> Sizes {
        Sizes {
            instance_type: default_instance_type(),
            primary_desired_capacity: default_primary_capacity(),
            standby_desired_capacity: default_standby_capacity(),
            max_capacity: default_max_capacity(),
            db_instance_class: default_db_class(),
            db_allocated_storage_gb: default_db_storage(),
            db_backup_retention_days: default_backup_retention(),
            image_parameter: None,
            db_password_generation: 0,
        }
    }
}

/// Ports of the local cloud (moto and the region gateway) when this environment uses it.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocalCloudPorts {
    pub moto_port: u16,
    pub global_port: u16,
    pub control_port: u16,
    /// One per region, in the order primary, secondary.
    pub region_ports: Vec<u16>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileForm {
    environment: EnvSection,
    #[serde(default)]
    state: StateSection,
    #[serde(default)]
    endpoints: BTreeMap<String, String>,
    #[serde(default)]
    health_endpoints: BTreeMap<String, String>,
    #[serde(default)]
    certificates: BTreeMap<String, String>,
    #[serde(default)]
    sizes: Option<Sizes>,
    #[serde(default)]
    local_cloud: Option<LocalCloudPorts>,
    #[serde(default)]
    policy: PolicySection,
}

/// `[policy]`: `suppress = [{ rule = "TP007", reason = "...", resource = "ADDRESS or glob" }]`.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct PolicySection {
    #[serde(default)]
    suppress: Vec<SuppressEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SuppressEntry {
    rule: Option<String>,
    reason: Option<String>,
    resource: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EnvSection {
    primary_region: Option<String>,
    secondary_region: Option<String>,
    domain_name: Option<String>,
    rto_minutes: Option<toml::Value>,
    rpo_minutes: Option<toml::Value>,
    account_id: Option<String>,
    stackset_admin_region: Option<String>,
    #[serde(default)]
    http_only: bool,
    #[serde(default = "yes")]
    protect_stateful: bool,
    #[serde(default)]
    replication_time_control: bool,
    vpc_peering: Option<bool>,
}

fn yes() -> bool {
    true
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct StateSection {
    backend: Option<String>,
    path: Option<String>,
    bucket: Option<String>,
    prefix: Option<String>,
    region: Option<String>,
    kms_key: Option<String>,
}

/// The state backend of an environment (`[state]`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StateBackendConfig {
    /// Files under [`Environment::state_dir`] (`backend = "local"`, the default).
    Local,
    /// `backend = "s3"`: `<prefix>/<stack>/<env>/...` in `bucket`, in `region` (independent of
    /// the stack's regions), encrypted with `kms_key` (a KMS key id, ARN or alias) or the
    /// AWS-managed key `aws/s3`.
    S3 {
        bucket: String,
        prefix: String,
        region: String,
        kms_key: Option<String>,
    },
}

impl StateBackendConfig {
    /// The S3 backend's bucket, prefix, region and KMS key, if it is one.
    pub fn s3(&self) -> Option<(&str, &str, &str, Option<&str>)> {
        match self {
            StateBackendConfig::Local => None,
            StateBackendConfig::S3 {
                bucket,
                prefix,
                region,
                kms_key,
            } => Some((bucket, prefix, region, kms_key.as_deref())),
        }
    }
}

/// Reads `[state]`'s backend: an error is the key and what is wrong with it.
fn state_backend(section: &StateSection) -> Result<StateBackendConfig, (&'static str, String)> {
    let s3_only = [
        ("state.bucket", &section.bucket),
        ("state.prefix", &section.prefix),
        ("state.region", &section.region),
        ("state.kms_key", &section.kms_key),
    ];
    match section.backend.as_deref() {
        None | Some("local") => {
            if let Some((key, _)) = s3_only.iter().find(|(_, v)| v.is_some()) {
                return Err((key, "applies only to `backend = \"s3\"`".into()));
            }
            Ok(StateBackendConfig::Local)
        }
        // `path` stays meaningful with S3: the local side of `tandem state migrate`.
        Some("s3") => {
            let bucket = section.bucket.clone().ok_or((
                "state.bucket",
                "is required with `backend = \"s3\"`".to_string(),
            ))?;
            if !valid_bucket_name(&bucket) {
                return Err((
                    "state.bucket",
                    format!(
                        "{} is not a valid S3 bucket name (3–63 characters: lowercase letters, \
                         digits, dots and hyphens, starting and ending with a letter or digit)",
                        shown(&bucket)
                    ),
                ));
            }
            let region = section.region.clone().ok_or((
                "state.region",
                "is required with `backend = \"s3\"`".to_string(),
            ))?;
            if !tandem_schema::regions::is_known_region(&region) {
                return Err((
                    "state.region",
                    format!("unknown AWS region {}", shown(&region)),
                ));
            }
            let prefix = section.prefix.clone().unwrap_or_else(|| "tandem".into());
            let prefix = prefix.trim_matches('/').to_string();
            if prefix.len() > 512 || prefix.contains("//") || prefix.chars().any(char::is_control) {
                return Err((
                    "state.prefix",
                    format!(
                        "{} is not a usable key prefix (at most 512 characters, no empty segment, \
                         no control character)",
                        shown(&prefix)
                    ),
                ));
            }
            let kms_key = match &section.kms_key {
                Some(k) if k.trim().is_empty() || k.len() > 2048 => {
                    return Err((
                        "state.kms_key",
                        format!(
                            "{} is not a KMS key id, ARN or alias (leave it out for the AWS-managed key)",
                            shown(k)
                        ),
                    ));
                }
                other => other.clone(),
            };
            Ok(StateBackendConfig::S3 {
                bucket,
                prefix,
                region,
                kms_key,
            })
        }
        Some(other) => Err((
            "state.backend",
            format!(
                "unknown backend {} (supported: \"local\", \"s3\")",
                shown(other)
            ),
        )),
    }
}

/// S3's rule for a general purpose bucket's name.
fn valid_bucket_name(name: &str) -> bool {
    let b = name.as_bytes();
    (3..=63).contains(&b.len())
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'.' || *c == b'-')
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && !name.contains("..")
        && name.parse::<std::net::Ipv4Addr>().is_err()
}

/// A bad environment: the file, the key, and what is wrong.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ConfigError {
    #[error("environment {name:?} not found: no file {}", path.display())]
    NotFound { name: String, path: PathBuf },
    #[error("{}: {message}", path.display())]
    Parse { path: PathBuf, message: String },
    #[error("{}: `{key}`{source_note}: {message}", path.display())]
    Invalid {
        path: PathBuf,
        key: String,
        /// ` (from $VAR)` when the value came from the environment.
        source_note: String,
        message: String,
    },
    /// A name that is not [`tandem_core::NAME_RULE`]'s: it would become a file name.
    #[error(transparent)]
    Name(#[from] tandem_core::NameError),
}

/// Reads the environment variables the seed names; a function so tests can pass their own.
pub type VarLookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// The process environment.
pub fn process_vars(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

impl Environment {
    /// Loads `dir/<name>.toml`, applies the seed's variables (`PRIMARY_REGION`, `SECONDARY_REGION`,
    /// `DOMAIN_NAME`, `RTO_MINUTES`, `RPO_MINUTES`) over it, and validates the result.
    ///
    /// The name is checked first ([`tandem_core::check_name`]), before it is part of any path: it
    /// names the environment's file here, and its state, journal and lock files later.
    pub fn load(dir: &Path, name: &str, vars: VarLookup<'_>) -> Result<Environment, ConfigError> {
        tandem_core::check_name("environment", name)?;
        let path = dir.join(format!("{name}.toml"));
        let text = std::fs::read_to_string(&path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => ConfigError::NotFound {
                name: name.to_string(),
                path: path.clone(),
            },
            _ => ConfigError::Parse {
                path: path.clone(),
                message: format!("cannot read it: {e}"),
            },
        })?;
        Environment::parse(&path, name, &text, vars)
    }

    pub fn parse(
        path: &Path,
        name: &str,
        text: &str,
        vars: VarLookup<'_>,
    ) -> Result<Environment, ConfigError> {
        // Every environment has a name that is safe in a path (`load` checked it already).
        tandem_core::check_name("environment", name)?;
        let form: FileForm = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            message: trimmed_message(&e.to_string()),
        })?;
        let invalid = |key: &str, var: Option<&str>, message: String| ConfigError::Invalid {
            path: path.to_path_buf(),
            key: key.to_string(),
            source_note: var.map(|v| format!(" (from ${v})")).unwrap_or_default(),
            message,
        };
        let e = form.environment;
        // A value from the variable wins over the file; remember which it was for error messages.
        let pick =
            |var: &'static str, file: Option<String>| -> (Option<String>, Option<&'static str>) {
                match vars(var) {
                    Some(v) => (Some(v), Some(var)),
                    None => (file, None),
                }
            };
        let required = |key: &str, (v, var): (Option<String>, Option<&'static str>)| {
            v.map(|v| (v, var))
                .ok_or_else(|| invalid(key, None, "is required".into()))
        };
        let (primary, primary_var) =
            required("primary_region", pick("PRIMARY_REGION", e.primary_region))?;
        let (secondary, secondary_var) = required(
            "secondary_region",
            pick("SECONDARY_REGION", e.secondary_region),
        )?;
        let (domain, domain_var) = required("domain_name", pick("DOMAIN_NAME", e.domain_name))?;
        for (key, region, var) in [
            ("primary_region", &primary, primary_var),
            ("secondary_region", &secondary, secondary_var),
        ] {
            if !tandem_schema::regions::is_known_region(region) {
                return Err(invalid(
                    key,
                    var,
                    format!("unknown AWS region {}", shown(region)),
                ));
            }
        }
        if primary == secondary {
            return Err(invalid(
                "secondary_region",
                secondary_var,
                format!("must differ from primary_region (both are {primary:?})"),
            ));
        }
        if let Err(why) = check_domain(&domain) {
            return Err(invalid(
                "domain_name",
                domain_var,
                format!("invalid domain name {}: {why}", shown(&domain)),
            ));
        }
        let objective = |key: &str, var: &'static str, file: Option<toml::Value>, default: u32| {
            let (text, from_var) = match vars(var) {
                Some(v) => (Some(v), Some(var)),
                None => match file {
                    None => (None, None),
                    Some(toml::Value::Integer(n)) => (Some(n.to_string()), None),
                    // A string, a float, a table...: the file gives a number of minutes as an
                    // integer (`rto_minutes = 15`), never as text (`"15"`).
                    Some(other) => {
                        return Err(invalid(
                            key,
                            None,
                            format!(
                                "must be a whole number of minutes (an integer such as 15), got {} {}",
                                toml_type(&other),
                                shown(&other.to_string())
                            ),
                        ));
                    }
                },
            };
            match text {
                None => Ok(default),
                Some(t) => match t.trim().parse::<i64>() {
                    Ok(n) if n > 0 && n <= 10_080 => Ok(n as u32),
                    Ok(n) => Err(invalid(
                        key,
                        from_var,
                        format!("must be a positive number of minutes (at most 10080), got {n}"),
                    )),
                    Err(_) => Err(invalid(
                        key,
                        from_var,
                        format!("must be a whole number of minutes, got {}", shown(&t)),
                    )),
                },
            }
        };
        let rto_minutes = objective("rto_minutes", "RTO_MINUTES", e.rto_minutes, 15)?;
        let rpo_minutes = objective("rpo_minutes", "RPO_MINUTES", e.rpo_minutes, 5)?;
        if let Some(acct) = &e.account_id
            && (acct.len() != 12 || !acct.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(invalid(
                "account_id",
                None,
                format!("must be 12 digits, got {}", shown(acct)),
            ));
        }
        let stackset_admin_region = e.stackset_admin_region.unwrap_or_else(|| secondary.clone());
        if !tandem_schema::regions::is_known_region(&stackset_admin_region) {
            return Err(invalid(
                "stackset_admin_region",
                None,
                format!("unknown AWS region {}", shown(&stackset_admin_region)),
            ));
        }
        // The stack set is operated from its administration region: on the primary, the primary's
        // outage would take the stack set with it (a failover must never need it); in a third
        // region, Tandem has neither the region's endpoint nor its wave. Hence the secondary.
        if stackset_admin_region != secondary {
            let why = if stackset_admin_region == primary {
                "is the primary region: a stack set cannot be operated while its administration \
                 region is down, and a failover must never need it"
            } else {
                "is not one of the environment's regions"
            };
            let from = secondary_var
                .map(|v| format!(" (from ${v})"))
                .unwrap_or_default();
            return Err(invalid(
                "stackset_admin_region",
                None,
                format!(
                    "{} {why}; it must be the secondary region, {}{from} (leave it out to default to it)",
                    shown(&stackset_admin_region),
                    shown(&secondary)
                ),
            ));
        }
        let state_backend =
            state_backend(&form.state).map_err(|(key, why)| invalid(key, None, why))?;
        let endpoint_keys = form.endpoints.keys().map(|k| ("endpoints", k));
        let health_keys = form
            .health_endpoints
            .keys()
            .map(|k| ("health_endpoints", k));
        for (table, key) in endpoint_keys.chain(health_keys) {
            if key != "global" && key != &primary && key != &secondary {
                return Err(invalid(
                    &format!("{table}.{key}"),
                    None,
                    format!(
                        "is neither `global` nor one of the environment's regions ({primary}, {secondary})"
                    ),
                ));
            }
        }
        let endpoint_urls = form.endpoints.iter().map(|(k, v)| ("endpoints", k, v));
        let health_urls = form
            .health_endpoints
            .iter()
            .map(|(k, v)| ("health_endpoints", k, v));
        for (table, key, url) in endpoint_urls.chain(health_urls) {
            if let Err(why) = check_url(url) {
                return Err(invalid(
                    &format!("{table}.{key}"),
                    None,
                    format!("{} is not a URL: {why}", shown(url)),
                ));
            }
        }
        if !e.http_only {
            for region in [&primary, &secondary] {
                match form.certificates.get(region.as_str()) {
                    Some(arn)
                        if arn.starts_with("arn:") && arn.contains(&format!(":acm:{region}:")) => {}
                    Some(arn) => {
                        return Err(invalid(
                            &format!("certificates.{region}"),
                            None,
                            format!(
                                "must be an ACM certificate ARN of region {region}, got {}",
                                shown(arn)
                            ),
                        ));
                    }
                    None => {
                        return Err(invalid(
                            &format!("certificates.{region}"),
                            None,
                            "is required unless http_only = true (the ACM certificate of the region's HTTPS listener)".into(),
                        ));
                    }
                }
            }
        }
        if let Some(lc) = &form.local_cloud
            && lc.region_ports.len() != 2
        {
            return Err(invalid(
                "local_cloud.region_ports",
                None,
                format!(
                    "needs two ports (primary, secondary), got {}",
                    lc.region_ports.len()
                ),
            ));
        }
        if let Some(lc) = &form.local_cloud {
            check_ports(lc).map_err(|(key, message)| invalid(&key, None, message))?;
        }
        let sizes = form.sizes.unwrap_or_default();
        check_sizes(&sizes).map_err(|(key, message)| invalid(&key, None, message))?;
        if sizes.standby_desired_capacity > sizes.primary_desired_capacity
            || sizes.primary_desired_capacity > sizes.max_capacity
            || sizes.primary_desired_capacity == 0
        {
            return Err(invalid(
                "sizes",
                None,
                format!(
                    "need 0 <= standby_desired_capacity ({}) <= primary_desired_capacity ({}) <= max_capacity ({}), and a primary of at least 1",
                    sizes.standby_desired_capacity,
                    sizes.primary_desired_capacity,
                    sizes.max_capacity
                ),
            ));
        }
        if sizes.db_backup_retention_days < 1 {
            return Err(invalid(
                "sizes.db_backup_retention_days",
                None,
                "must be at least 1: a cross-region read replica needs backups on its source"
                    .into(),
            ));
        }
        let state_path = form.state.path.unwrap_or_else(|| ".tandem/state".into());
        check_state_path(&state_path)
            .map_err(|why| invalid("state.path", None, format!("{} {why}", shown(&state_path))))?;
        let policy_suppressions = form
            .policy
            .suppress
            .into_iter()
            .enumerate()
            .map(|(i, entry)| {
                suppression(entry)
                    .map_err(|message| invalid(&format!("policy.suppress[{i}]"), None, message))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Environment {
            name: name.to_string(),
            file: path.to_path_buf(),
            primary_region: primary,
            secondary_region: secondary,
            domain_name: domain.trim_end_matches('.').to_ascii_lowercase(),
            rto_minutes,
            rpo_minutes,
            account_id: e.account_id,
            stackset_admin_region,
            state_dir: PathBuf::from(state_path),
            state_backend,
            endpoints: form.endpoints,
            health_endpoints: form.health_endpoints,
            sizes,
            http_only: e.http_only,
            certificates: form.certificates,
            protect_stateful: e.protect_stateful,
            replication_time_control: e.replication_time_control,
            vpc_peering: e.vpc_peering.unwrap_or(form.local_cloud.is_none()),
            policy_suppressions,
            local_cloud: form.local_cloud,
        })
    }

    /// API endpoint per region and `global`: the local cloud's gateway ports, then `[endpoints]`.
    /// Empty for real AWS (the SDK's own endpoints). `AWS_ENDPOINT_URL` is applied by the clients.
    pub fn api_endpoints(&self) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        if let Some(lc) = &self.local_cloud {
            out.insert(
                "global".to_string(),
                format!("http://127.0.0.1:{}", lc.global_port),
            );
            out.insert(
                self.primary_region.clone(),
                format!("http://127.0.0.1:{}", lc.region_ports[0]),
            );
            out.insert(
                self.secondary_region.clone(),
                format!("http://127.0.0.1:{}", lc.region_ports[1]),
            );
        }
        out.extend(self.endpoints.clone());
        out
    }

    /// The application health URL of a region: what Route 53's checkers would probe. For the local
    /// cloud, the region gateway's simulated application; otherwise `None` (the ALB's DNS name,
    /// known after deploy, is used).
    pub fn app_health_url(&self, region: &str) -> Option<String> {
        if let Some(url) = self.health_endpoints.get(region) {
            return Some(url.clone());
        }
        let lc = self.local_cloud.as_ref()?;
        let port = if region == self.primary_region {
            lc.region_ports[0]
        } else if region == self.secondary_region {
            lc.region_ports[1]
        } else {
            return None;
        };
        Some(format!("http://127.0.0.1:{port}/_tandem/health"))
    }

    /// The region that is not `region`.
    pub fn other_region(&self, region: &str) -> &str {
        if region == self.primary_region {
            &self.secondary_region
        } else {
            &self.primary_region
        }
    }

    /// The order of region waves: global, primary, secondary.
    pub fn wave_order(&self) -> Vec<String> {
        vec![
            "global".to_string(),
            self.primary_region.clone(),
            self.secondary_region.clone(),
        ]
    }
}

/// One `[policy] suppress` entry, validated: a rule of the pack, a reason, and a resource that is
/// an address or a glob over addresses.
fn suppression(entry: SuppressEntry) -> Result<tandem_policy::Suppression, String> {
    let rule = match entry.rule {
        Some(r) if tandem_policy::rule(&r).is_some() => r,
        Some(r) => {
            let ids: Vec<&str> = tandem_policy::RULES.iter().map(|r| r.id).collect();
            return Err(format!(
                "unknown rule {} (the pack's rules: {})",
                shown(&r),
                ids.join(", ")
            ));
        }
        None => return Err("needs `rule`, the id of the rule it suppresses".into()),
    };
    let reason = match entry.reason {
        Some(r) if !r.trim().is_empty() => r.trim().to_string(),
        _ => {
            return Err(format!(
                "the suppression of {rule} has no reason: say why the finding is accepted \
                 (`reason = \"...\"`)"
            ));
        }
    };
    if let Some(resource) = &entry.resource {
        let glob = resource.contains(['*', '?']);
        if resource.is_empty() || (!glob && resource.parse::<tandem_core::ResourceAddr>().is_err())
        {
            return Err(format!(
                "`resource` {} is neither a resource address \
                 (REGION/service:Type/NAME) nor a glob over addresses (`*`, `?`)",
                shown(resource)
            ));
        }
    }
    Ok(tandem_policy::Suppression {
        rule,
        reason,
        resource: entry.resource,
    })
}

fn check_domain(domain: &str) -> Result<(), &'static str> {
    let d = domain.trim_end_matches('.');
    if d.is_empty() || d.len() > 253 {
        return Err("must be 1 to 253 characters");
    }
    let labels: Vec<&str> = d.split('.').collect();
    if labels.len() < 2 {
        return Err("needs at least two labels, such as example.com");
    }
    for l in labels {
        if l.is_empty() || l.len() > 63 {
            return Err("each label must be 1 to 63 characters");
        }
        if !l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            return Err("labels may hold only letters, digits and '-'");
        }
        if l.starts_with('-') || l.ends_with('-') {
            return Err("labels may not start or end with '-'");
        }
    }
    if d.rsplit('.')
        .next()
        .is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err("the last label (the top-level domain) may not be all digits");
    }
    Ok(())
}

/// How many characters of a value an error message shows.
const SHOWN_CHARS: usize = 60;

/// A value as an error message shows it: quoted, and cut after [`SHOWN_CHARS`] characters with
/// its length in bytes, so that a huge value never floods the terminal.
pub(crate) fn shown(value: &str) -> String {
    match value.char_indices().nth(SHOWN_CHARS) {
        None => format!("{value:?}"),
        Some((end, _)) => format!("{:?}… ({} bytes)", &value[..end], value.len()),
    }
}

/// A TOML parser's message on one line, each of its lines cut as [`shown`] cuts a value (the
/// parser quotes the offending line of the file, which may be megabytes long).
fn trimmed_message(message: &str) -> String {
    message
        .trim()
        .lines()
        .map(|line| match line.char_indices().nth(2 * SHOWN_CHARS) {
            None => line.to_string(),
            Some((end, _)) => format!("{}… ({} bytes)", &line[..end], line.len()),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The TOML type of a value, for "wrong type" messages.
fn toml_type(value: &toml::Value) -> &'static str {
    match value {
        toml::Value::String(_) => "a string",
        toml::Value::Integer(_) => "an integer",
        toml::Value::Float(_) => "a float",
        toml::Value::Boolean(_) => "a boolean",
        toml::Value::Datetime(_) => "a date",
        toml::Value::Array(_) => "an array",
        toml::Value::Table(_) => "a table",
    }
}

/// The largest `max_capacity` (and so desired capacity) an environment may ask for.
pub const MAX_CAPACITY: u32 = 1_000;
/// RDS's bounds of allocated storage, in GiB (gp2/gp3).
pub const DB_STORAGE_GB: std::ops::RangeInclusive<u32> = 20..=65_536;
/// RDS's bounds of automated backup retention, in days (at least 1: see `check_sizes`).
pub const DB_BACKUP_RETENTION_DAYS: std::ops::RangeInclusive<u32> = 1..=35;
/// The longest instance type or database instance class accepted.
const MAX_CLASS_CHARS: usize = 40;
/// The longest SSM parameter name (AWS's limit).
const MAX_PARAMETER_CHARS: usize = 2_048;

/// `[sizes]`: bounds of capacities, storage and retention, and the names of types and classes.
/// On error: the key and the message.
fn check_sizes(sizes: &Sizes) -> Result<(), (String, String)> {
    let bad = |key: &str, message: String| Err((format!("sizes.{key}"), message));
    for (key, n) in [
        ("max_capacity", sizes.max_capacity),
        ("primary_desired_capacity", sizes.primary_desired_capacity),
        ("standby_desired_capacity", sizes.standby_desired_capacity),
    ] {
        if n > MAX_CAPACITY {
            return bad(
                key,
                format!("must be at most {MAX_CAPACITY} instances, got {n}"),
            );
        }
    }
    if !DB_STORAGE_GB.contains(&sizes.db_allocated_storage_gb) {
        return bad(
            "db_allocated_storage_gb",
            format!(
                "must be from {} to {} GiB (RDS's bounds), got {}",
                DB_STORAGE_GB.start(),
                DB_STORAGE_GB.end(),
                sizes.db_allocated_storage_gb
            ),
        );
    }
    if sizes.db_backup_retention_days > *DB_BACKUP_RETENTION_DAYS.end() {
        return bad(
            "db_backup_retention_days",
            format!(
                "must be at most {} days (RDS's limit), got {}",
                DB_BACKUP_RETENTION_DAYS.end(),
                sizes.db_backup_retention_days
            ),
        );
    }
    for (key, class, prefix) in [
        ("instance_type", &sizes.instance_type, ""),
        ("db_instance_class", &sizes.db_instance_class, "db."),
    ] {
        if let Err(why) = check_class(class, prefix) {
            return bad(key, format!("{} {why}", shown(class)));
        }
    }
    if let Some(p) = &sizes.image_parameter {
        let chars_ok = p
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.-/".contains(&b));
        if p.is_empty() || p.len() > MAX_PARAMETER_CHARS || !chars_ok {
            return bad(
                "image_parameter",
                format!(
                    "{} is not an SSM parameter name (1 to {MAX_PARAMETER_CHARS} of letters, \
                     digits, `_ . - /`, such as /aws/service/ami-amazon-linux-latest/\
                     al2023-ami-kernel-default-x86_64); leave it out for Amazon Linux 2023",
                    shown(p)
                ),
            );
        }
    }
    Ok(())
}

/// An EC2 instance type (`t3.micro`, `m7i-flex.large`) or, with `prefix` `db.`, an RDS instance
/// class (`db.r6g.large`): lowercase letters, digits, `-` and `.`, a family and a size.
fn check_class(class: &str, prefix: &str) -> Result<(), String> {
    let example = if prefix.is_empty() {
        "t3.micro"
    } else {
        "db.t3.micro"
    };
    if class.is_empty() || class.len() > MAX_CLASS_CHARS {
        return Err(format!(
            "must be 1 to {MAX_CLASS_CHARS} characters, such as {example}"
        ));
    }
    let rest = class
        .strip_prefix(prefix)
        .ok_or_else(|| format!("must start with {prefix:?}, such as {example}"))?;
    let ok = rest
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
        && rest.split('.').count() >= 2
        && rest.split('.').all(|part| !part.is_empty());
    if !ok {
        return Err(format!(
            "must be a family and a size of lowercase letters, digits and '-', such as {example}"
        ));
    }
    Ok(())
}

/// `[local_cloud]`: every port from 1 to 65535 and no port used twice.
fn check_ports(lc: &LocalCloudPorts) -> Result<(), (String, String)> {
    let mut named: Vec<(String, u16)> = vec![
        ("moto_port".into(), lc.moto_port),
        ("global_port".into(), lc.global_port),
        ("control_port".into(), lc.control_port),
    ];
    named.extend(
        lc.region_ports
            .iter()
            .enumerate()
            .map(|(i, p)| (format!("region_ports[{i}]"), *p)),
    );
    for (i, (key, port)) in named.iter().enumerate() {
        if *port == 0 {
            return Err((
                format!("local_cloud.{key}"),
                "must be a port from 1 to 65535, got 0".into(),
            ));
        }
        if let Some((first, _)) = named[..i].iter().find(|(_, p)| p == port) {
            return Err((
                format!("local_cloud.{key}"),
                format!("port {port} is already `{first}`: each daemon needs its own port"),
            ));
        }
    }
    Ok(())
}

/// An endpoint: `http://` or `https://`, a host (a name, an IPv4 address or a bracketed IPv6
/// address), an optional port from 1 to 65535, an optional path; no spaces.
fn check_url(url: &str) -> Result<(), &'static str> {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .ok_or("it must start with http:// or https://")?;
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("it may not contain spaces or control characters");
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let (host_ok, port) = match authority.strip_prefix('[') {
        Some(bracketed) => match bracketed.split_once(']') {
            Some((v6, "")) => (v6.parse::<std::net::Ipv6Addr>().is_ok(), None),
            Some((v6, tail)) => (
                v6.parse::<std::net::Ipv6Addr>().is_ok(),
                Some(tail.strip_prefix(':').unwrap_or(tail)),
            ),
            None => (false, None),
        },
        None => {
            let (host, port) = match authority.split_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (authority, None),
            };
            let ok = !host.is_empty()
                && host
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
            (ok, port)
        }
    };
    if !host_ok {
        return Err("it needs a host name or address after the scheme");
    }
    if let Some(p) = port
        && !matches!(p.parse::<u16>(), Ok(n) if n > 0)
    {
        return Err("its port must be a number from 1 to 65535");
    }
    Ok(())
}

/// `[state] path`: a directory path, relative to the working directory or absolute, never under
/// the kernel's virtual file systems (`/proc`, `/sys`, `/dev`).
fn check_state_path(path: &str) -> Result<(), &'static str> {
    if path.trim().is_empty() {
        return Err("is empty: give the state directory, such as \".tandem/state\"");
    }
    if path.contains('\0') {
        return Err("contains a NUL character");
    }
    let p = Path::new(path);
    if p.is_absolute() {
        let first = p.components().find_map(|c| match c {
            std::path::Component::Normal(n) => Some(n),
            _ => None,
        });
        if let Some(first) = first
            && ["proc", "sys", "dev"].iter().any(|v| first == *v)
        {
            return Err(
                "is under /proc, /sys or /dev: the state needs a directory of a real file system",
            );
        }
    }
    Ok(())
}
