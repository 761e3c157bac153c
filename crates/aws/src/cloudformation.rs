//! `cloudformation:Stack`, `cloudformation:StackSet` and `cloudformation:StackInstance`.
//!
//! Stack-set operations run one at a time per stack set: the providers share [`StackSetLocks`], an
//! async mutex per stack set, and `OperationInProgressException` is retried by [`crate::call`].

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use aws_sdk_cloudformation::Client;
use aws_sdk_cloudformation::types::{
    Capability, Parameter, PermissionModels, RegionConcurrencyType, Stack,
    StackSetOperationPreferences, StackSetOperationStatus, StackStatus, Tag,
};
use tandem_core::{Props, ResourceAddr, Value};
use tandem_engine::provider::{ErrorClass, Identity, Observed, OpContext, Provider, ProviderError};
use tandem_schema::{cloudformation as schema, kinds};

use crate::call::call;
use crate::clients::AwsClients;
use crate::error::{CallError, OrCode, OrNotFound, ReadBack, deleted};
use crate::props::{
    PropsBuilder, all_tags, opt_i32, opt_str, region_of, req_str, schema_check, str_list, str_map,
};
use crate::wait::{self, Check};

/// The region a stack or stack set lives in: its address's region, or, for an account-level one
/// addressed `global` (a stack set's definition, a stack of IAM roles), its `region` input.
fn home_region(ctx: &OpContext, inputs: &Props) -> Result<String, ProviderError> {
    if ctx.addr.region().is_global() {
        return req_str(inputs, "region");
    }
    region_of(ctx)
}

fn parameters(m: &BTreeMap<String, String>) -> Vec<Parameter> {
    m.iter()
        .map(|(k, v)| {
            Parameter::builder()
                .parameter_key(k)
                .parameter_value(v)
                .build()
        })
        .collect()
}

fn cfn_tags(t: &BTreeMap<String, String>) -> Vec<Tag> {
    t.iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

/// A resource's live tags as pairs (stacks and stack sets share CloudFormation's `Tag`).
fn tag_pairs(tags: &[Tag]) -> impl Iterator<Item = (&str, &str)> {
    tags.iter().filter_map(|t| Some((t.key()?, t.value()?)))
}

fn capabilities(inputs: &Props) -> Result<Vec<Capability>, ProviderError> {
    Ok(str_list(inputs, "capabilities")?
        .iter()
        .map(|c| Capability::from(c.as_str()))
        .collect())
}

/// Live parameters, limited to the keys the program set (others carry template defaults).
fn live_parameters(live: &[Parameter], last: &Props, key: &str) -> Option<Value> {
    let wanted = last.get(key).and_then(Value::as_map);
    let m: BTreeMap<String, Value> = live
        .iter()
        .filter_map(|p| {
            Some((
                p.parameter_key()?.to_string(),
                p.parameter_value()?.to_string(),
            ))
        })
        .filter(|(k, _)| wanted.is_none_or(|w| w.contains_key(k)))
        .map(|(k, v)| (k, Value::str(v)))
        .collect();
    if wanted.is_some() || !m.is_empty() {
        Some(Value::Map(m))
    } else {
        None
    }
}

fn stack_outputs(stack: &Stack) -> Props {
    let mut o = PropsBuilder::new()
        .opt("stack_id", stack.stack_id())
        .build();
    for out in stack.outputs() {
        if let (Some(k), Some(v)) = (out.output_key(), out.output_value()) {
            o.insert(k.to_string(), Value::str(v));
        }
    }
    o
}

async fn describe_stack(
    clients: &AwsClients,
    cfn: &Client,
    name: &str,
) -> Result<Option<Stack>, CallError> {
    let res = call(clients.retry(), "cloudformation:DescribeStacks", || {
        cfn.describe_stacks().stack_name(name).send()
    })
    .await;
    match res {
        Ok(out) => Ok(out
            .stacks()
            .first()
            .filter(|s| s.stack_status() != Some(&StackStatus::DeleteComplete))
            .cloned()),
        // CloudFormation answers a missing stack with a ValidationError.
        Err(e) if e.has_code("ValidationError") && e.detail.contains("does not exist") => Ok(None),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e),
    }
}

/// Waits until the stack settles; `Ok(None)` when it is gone.
async fn wait_stack(
    clients: &AwsClients,
    cfn: &Client,
    name: &str,
) -> Result<Option<Stack>, CallError> {
    let w = clients.wait();
    wait::until(
        "cloudformation:DescribeStacks",
        &format!("stack {name} to settle"),
        w,
        w.cloudformation_timeout,
        || async {
            let Some(s) = describe_stack(clients, cfn, name).await? else {
                return Ok(Check::Done(None));
            };
            let status = s
                .stack_status()
                .map(|s| s.as_str().to_string())
                .unwrap_or_default();
            if status.ends_with("_IN_PROGRESS") {
                return Ok(Check::Pending(status));
            }
            if status.ends_with("_FAILED") || status.contains("ROLLBACK") {
                return Err(CallError::new(
                    "cloudformation:DescribeStacks",
                    ErrorClass::Other,
                    format!(
                        "stack {name} ended in {status}: {}",
                        s.stack_status_reason().unwrap_or("no reason given")
                    ),
                ));
            }
            Ok(Check::Done(Some(s)))
        },
    )
    .await
}

/// `cloudformation:Stack`.
pub struct StackProvider {
    clients: AwsClients,
}

impl StackProvider {
    pub fn new(clients: AwsClients) -> StackProvider {
        StackProvider { clients }
    }

    fn observed(stack: &Stack, last: &Props) -> Observed {
        let inputs = PropsBuilder::new()
            .set("stack_name", stack.stack_name().unwrap_or_default())
            // The template is not compared: CloudFormation may return it reformatted.
            .copy(last, "template_body")
            .copy(last, "capabilities")
            // Where an account-level stack lives; the address says it for regional ones.
            .copy(last, "region")
            .opt(
                "parameters",
                live_parameters(stack.parameters(), last, "parameters"),
            )
            .user_tags(last, tag_pairs(stack.tags()))
            .build();
        Observed {
            id: stack.stack_name().unwrap_or_default().to_string(),
            inputs,
            outputs: stack_outputs(stack),
        }
    }
}

#[async_trait]
impl Provider for StackProvider {
    fn kind(&self) -> &'static str {
        kinds::CLOUDFORMATION_STACK
    }

    fn replace_on(&self) -> &'static [&'static str] {
        &["stack_name"]
    }

    fn identity(&self) -> Identity {
        Identity::Named(&["stack_name"])
    }

    fn validate(&self, _addr: &ResourceAddr, inputs: &Props) -> Result<(), String> {
        schema_check(schema::validate_stack(inputs))
    }

    async fn create(&self, ctx: &OpContext, inputs: &Props) -> Result<Observed, ProviderError> {
        let region = home_region(ctx, inputs)?;
        let name = req_str(inputs, "stack_name")?;
        let body = req_str(inputs, "template_body")?;
        let params = parameters(&str_map(inputs, "parameters")?);
        let caps = capabilities(inputs)?;
        let tags = cfn_tags(&all_tags(ctx, inputs)?);
        let cfn = self.clients.cloudformation(&region).await;
        // Already there (an earlier attempt was interrupted): waited for like a new one.
        call(self.clients.retry(), "cloudformation:CreateStack", || {
            let mut req = cfn
                .create_stack()
                .stack_name(&name)
                .template_body(&body)
                .set_parameters(Some(params.clone()))
                .set_capabilities(Some(caps.clone()))
                .set_tags(Some(tags.clone()));
            if !ctx.token.is_empty() {
                req = req.client_request_token(&ctx.token);
            }
            req.send()
        })
        .await
        .or_code("AlreadyExistsException")?;
        let stack = wait_stack(&self.clients, &cfn, &name)
            .await?
            .found_after_create(|| {
                format!("cloudformation:DescribeStacks: stack {name} vanished after creation")
            })?;
        Ok(Self::observed(&stack, inputs))
    }

    async fn read(
        &self,
        ctx: &OpContext,
        id: &str,
        inputs: &Props,
    ) -> Result<Option<Observed>, ProviderError> {
        let region = home_region(ctx, inputs)?;
        let cfn = self.clients.cloudformation(&region).await;
        Ok(describe_stack(&self.clients, &cfn, id)
            .await?
            .map(|s| Self::observed(&s, inputs)))
    }

    async fn update(
        &self,
        ctx: &OpContext,
        id: &str,
        _old: &Props,
        new: &Props,
    ) -> Result<Observed, ProviderError> {
        let region = home_region(ctx, new)?;
        let body = req_str(new, "template_body")?;
        let params = parameters(&str_map(new, "parameters")?);
        let caps = capabilities(new)?;
        let tags = cfn_tags(&all_tags(ctx, new)?);
        let cfn = self.clients.cloudformation(&region).await;
        let res = call(self.clients.retry(), "cloudformation:UpdateStack", || {
            cfn.update_stack()
                .stack_name(id)
                .template_body(&body)
                .set_parameters(Some(params.clone()))
                .set_capabilities(Some(caps.clone()))
                .set_tags(Some(tags.clone()))
                .send()
        })
        .await;
        match res {
            Ok(_) => {}
            Err(e) if e.detail.contains("No updates are to be performed") => {}
            Err(e) => return Err(e.into()),
        }
        let stack = wait_stack(&self.clients, &cfn, id)
            .await?
            .found_after_update(|| format!("cloudformation:DescribeStacks: stack {id} vanished"))?;
        Ok(Self::observed(&stack, new))
    }

    async fn delete(&self, ctx: &OpContext, id: &str, inputs: &Props) -> Result<(), ProviderError> {
        let region = home_region(ctx, inputs)?;
        let cfn = self.clients.cloudformation(&region).await;
        if describe_stack(&self.clients, &cfn, id).await?.is_none() {
            return Ok(());
        }
        call(self.clients.retry(), "cloudformation:DeleteStack", || {
            cfn.delete_stack().stack_name(id).send()
        })
        .await
        .or_not_found()?;
        wait_stack(&self.clients, &cfn, id).await.or_not_found()?;
        Ok(())
    }

    async fn find(
        &self,
        ctx: &OpContext,
        inputs: &Props,
    ) -> Result<Option<Observed>, ProviderError> {
        let name = req_str(inputs, "stack_name")?;
        self.read(ctx, &name, inputs).await
    }
}

/// One async mutex per stack set (`REGION/NAME`): stack-set operations run one at a time.
#[derive(Clone, Default)]
pub struct StackSetLocks {
    inner: Arc<Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>>,
}

impl StackSetLocks {
    pub fn new() -> StackSetLocks {
        StackSetLocks::default()
    }

    pub async fn lock(&self, admin_region: &str, name: &str) -> tokio::sync::OwnedMutexGuard<()> {
        let m = {
            let mut map = self.inner.lock().unwrap_or_else(|p| p.into_inner());
            Arc::clone(map.entry(format!("{admin_region}/{name}")).or_default())
        };
        m.lock_owned().await
    }
}

/// Waits until a stack-set operation is done; fails with the reason when it fails.
async fn wait_operation(
    clients: &AwsClients,
    cfn: &Client,
    stack_set: &str,
    operation_id: &str,
) -> Result<(), CallError> {
    let w = clients.wait();
    wait::until(
        "cloudformation:DescribeStackSetOperation",
        &format!("stack-set operation {operation_id} on {stack_set}"),
        w,
        w.cloudformation_timeout,
        || async {
            let out = call(
                clients.retry(),
                "cloudformation:DescribeStackSetOperation",
                || {
                    cfn.describe_stack_set_operation()
                        .stack_set_name(stack_set)
                        .operation_id(operation_id)
                        .send()
                },
            )
            .await?;
            let op = out.stack_set_operation();
            match op.and_then(|o| o.status()) {
                Some(StackSetOperationStatus::Succeeded) => Ok(Check::Done(())),
                Some(s @ (StackSetOperationStatus::Failed | StackSetOperationStatus::Stopped)) => {
                    let reason = op
                        .and_then(|o| o.status_reason())
                        .unwrap_or("no reason given");
                    Err(CallError::new(
                        "cloudformation:DescribeStackSetOperation",
                        ErrorClass::Other,
                        format!(
                            "operation {operation_id} on stack set {stack_set} ended {}: {reason}",
                            s.as_str()
                        ),
                    ))
                }
                Some(s) => Ok(Check::Pending(s.as_str().to_string())),
                None => Ok(Check::Pending("unknown".into())),
            }
        },
    )
    .await
}

/// An operation id: the token, or a fresh one when there is none (refresh has no token).
fn operation_id(ctx: &OpContext, suffix: &str) -> String {
    let base = if ctx.token.is_empty() {
        format!("tandem-{}", std::process::id())
    } else {
        ctx.token.clone()
    };
    let id = format!("{base}-{suffix}");
    id.chars().take(128).collect()
}

/// `cloudformation:StackSet` (self-managed permissions).
pub struct StackSetProvider {
    clients: AwsClients,
    locks: StackSetLocks,
}

impl StackSetProvider {
    pub fn new(clients: AwsClients, locks: StackSetLocks) -> StackSetProvider {
        StackSetProvider { clients, locks }
    }

    async fn read_observed(
        &self,
        region: &str,
        name: &str,
        last: &Props,
    ) -> Result<Option<Observed>, ProviderError> {
        let cfn = self.clients.cloudformation(region).await;
        let Some(out) = call(
            self.clients.retry(),
            "cloudformation:DescribeStackSet",
            || cfn.describe_stack_set().stack_set_name(name).send(),
        )
        .await
        .or_not_found()?
        else {
            return Ok(None);
        };
        let Some(set) = out.stack_set() else {
            return Ok(None);
        };
        if set.status().map(|s| s.as_str()) == Some("DELETED") {
            return Ok(None);
        }
        let mut inputs = PropsBuilder::new()
            .set("stack_set_name", name)
            .opt("template_body", set.template_body().map(str::to_string))
            .opt(
                "parameters",
                live_parameters(set.parameters(), last, "parameters"),
            )
            .opt("administration_role_arn", set.administration_role_arn())
            .defaulted(
                last,
                "execution_role_name",
                Value::str(set.execution_role_name().unwrap_or("")),
                Value::str("AWSCloudFormationStackSetExecutionRole"),
            )
            .copy(last, "capabilities")
            .copy(last, "region")
            .opt("description", set.description().filter(|d| !d.is_empty()))
            .user_tags(last, tag_pairs(set.tags()))
            .build();
        // The template may come back reformatted; keep the program's text when it has one.
        if let Some(t) = last.get("template_body") {
            inputs.insert("template_body".into(), t.clone());
        }
        Ok(Some(Observed {
            id: name.to_string(),
            inputs,
            outputs: PropsBuilder::new()
                .set("stack_set_name", name)
                .opt("stack_set_id", set.stack_set_id())
                .opt("arn", set.stack_set_arn())
                .set("admin_region", region)
                .build(),
        }))
    }
}

#[async_trait]
impl Provider for StackSetProvider {
    fn kind(&self) -> &'static str {
        kinds::CLOUDFORMATION_STACK_SET
    }

    fn replace_on(&self) -> &'static [&'static str] {
        &["stack_set_name"]
    }

    fn identity(&self) -> Identity {
        Identity::Named(&["stack_set_name"])
    }

    fn validate(&self, _addr: &ResourceAddr, inputs: &Props) -> Result<(), String> {
        schema_check(schema::validate_stack_set(inputs))
    }

    async fn create(&self, ctx: &OpContext, inputs: &Props) -> Result<Observed, ProviderError> {
        let region = home_region(ctx, inputs)?;
        let name = req_str(inputs, "stack_set_name")?;
        let body = req_str(inputs, "template_body")?;
        let admin_role = req_str(inputs, "administration_role_arn")?;
        let exec_role = opt_str(inputs, "execution_role_name")?
            .unwrap_or_else(|| "AWSCloudFormationStackSetExecutionRole".into());
        let params = parameters(&str_map(inputs, "parameters")?);
        let caps = capabilities(inputs)?;
        let description = opt_str(inputs, "description")?;
        let tags = cfn_tags(&all_tags(ctx, inputs)?);
        let _guard = self.locks.lock(&region, &name).await;
        let cfn = self.clients.cloudformation(&region).await;
        call(
            self.clients.retry(),
            "cloudformation:CreateStackSet",
            || {
                let mut req = cfn
                    .create_stack_set()
                    .stack_set_name(&name)
                    .template_body(&body)
                    .permission_model(PermissionModels::SelfManaged)
                    .administration_role_arn(&admin_role)
                    .execution_role_name(&exec_role)
                    .set_parameters(Some(params.clone()))
                    .set_capabilities(Some(caps.clone()))
                    .set_description(description.clone())
                    .set_tags(Some(tags.clone()));
                if !ctx.token.is_empty() {
                    req = req.client_request_token(&ctx.token);
                }
                req.send()
            },
        )
        .await
        .or_code("NameAlreadyExistsException")?;
        self.read_observed(&region, &name, inputs)
            .await?
            .found_after_create(|| {
                format!("cloudformation:DescribeStackSet: {name} vanished after creation")
            })
    }

    async fn read(
        &self,
        ctx: &OpContext,
        id: &str,
        inputs: &Props,
    ) -> Result<Option<Observed>, ProviderError> {
        let region = home_region(ctx, inputs)?;
        self.read_observed(&region, id, inputs).await
    }

    /// `UpdateStackSet` updates the set and rolls the change out to its instances, one
    /// operation, waited for.
    async fn update(
        &self,
        ctx: &OpContext,
        id: &str,
        _old: &Props,
        new: &Props,
    ) -> Result<Observed, ProviderError> {
        let region = home_region(ctx, new)?;
        let body = req_str(new, "template_body")?;
        let admin_role = req_str(new, "administration_role_arn")?;
        let exec_role = opt_str(new, "execution_role_name")?
            .unwrap_or_else(|| "AWSCloudFormationStackSetExecutionRole".into());
        let params = parameters(&str_map(new, "parameters")?);
        let caps = capabilities(new)?;
        let description = opt_str(new, "description")?;
        let tags = cfn_tags(&all_tags(ctx, new)?);
        let op_id = operation_id(ctx, "update");
        let _guard = self.locks.lock(&region, id).await;
        let cfn = self.clients.cloudformation(&region).await;
        let res = call(
            self.clients.retry(),
            "cloudformation:UpdateStackSet",
            || {
                cfn.update_stack_set()
                    .stack_set_name(id)
                    .template_body(&body)
                    .permission_model(PermissionModels::SelfManaged)
                    .administration_role_arn(&admin_role)
                    .execution_role_name(&exec_role)
                    .set_parameters(Some(params.clone()))
                    .set_capabilities(Some(caps.clone()))
                    .set_description(description.clone())
                    .set_tags(Some(tags.clone()))
                    .operation_preferences(
                        StackSetOperationPreferences::builder()
                            .region_concurrency_type(RegionConcurrencyType::Sequential)
                            .build(),
                    )
                    .operation_id(&op_id)
                    .send()
            },
        )
        .await;
        // The same operation was started before (a retry or a resumed run): wait for it.
        let op = res
            .or_code("OperationIdAlreadyExistsException")?
            .and_then(|out| out.operation_id().map(str::to_string))
            .unwrap_or(op_id);
        wait_operation(&self.clients, &cfn, id, &op).await?;
        self.read_observed(&region, id, new)
            .await?
            .found_after_update(|| format!("cloudformation:DescribeStackSet: {id} vanished"))
    }

    async fn delete(&self, ctx: &OpContext, id: &str, inputs: &Props) -> Result<(), ProviderError> {
        let region = home_region(ctx, inputs)?;
        let _guard = self.locks.lock(&region, id).await;
        let cfn = self.clients.cloudformation(&region).await;
        let res = call(
            self.clients.retry(),
            "cloudformation:DeleteStackSet",
            || cfn.delete_stack_set().stack_set_name(id).send(),
        )
        .await;
        deleted(
            res,
            "StackSetNotEmptyException",
            "delete its stack instances first",
        )
    }

    async fn find(
        &self,
        ctx: &OpContext,
        inputs: &Props,
    ) -> Result<Option<Observed>, ProviderError> {
        let region = home_region(ctx, inputs)?;
        let name = req_str(inputs, "stack_set_name")?;
        self.read_observed(&region, &name, inputs).await
    }
}

/// `cloudformation:StackInstance`: one region's instance of a stack set, addressed in that
/// region, operated from the stack set's administration region.
pub struct StackInstanceProvider {
    clients: AwsClients,
    locks: StackSetLocks,
}

/// The operation [`StackInstanceProvider::run_operation`] runs on one stack instance.
#[derive(Clone, Copy, PartialEq)]
enum InstanceOp {
    Create,
    Update,
    Delete,
}

impl InstanceOp {
    /// The suffix of its operation id (see [`operation_id`]).
    fn suffix(self) -> &'static str {
        match self {
            InstanceOp::Create => "create",
            InstanceOp::Update => "update",
            InstanceOp::Delete => "delete",
        }
    }
}

struct InstanceKey {
    stack_set: String,
    admin_region: String,
    account: String,
    region: String,
}

impl StackInstanceProvider {
    pub fn new(clients: AwsClients, locks: StackSetLocks) -> StackInstanceProvider {
        StackInstanceProvider { clients, locks }
    }

    async fn key(&self, ctx: &OpContext, inputs: &Props) -> Result<InstanceKey, ProviderError> {
        let account = match opt_str(inputs, "account")? {
            Some(a) => a,
            None => {
                crate::sts::preflight_in(&self.clients, &region_of(ctx)?, None)
                    .await
                    .map_err(|e| ProviderError::new(e.class(), e.to_string()))?
                    .account
            }
        };
        Ok(InstanceKey {
            stack_set: req_str(inputs, "stack_set_name")?,
            admin_region: req_str(inputs, "admin_region")?,
            account,
            region: region_of(ctx)?,
        })
    }

    fn preferences(
        &self,
        inputs: &Props,
        region: &str,
    ) -> Result<StackSetOperationPreferences, ProviderError> {
        let mut order = str_list(inputs, "region_order")?;
        if order.is_empty() {
            order.push(region.to_string());
        }
        let concurrency =
            opt_str(inputs, "region_concurrency")?.unwrap_or_else(|| "SEQUENTIAL".into());
        Ok(StackSetOperationPreferences::builder()
            .region_concurrency_type(RegionConcurrencyType::from(concurrency.as_str()))
            .set_region_order(Some(order))
            .set_failure_tolerance_count(opt_i32(inputs, "failure_tolerance_count")?)
            .set_max_concurrent_count(opt_i32(inputs, "max_concurrent_count")?)
            .build())
    }

    /// Whether the stack set lists the instance (asked of the administration region only).
    async fn listed(&self, cfn: &Client, key: &InstanceKey) -> Result<bool, CallError> {
        let listed = call(
            self.clients.retry(),
            "cloudformation:ListStackInstances",
            || {
                cfn.list_stack_instances()
                    .stack_set_name(&key.stack_set)
                    .stack_instance_account(&key.account)
                    .stack_instance_region(&key.region)
                    .send()
            },
        )
        .await
        .or_not_found()?;
        Ok(listed.is_some_and(|l| {
            l.summaries().iter().any(|s| {
                s.account() == Some(key.account.as_str()) && s.region() == Some(key.region.as_str())
            })
        }))
    }

    async fn read_observed(
        &self,
        key: &InstanceKey,
        last: &Props,
    ) -> Result<Option<Observed>, ProviderError> {
        let cfn = self.clients.cloudformation(&key.admin_region).await;
        // Listed first: the local cloud answers DescribeStackInstance of a deleted instance with
        // HTTP 500 instead of StackInstanceNotFoundException.
        if !self.listed(&cfn, key).await? {
            return Ok(None);
        }
        let Some(out) = call(
            self.clients.retry(),
            "cloudformation:DescribeStackInstance",
            || {
                cfn.describe_stack_instance()
                    .stack_set_name(&key.stack_set)
                    .stack_instance_account(&key.account)
                    .stack_instance_region(&key.region)
                    .send()
            },
        )
        .await
        .or_not_found()?
        else {
            return Ok(None);
        };
        let Some(instance) = out.stack_instance() else {
            return Ok(None);
        };
        // The instance's stack, in the target region: by its id, else by the name the local
        // cloud gives it (`StackSet:<name>`).
        let target = self.clients.cloudformation(&key.region).await;
        let mut stack = None;
        if let Some(id) = instance.stack_id() {
            stack = describe_stack(&self.clients, &target, id).await?;
        }
        if stack.is_none() {
            stack = describe_stack(
                &self.clients,
                &target,
                &format!("StackSet:{}", key.stack_set),
            )
            .await?;
        }
        let mut outputs = stack.as_ref().map(stack_outputs).unwrap_or_default();
        if let Some(id) = instance.stack_id() {
            outputs
                .entry("stack_id".into())
                .or_insert_with(|| Value::str(id));
        }
        let inputs = PropsBuilder::new()
            .set("stack_set_name", key.stack_set.as_str())
            .set("admin_region", key.admin_region.as_str())
            .copy(last, "account")
            .opt(
                "parameter_overrides",
                live_parameters(instance.parameter_overrides(), last, "parameter_overrides"),
            )
            .copy(last, "region_order")
            .copy(last, "region_concurrency")
            .copy(last, "failure_tolerance_count")
            .copy(last, "max_concurrent_count")
            .build();
        Ok(Some(Observed {
            id: format!("{}/{}/{}", key.stack_set, key.account, key.region),
            inputs,
            outputs,
        }))
    }

    /// Runs one instance operation under the stack set's lock, its id from `ctx`'s token.
    async fn run_operation(
        &self,
        ctx: &OpContext,
        key: &InstanceKey,
        what: InstanceOp,
        inputs: &Props,
    ) -> Result<(), ProviderError> {
        let op_id = operation_id(ctx, what.suffix());
        let prefs = self.preferences(inputs, &key.region)?;
        let overrides = parameters(&str_map(inputs, "parameter_overrides")?);
        let _guard = self.locks.lock(&key.admin_region, &key.stack_set).await;
        let cfn = self.clients.cloudformation(&key.admin_region).await;
        let accounts = vec![key.account.clone()];
        let regions = vec![key.region.clone()];
        let res = match what {
            InstanceOp::Create => call(
                self.clients.retry(),
                "cloudformation:CreateStackInstances",
                || {
                    cfn.create_stack_instances()
                        .stack_set_name(&key.stack_set)
                        .set_accounts(Some(accounts.clone()))
                        .set_regions(Some(regions.clone()))
                        .set_parameter_overrides(Some(overrides.clone()))
                        .operation_preferences(prefs.clone())
                        .operation_id(&op_id)
                        .send()
                },
            )
            .await
            .map(|o| o.operation_id().map(str::to_string)),
            InstanceOp::Update => call(
                self.clients.retry(),
                "cloudformation:UpdateStackInstances",
                || {
                    cfn.update_stack_instances()
                        .stack_set_name(&key.stack_set)
                        .set_accounts(Some(accounts.clone()))
                        .set_regions(Some(regions.clone()))
                        .set_parameter_overrides(Some(overrides.clone()))
                        .operation_preferences(prefs.clone())
                        .operation_id(&op_id)
                        .send()
                },
            )
            .await
            .map(|o| o.operation_id().map(str::to_string)),
            InstanceOp::Delete => call(
                self.clients.retry(),
                "cloudformation:DeleteStackInstances",
                || {
                    cfn.delete_stack_instances()
                        .stack_set_name(&key.stack_set)
                        .set_accounts(Some(accounts.clone()))
                        .set_regions(Some(regions.clone()))
                        .operation_preferences(prefs.clone())
                        .retain_stacks(false)
                        .operation_id(&op_id)
                        .send()
                },
            )
            .await
            .map(|o| o.operation_id().map(str::to_string)),
        };
        let op = match res {
            Ok(id) => id.unwrap_or(op_id),
            // The same operation was started before (a retry or a resumed run): wait for it.
            Err(e) if e.has_code("OperationIdAlreadyExistsException") => op_id,
            // An earlier create made the instance (a run whose outcome was lost): the caller
            // adopts it (the local cloud answers so when it already has the instance's stack).
            Err(e) if what == InstanceOp::Create && e.has_code("AlreadyExistsException") => {
                return Ok(());
            }
            Err(e) if e.has_code("StackSetNotFoundException") => {
                return Err(ProviderError::new(
                    if what == InstanceOp::Delete {
                        ErrorClass::NotFound
                    } else {
                        ErrorClass::Invalid
                    },
                    format!(
                        "{e}: stack set {} does not exist in {}",
                        key.stack_set, key.admin_region
                    ),
                ));
            }
            Err(e) => return Err(e.into()),
        };
        wait_operation(&self.clients, &cfn, &key.stack_set, &op).await?;
        Ok(())
    }
}

#[async_trait]
impl Provider for StackInstanceProvider {
    fn kind(&self) -> &'static str {
        kinds::CLOUDFORMATION_STACK_INSTANCE
    }

    fn replace_on(&self) -> &'static [&'static str] {
        &["stack_set_name", "admin_region", "account"]
    }

    fn validate(&self, _addr: &ResourceAddr, inputs: &Props) -> Result<(), String> {
        schema_check(schema::validate_stack_instance(inputs))
    }

    /// Creates the instance, or adopts it when it is there already (made by a run whose outcome
    /// was lost), its parameter overrides brought to `inputs`.
    async fn create(&self, ctx: &OpContext, inputs: &Props) -> Result<Observed, ProviderError> {
        let key = self.key(ctx, inputs).await?;
        let existing = match self.read_observed(&key, inputs).await? {
            Some(obs) => Some(obs),
            None => {
                self.run_operation(ctx, &key, InstanceOp::Create, inputs)
                    .await?;
                None
            }
        };
        let obs = match existing {
            Some(obs) => obs,
            None => self.wait_listed(&key, inputs).await?,
        };
        if obs.inputs.get("parameter_overrides") == inputs.get("parameter_overrides") {
            return Ok(obs);
        }
        self.run_operation(ctx, &key, InstanceOp::Update, inputs)
            .await?;
        self.read_observed(&key, inputs)
            .await?
            .found_after_update(|| {
                "cloudformation:DescribeStackInstance: the instance vanished".into()
            })
    }

    async fn read(
        &self,
        ctx: &OpContext,
        _id: &str,
        inputs: &Props,
    ) -> Result<Option<Observed>, ProviderError> {
        let key = self.key(ctx, inputs).await?;
        self.read_observed(&key, inputs).await
    }

    async fn update(
        &self,
        ctx: &OpContext,
        _id: &str,
        _old: &Props,
        new: &Props,
    ) -> Result<Observed, ProviderError> {
        let key = self.key(ctx, new).await?;
        self.run_operation(ctx, &key, InstanceOp::Update, new)
            .await?;
        self.read_observed(&key, new).await?.found_after_update(|| {
            "cloudformation:DescribeStackInstance: the instance vanished".into()
        })
    }

    async fn delete(
        &self,
        ctx: &OpContext,
        _id: &str,
        inputs: &Props,
    ) -> Result<(), ProviderError> {
        let key = self.key(ctx, inputs).await?;
        // Whether there is anything to delete is the administration region's to say: the stack
        // in the instance's own region is not read.
        let cfn = self.clients.cloudformation(&key.admin_region).await;
        if !self.listed(&cfn, &key).await? {
            return Ok(());
        }
        match self
            .run_operation(ctx, &key, InstanceOp::Delete, inputs)
            .await
        {
            Ok(()) => Ok(()),
            Err(e) if e.class == ErrorClass::NotFound => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// The instance of the stack set in the account and region, however it was made; or, when it
    /// is not listed yet but a create of it is under way (the operation this token started, or
    /// the instance's stack that the local cloud makes before it lists the instance), the
    /// instance once that create ends.
    async fn find(
        &self,
        ctx: &OpContext,
        inputs: &Props,
    ) -> Result<Option<Observed>, ProviderError> {
        let key = self.key(ctx, inputs).await?;
        if let Some(obs) = self.read_observed(&key, inputs).await? {
            return Ok(Some(obs));
        }
        if self.create_under_way(ctx, &key).await? {
            return self.wait_listed(&key, inputs).await.map(Some);
        }
        Ok(None)
    }

    fn identity(&self) -> Identity {
        Identity::Named(&["stack_set_name", "admin_region", "account"])
    }
}

impl StackInstanceProvider {
    /// Whether a create of the instance has begun without the instance being listed yet.
    async fn create_under_way(
        &self,
        ctx: &OpContext,
        key: &InstanceKey,
    ) -> Result<bool, ProviderError> {
        let cfn = self.clients.cloudformation(&key.admin_region).await;
        if !ctx.token.is_empty() {
            let op_id = operation_id(ctx, InstanceOp::Create.suffix());
            let op = call(
                self.clients.retry(),
                "cloudformation:DescribeStackSetOperation",
                || {
                    cfn.describe_stack_set_operation()
                        .stack_set_name(&key.stack_set)
                        .operation_id(&op_id)
                        .send()
                },
            )
            .await;
            let started = match op {
                Ok(o) => o.stack_set_operation().is_some(),
                // The local cloud answers an unknown operation with a ValidationError.
                Err(e)
                    if e.is_not_found()
                        || e.has_code("OperationNotFoundException")
                        || (e.has_code("ValidationError")
                            && e.detail.contains("does not exist")) =>
                {
                    false
                }
                Err(e) => return Err(e.into()),
            };
            if started {
                return Ok(true);
            }
        }
        let target = self.clients.cloudformation(&key.region).await;
        let stack = describe_stack(
            &self.clients,
            &target,
            &format!("StackSet:{}", key.stack_set),
        )
        .await?;
        Ok(stack.is_some())
    }

    /// The instance once the stack set lists it (a create's operation may still be running).
    async fn wait_listed(
        &self,
        key: &InstanceKey,
        inputs: &Props,
    ) -> Result<Observed, ProviderError> {
        let w = self.clients.wait();
        // Bounded well below a stack's time-out: an instance whose stack exists but that is
        // never listed is reported, not waited on for an hour.
        let timeout = w
            .cloudformation_timeout
            .min(std::time::Duration::from_secs(120));
        let found = wait::until(
            "cloudformation:ListStackInstances",
            &format!(
                "the instance of stack set {} in {} to be listed",
                key.stack_set, key.region
            ),
            w,
            timeout,
            || async {
                match self.read_observed(key, inputs).await {
                    Ok(Some(obs)) => Ok(Check::Done(obs)),
                    Ok(None) => Ok(Check::Pending("not listed".into())),
                    Err(e) => Err(CallError::new(
                        "cloudformation:ListStackInstances",
                        e.class,
                        e.message,
                    )),
                }
            },
        )
        .await?;
        Ok(found)
    }
}
